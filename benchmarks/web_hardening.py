"""What the web hardening costs per request: security headers on every response, and the log filter
that masks caller numbers in every line (the access log writes one line per request).

    .venv/bin/python benchmarks/web_hardening.py [--requests 5000] [--lines 50000]

Requests go through the daemon's real Site and request class (static file, a 404, a redirect), over an
in-memory transport, once as shipped and once with the headers step disabled (the baseline, same run).
Log lines go through the real handler and formatter with and without ``mask_personal``. Prints figures
and ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import logging
import time
from types import SimpleNamespace
from typing import Any

from twisted.internet.testing import StringTransport
from twisted.web.resource import Resource
from twisted.web.static import Data

from callcenter.logs import setup_logging
from callcenter.web import security, server

ROUNDS = 5
REQUESTS = [
    b"GET /app/static/style.css HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n",
]


def _site() -> Any:
    daemon = SimpleNamespace(config=SimpleNamespace(desk=None, web=SimpleNamespace(trusted_proxies=("127.0.0.1",))),
                             web_mounts={})
    app = Resource()
    static = Resource()
    static.putChild(b"style.css", Data(b"body{font-family:sans-serif}" * 40, "text/css"))
    app.putChild(b"static", static)
    daemon.web_mounts["app"] = app
    # the ops API is mounted too, but never asked here
    site = server.make_site(daemon)  # type: ignore[arg-type]
    site.log = lambda request: None  # the access log is measured separately below
    return site


def _serve(site: Any, n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        proto = site.buildProtocol(None)
        transport = StringTransport()
        proto.makeConnection(transport)
        proto.dataReceived(REQUESTS[i % len(REQUESTS)])
        assert transport.value().startswith(b"HTTP/1.1 ")
        proto.connectionLost(None)
    return time.perf_counter() - start


def bench_requests(n: int) -> tuple[float, float]:
    site = _site()
    _serve(site, 200)  # warm up
    original = security.prepare

    def bare(request: Any, trusted: tuple[str, ...]) -> None:
        request.cc_client, request.cc_https = "127.0.0.1", False

    shipped, baseline = [], []
    for _ in range(ROUNDS):  # alternate, so a busy moment of the machine hits both alike
        shipped.append(_serve(site, n))
        security.prepare = bare  # type: ignore[assignment]
        try:
            baseline.append(_serve(site, n))
        finally:
            security.prepare = original  # type: ignore[assignment]
    return min(shipped), min(baseline)


def bench_logs(n: int) -> tuple[float, float]:
    setup_logging("info", "console")
    handler = logging.getLogger().handlers[0]
    handler.stream = io.StringIO()  # type: ignore[attr-defined]
    log = logging.getLogger("twisted")
    line = ('127.0.0.1 - - [01/Dec/2026:03:00:00 +0000] "GET /app/duplicates.json?caller_number=13800138000'
            '&address=%E4%B8%AD%E5%B1%B1%E8%B7%AF HTTP/1.1" 200 2 "-" "Mozilla/5.0"')

    def run() -> float:
        handler.stream = io.StringIO()  # type: ignore[attr-defined]
        start = time.perf_counter()
        for _ in range(n):
            log.info(line)
        return time.perf_counter() - start

    run()
    filters = list(handler.filters)
    shipped, baseline = [], []
    for _ in range(ROUNDS):
        shipped.append(run())
        assert "13800138000" not in handler.stream.getvalue()  # type: ignore[attr-defined]
        handler.filters = [f for f in filters if getattr(f, "name", "") != "mask_personal"]
        try:
            baseline.append(run())
        finally:
            handler.filters = filters
    return min(shipped), min(baseline)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--lines", type=int, default=50000)
    args = parser.parse_args()
    shipped, baseline = bench_requests(args.requests)
    print(f"requests through the Site ({args.requests}, best of 5): with headers {shipped / args.requests * 1e6:.1f} "
          f"µs/request, without {baseline / args.requests * 1e6:.1f} µs/request, ratio {shipped / baseline:.3f}")
    shipped, baseline = bench_logs(args.lines)
    print(f"access-log lines ({args.lines}, best of 5): with mask_personal {shipped / args.lines * 1e6:.1f} µs/line, "
          f"without {baseline / args.lines * 1e6:.1f} µs/line, ratio {shipped / baseline:.3f}")


if __name__ == "__main__":
    main()
