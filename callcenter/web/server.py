"""The daemon's HTTP site: mounts each web part under its prefix."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from twisted.web.resource import Resource
from twisted.web.server import Request, Site
from twisted.web.util import Redirect

from callcenter.web import security
from callcenter.web.ops_api import OpsApi

if TYPE_CHECKING:
    from callcenter.daemon import Daemon


class _Root(Resource):
    def __init__(self) -> None:
        super().__init__()

    def render_GET(self, request: Any) -> bytes:
        request.setResponseCode(404)
        return b"not found"


class _LimitedRequest(Request):
    """A request whose body may not exceed ``max_body`` bytes (413 otherwise, nothing buffered)."""

    max_body = 20 * 1024 * 1024

    def gotLength(self, length: int | None) -> None:
        self._body_seen = 0
        self._too_big = length is not None and length > self.max_body
        super().gotLength(0 if self._too_big else length)

    def handleContentChunk(self, data: bytes) -> None:
        self._body_seen += len(data)
        if self._too_big or self._body_seen > self.max_body:
            self._too_big = True
            return
        super().handleContentChunk(data)

    # The hotline's language for the refusal (people read it: a citizen's photos can be too big).
    language = "zh"
    # web.trusted_proxies (their X-Forwarded-For/-Proto are believed)
    trusted_proxies: tuple[str, ...] = ()

    def process(self) -> None:
        # Before any resource runs: security headers on every response (static files, redirects,
        # 404s, ops and IVR routes included), HSTS on HTTPS, the real client behind a trusted proxy.
        security.prepare(self, self.trusted_proxies)
        if getattr(self, "_too_big", False):
            self.setResponseCode(413)
            self._refuse_too_large()
            self.finish()
            return
        super().process()

    def _refuse_too_large(self) -> None:
        import json

        from callcenter.desk.i18n import Translator, pick_language
        from callcenter.errors import Refusal

        query = (self.args.get(b"lang") or [b""])[0].decode("latin-1") or None
        cookie = (self.getCookie(b"cc_lang") or b"").decode("latin-1") or None
        accept = (self.getHeader(b"accept-language") or "") if self.path.startswith(b"/api/") else None
        text = Translator(pick_language(query, cookie, accept, self.language)).refusal(Refusal("too_large"))
        if self.path.startswith((b"/api/", b"/ops/", b"/ivr/")):
            self.setHeader(b"content-type", b"application/json; charset=utf-8")
            self.write(json.dumps({"error": text, "error_id": "too_large"}, ensure_ascii=False).encode())
        else:
            self.setHeader(b"content-type", b"text/plain; charset=utf-8")
            self.write(text.encode())


def _masked_access_line(timestamp: str, request: Any) -> str:
    """Twisted's combined log line with personal data (numbers) masked."""
    from twisted.web.http import combinedLogFormatter

    from callcenter.logs import mask_text

    return mask_text(combinedLogFormatter(timestamp, request))


def make_site(daemon: Daemon) -> Site:
    mounts = getattr(daemon, "web_mounts", {})
    root = _Root()
    if "app" in mounts:  # the people's pages are the start page
        root.putChild(b"", Redirect(b"/app/"))
    ops = OpsApi(daemon).app.resource()
    root.putChild(b"ops", ops)
    for prefix, resource in mounts.items():
        root.putChild(prefix.encode(), resource)
    # Access lines go to a file in the data directory, not the console (the console is for the daemon's own log).
    # Masked like every other log line: query strings carry caller numbers (personal data).
    data_path = getattr(daemon.config, "data_path", None)
    log_path = None
    if data_path is not None:
        Path(data_path).mkdir(parents=True, exist_ok=True)
        log_path = str(Path(data_path) / "access.log")
    site = Site(root, logPath=log_path, logFormatter=_masked_access_line)
    desk = getattr(daemon.config, "desk", None)
    site.requestFactory = type("Request", (_LimitedRequest,), {
        "max_body": desk.max_body_bytes if desk is not None else _LimitedRequest.max_body,
        "language": desk.language if desk is not None else _LimitedRequest.language,
        "trusted_proxies": tuple(getattr(daemon.config.web, "trusted_proxies", ()))})
    site.displayTracebacks = False
    return site


def tls_context(certificate: str | None, key: str | None) -> Any:
    """The TLS context for ``web.tls_certificate``/``web.tls_key`` (PEM; the certificate file may hold
    the chain). Refuses to start on a missing or mismatched pair rather than serve plain HTTP."""
    from pathlib import Path

    from twisted.internet import ssl

    if not certificate or not key:
        raise ValueError("web.tls_certificate and web.tls_key go together")
    cert_pem, key_pem = Path(certificate).read_bytes(), Path(key).read_bytes()
    # loadPEM reads the (first) certificate and the key from one PEM text and checks they match.
    return ssl.PrivateCertificate.loadPEM(cert_pem + b"\n" + key_pem).options()
