"""Ops routes of the IVR, mounted at ``/ivr`` (same bearer token as ``/ops``).

* ``POST /ivr/reload``: validate and swap in ``ivr_flows/`` (what ``callcenter ivr reload`` calls);
* ``GET /ivr/flows``, ``GET /ivr/flows/<name>.svg|.png``: the flows in force, as pictures;
* ``GET /ivr/stats``: AGI round-trip latency and sessions (``?reset=1`` starts a new sample);
* ``PUT /ivr/clock`` ``{"now": epoch | null}``: only with ``ivr.allow_clock_override`` (tests).
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import TYPE_CHECKING, Any

from klein import Klein
from twisted.internet import defer, threads

from callcenter.ivr import graph
from callcenter.web.ops_api import json_response, ops_denied

if TYPE_CHECKING:
    from callcenter.ivr.plugin import IvrPlugin


class IvrApi:
    app = Klein()

    def __init__(self, plugin: IvrPlugin) -> None:
        self.plugin = plugin

    def _denied(self, request: Any) -> bytes | None:
        return ops_denied(request, self.plugin.config.web.ops_token)

    @app.route("/reload", methods=["POST"])
    def reload(self, request: Any) -> Any:
        denied = self._denied(request)
        if denied:
            return denied
        d = defer.Deferred.fromFuture(asyncio.ensure_future(self.plugin.reload()))
        return d.addCallback(lambda res: json_response(request, res, 200 if res["ok"] else 422))

    @app.route("/flows", methods=["GET"])
    def flows(self, request: Any) -> bytes:
        current = self.plugin.registry.current
        return self._denied(request) or json_response(request, {
            "version": current.version,
            "flows": {n: {"file": f.file, "start": f.start, "nodes": len(f.nodes), "description": f.description}
                      for n, f in sorted(current.flows.items())},
        })

    @app.route("/flows/<string:filename>", methods=["GET"])
    def picture(self, request: Any, filename: str) -> Any:
        denied = self._denied(request)
        if denied:
            return denied
        name, _, fmt = filename.rpartition(".")
        flow = self.plugin.registry.current.flows.get(name)
        if flow is None or fmt not in ("svg", "png", "dot"):
            return json_response(request, {"error": f"no flow picture {filename!r}"}, 404)
        text = graph.to_dot(flow)
        if fmt == "dot":
            request.setHeader(b"content-type", b"text/vnd.graphviz; charset=utf-8")
            return text.encode()
        request.setHeader(b"content-type", b"image/svg+xml" if fmt == "svg" else b"image/png")
        return threads.deferToThread(graph.render, text, fmt)

    @app.route("/stats", methods=["GET"])
    def stats(self, request: Any) -> bytes:
        reset = request.args.get(b"reset", [b"0"])[0] == b"1"
        return self._denied(request) or json_response(request, self.plugin.stats(reset=reset))

    @app.route("/clock", methods=["PUT"])
    def clock(self, request: Any) -> bytes:
        denied = self._denied(request)
        if denied:
            return denied
        if not self.plugin.config.ivr.allow_clock_override:
            return json_response(request, {"error": "ivr.allow_clock_override is off"}, 403)
        try:
            body = json.loads(request.content.read() or b"{}")
            now = body.get("now")
            # a number of seconds, not a bool, NaN or infinity
            if now is not None and (isinstance(now, bool) or not isinstance(now, (int, float))
                                    or not math.isfinite(now) or not 0 <= now < 2**33):
                raise ValueError(now)
            self.plugin.clock.set_now(None if now is None else float(now))
        except (ValueError, TypeError, AttributeError, RecursionError):
            return json_response(request, {"error": 'body must be {"now": <epoch seconds> | null}'}, 400)
        return json_response(request, {"now": self.plugin.clock.now(), "offset_s": self.plugin.clock.offset_s})
