"""What every HTTP response of the daemon carries, and who the client really is behind a proxy.

The site's request class (:mod:`callcenter.web.server`) calls :func:`prepare` before any resource
runs, so static files, redirects, 404s, the ops API and the IVR's routes get the same headers as
the pages. ``X-Forwarded-For``/``-Proto`` are believed only from ``web.trusted_proxies``.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any

SECURITY_HEADERS: dict[bytes, bytes] = {
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"same-origin",
    b"content-security-policy": (b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                 b"media-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
                                 b"form-action 'self'"),
}
_HEADER_ITEMS = tuple(SECURITY_HEADERS.items())
# One year; only ever sent on HTTPS (browsers ignore it on plain HTTP anyway).
HSTS = b"max-age=31536000"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=32)
def networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    """``web.trusted_proxies`` (addresses or CIDR blocks) as networks."""
    return tuple(ipaddress.ip_network(t.strip(), strict=False) for t in trusted if t.strip())


@lru_cache(maxsize=4096)
def _trusted(host: str, nets: tuple[Network, ...]) -> bool:
    # Cached: the same few proxies and clients ask again and again (bounded, so floods cannot grow it).
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(ip in n for n in nets)


def forwarded(peer: str, secure: bool, x_forwarded_for: str, x_forwarded_proto: str,
              trusted: tuple[str, ...]) -> tuple[str, bool]:
    """(client address, HTTPS?) of a request from ``peer``.

    Only when ``peer`` is a trusted proxy: the right-most address of X-Forwarded-For that is not itself
    a trusted proxy (what each proxy appended), and X-Forwarded-Proto's first value.
    """
    nets = networks(trusted)
    if not nets or not _trusted(peer, nets):
        return peer, secure
    client = peer
    for hop in reversed([h.strip() for h in x_forwarded_for.split(",") if h.strip()][-16:]):
        client = hop[:64]
        if not _trusted(hop, nets):
            break
    proto = x_forwarded_proto.split(",")[0].strip().lower()
    return client, (proto == "https") if proto else secure


def prepare(request: Any, trusted: tuple[str, ...]) -> None:
    """Set ``request.cc_client`` / ``request.cc_https`` and the security headers (HSTS on HTTPS)."""
    peer = getattr(request.getClientAddress(), "host", "") or ""
    xff = (request.getHeader(b"x-forwarded-for") or b"").decode("latin-1") if trusted else ""
    xfp = (request.getHeader(b"x-forwarded-proto") or b"").decode("latin-1") if trusted else ""
    request.cc_client, request.cc_https = forwarded(peer, request.isSecure(), xff, xfp, trusted)
    headers = request.responseHeaders
    for k, v in _HEADER_ITEMS:
        headers.setRawHeaders(k, [v])
    if request.cc_https:
        headers.setRawHeaders(b"strict-transport-security", [HSTS])
