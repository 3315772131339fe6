"""The daemon's HTTP site: mounts each web part under its prefix."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.web.resource import Resource
from twisted.web.server import Site

from callcenter.web.ops_api import OpsApi

if TYPE_CHECKING:
    from callcenter.daemon import Daemon


class _Root(Resource):
    def __init__(self) -> None:
        super().__init__()

    def render_GET(self, request: Any) -> bytes:
        request.setResponseCode(404)
        return b"not found"


def make_site(daemon: Daemon) -> Site:
    root = _Root()
    ops = OpsApi(daemon).app.resource()
    root.putChild(b"ops", ops)
    for prefix, resource in getattr(daemon, "web_mounts", {}).items():
        root.putChild(prefix.encode(), resource)
    site = Site(root)
    site.displayTracebacks = False
    return site
