"""Ops API: health, live board and Prometheus metrics, for holders of the ops token.

Every route is authenticated: ``Authorization: Bearer <web.ops_token>``.
"""

from __future__ import annotations

import hmac
import json
import time
from typing import TYPE_CHECKING, Any

from klein import Klein
from prometheus_client import generate_latest

if TYPE_CHECKING:
    from callcenter.daemon import Daemon


def bearer_ok(request: Any, token: str) -> bool:
    """True when the request carries ``Authorization: Bearer <token>`` (constant-time compare)."""
    header = (request.getHeader(b"authorization") or b"").decode("latin-1")
    scheme, _, given = header.partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


def ops_denied(request: Any, token: str) -> bytes | None:
    """None when the request carries the ops token, else a 401 body to return."""
    if bearer_ok(request, token):
        return None
    request.setHeader(b"www-authenticate", b'Bearer realm="callcenter"')
    return json_response(request, {"error": "authentication required"}, 401)


def json_response(request: Any, body: Any, code: int = 200) -> bytes:
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"application/json; charset=utf-8")
    request.setHeader(b"cache-control", b"no-store")
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


class OpsApi:
    app = Klein()

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    def _denied(self, request: Any) -> bytes | None:
        return ops_denied(request, self.daemon.config.web.ops_token)

    @app.route("/health", methods=["GET"])
    def health(self, request: Any) -> bytes:
        return self._denied(request) or json_response(request, self.daemon.health())

    @app.route("/live", methods=["GET"])
    def live(self, request: Any) -> bytes:
        return self._denied(request) or json_response(request, self.daemon.live.view(time.time()))

    @app.route("/kpi/service-level", methods=["GET"])
    def service_level(self, request: Any) -> Any:
        """The same JSON as ``callcenter kpi service-level --json`` (?since=&until=&queue=)."""
        denied = self._denied(request)
        if denied:
            return denied
        from callcenter.calls.queries import queue_entries
        from callcenter.kpi.service_level import compute
        from callcenter.times import parse_time

        config = self.daemon.config

        def arg(name: str) -> str | None:
            values = request.args.get(name.encode())
            return values[0].decode("utf-8", "replace") if values else None

        try:
            since = parse_time(arg("since"), config.timezone)
            until = parse_time(arg("until"), config.timezone)
        except ValueError as exc:
            return json_response(request, {"error": str(exc)}, 400)
        queue = arg("queue")
        if queue is not None and queue not in {q.name for q in config.queues}:  # only configured queues
            return json_response(request, {"error": "unknown queue", "queues": [q.name for q in config.queues]}, 400)

        def work(session: Any) -> dict[str, Any]:
            entries = queue_entries(session, since, until, queue)
            return compute(entries, config.kpi.threshold_s, config.kpi.short_abandon_grace_s,
                           {q.name: q.servicelevel for q in config.queues},
                           default_servicelevel=config.kpi.threshold_s).as_json()

        return self.daemon.db.run_session(work).addCallback(lambda body: json_response(request, body))

    @app.route("/metrics", methods=["GET"])
    def metrics(self, request: Any) -> bytes:
        denied = self._denied(request)
        if denied:
            return denied
        m = self.daemon.metrics
        m.writer_backlog.set(self.daemon.writer.backlog)
        m.db_ok.set(1 if self.daemon.writer.db_ok else 0)
        for queue, view in self.daemon.live.view(time.time())["queues"].items():
            m.waiting.labels(queue).set(len(view["waiting"]))
        request.setHeader(b"content-type", b"text/plain; version=0.0.4")
        return generate_latest(m.registry)
