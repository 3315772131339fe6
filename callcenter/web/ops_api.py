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
        """The live state as JSON; caller numbers masked unless ``?show_numbers=1``."""
        denied = self._denied(request)
        if denied:
            return denied
        show = (request.args.get(b"show_numbers") or [b""])[0] == b"1"
        return json_response(request, self.daemon.live.view(time.time(), masked=not show))

    @app.route("/kpi/service-level", methods=["GET"])
    def service_level(self, request: Any) -> Any:
        """The same JSON as ``callcenter kpi service-level --json`` (?since=&until=&queue=)."""
        denied = self._denied(request)
        if denied:
            return denied
        from callcenter.calls.queries import stay_facts
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
            return compute(stay_facts(session, since, until, queue), config.kpi.threshold_s,
                           config.kpi.short_abandon_grace_s, {q.name: q.servicelevel for q in config.queues},
                           default_servicelevel=config.kpi.threshold_s, grouped=True).as_json()

        return self.daemon.db.run_session(work).addCallback(lambda body: json_response(request, body))

    def _kpi_window(self, request: Any) -> Any:
        from callcenter.kpi.registry import Window
        from callcenter.times import parse_time

        def arg(name: str) -> str | None:
            values = request.args.get(name.encode())
            return values[0].decode("utf-8", "replace") if values else None

        tz = self.daemon.config.timezone
        return Window(parse_time(arg("since"), tz), parse_time(arg("until"), tz))

    @app.route("/kpi/all", methods=["GET"])
    def kpi_all(self, request: Any) -> Any:
        """The same JSON as ``callcenter kpi all --json`` (?since=&until=)."""
        denied = self._denied(request)
        if denied:
            return denied
        from callcenter.kpi.registry import compute_all

        try:
            window = self._kpi_window(request)
        except ValueError as exc:
            return json_response(request, {"error": str(exc)}, 400)
        config = self.daemon.config
        return self.daemon.db.run_session(lambda session: compute_all(session, window, config)).addCallback(
            lambda body: json_response(request, body))

    @app.route("/kpi/<string:kpi>/cases", methods=["GET"])
    def kpi_cases(self, request: Any, kpi: str) -> Any:
        """The records a KPI counted (?since=&until=&failed=1&limit=N, at most 10000), as JSON."""
        denied = self._denied(request)
        if denied:
            return denied
        from callcenter.kpi.registry import get

        try:
            definition = get(kpi[:64])
            window = self._kpi_window(request)
            limit = min(int((request.args.get(b"limit") or [b"1000"])[0]), 10_000)
        except KeyError:
            return json_response(request, {"error": "unknown KPI"}, 404)
        except ValueError as exc:
            return json_response(request, {"error": str(exc)}, 400)
        if definition.cases is None:
            return json_response(request, {"error": "not measured", "reason": definition.unavailable}, 409)
        failed = (request.args.get(b"failed") or [b""])[0] in (b"1", b"true")
        config = self.daemon.config

        def work(session: Any) -> dict[str, Any]:
            out = []
            for case in definition.cases(session, window, config):  # type: ignore[misc]
                if failed and case.ok:
                    continue
                out.append({"kind": case.kind, "id": case.id, "ok": case.ok, "at": case.at, "note": case.note})
                if len(out) >= limit:
                    break
            return {"kpi": definition.id, "key": definition.key, "cases": out, "truncated": len(out) >= limit}

        return self.daemon.db.run_session(work).addCallback(lambda body: json_response(request, body))

    @app.route("/metrics", methods=["GET"])
    def metrics(self, request: Any) -> bytes:
        denied = self._denied(request)
        if denied:
            return denied
        m = self.daemon.metrics
        m.writer_backlog.set(self.daemon.writer.backlog)
        m.db_ok.set(1 if self.daemon.writer.db_ok else 0)
        m.dead_letters.set(self.daemon.writer.dead_letters_since_start)
        m.journal_ok.set(1 if self.daemon.writer.journal_ok else 0)
        m.background_failures.set(self.daemon.supervisor.failures)
        for queue, view in self.daemon.live.view(time.time())["queues"].items():
            m.waiting.labels(queue).set(len(view["waiting"]))
        request.setHeader(b"content-type", b"text/plain; version=0.0.4")
        return generate_latest(m.registry)
