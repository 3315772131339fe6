"""The daemon's HTTP site: mounts each web part under its prefix."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.web.resource import Resource
from twisted.web.server import Request, Site
from twisted.web.util import Redirect

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

    def process(self) -> None:
        if getattr(self, "_too_big", False):
            self.setResponseCode(413)
            self.setHeader(b"content-type", b"text/plain; charset=utf-8")
            self.write(b"request body too large")
            self.finish()
            return
        super().process()


def make_site(daemon: Daemon) -> Site:
    mounts = getattr(daemon, "web_mounts", {})
    root = _Root()
    if "app" in mounts:  # the people's pages are the start page
        root.putChild(b"", Redirect(b"/app/"))
    ops = OpsApi(daemon).app.resource()
    root.putChild(b"ops", ops)
    for prefix, resource in mounts.items():
        root.putChild(prefix.encode(), resource)
    site = Site(root)
    desk = getattr(daemon.config, "desk", None)
    site.requestFactory = type("Request", (_LimitedRequest,), {
        "max_body": desk.max_body_bytes if desk is not None else _LimitedRequest.max_body})
    site.displayTracebacks = False
    return site
