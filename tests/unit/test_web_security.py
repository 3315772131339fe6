"""Security headers on every response of the Site, trusted proxies, TLS context, static files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from twisted.internet.testing import StringTransport
from twisted.web.resource import Resource

from callcenter.desk.http import cookie_secure
from callcenter.desk.pages import StaticFiles
from callcenter.web import security, server

TRUSTED = ("127.0.0.2/32", "10.0.0.0/8")


@pytest.mark.parametrize("peer, xff, xfp, expected", [
    ("127.0.0.2", "198.51.100.7", "https", ("198.51.100.7", True)),
    ("127.0.0.2", "198.51.100.7, 10.1.1.1", "", ("198.51.100.7", False)),  # the chain of trusted proxies
    ("127.0.0.3", "198.51.100.7", "https", ("127.0.0.3", False)),  # anyone else: ignored
    ("127.0.0.2", "", "", ("127.0.0.2", False)),
])
def test_forwarded(peer: str, xff: str, xfp: str, expected: tuple[str, bool]) -> None:
    assert security.forwarded(peer, False, xff, xfp, TRUSTED) == expected


def _serve(raw: bytes, static_dir: Path) -> bytes:
    daemon = SimpleNamespace(config=SimpleNamespace(desk=None, web=SimpleNamespace(trusted_proxies=())),
                             web_mounts={})
    app = Resource()
    app.putChild(b"static", StaticFiles(str(static_dir)))
    daemon.web_mounts["app"] = app
    site = server.make_site(daemon)  # type: ignore[arg-type]
    proto = site.buildProtocol(None)
    transport = StringTransport()
    proto.makeConnection(transport)
    proto.dataReceived(raw)
    out: bytes = transport.value()
    proto.connectionLost(None)
    return out


# (a static file itself is streamed by a producer that needs the reactor: tests/e2e/test_websec.py checks it)
@pytest.mark.parametrize("path", [b"/", b"/nope", b"/app/static/", b"/app/static/sub/", b"/ops/health"])
def test_headers_on_every_response_and_no_listing(tmp_path: Path, path: bytes) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.css").write_text("body{}")
    out = _serve(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n", tmp_path).lower()
    head, _, body = out.partition(b"\r\n\r\n")
    for name, value in security.SECURITY_HEADERS.items():
        assert name + b": " + value.lower() in head, (path, name)
    assert b"strict-transport-security" not in head
    if path.startswith(b"/app/static/") and path.endswith(b"/"):
        assert head.startswith(b"http/1.1 404") and b"a.css" not in body


def test_cookie_secure_follows_https_unless_set() -> None:
    plain: Any = SimpleNamespace(cc_https=False, isSecure=lambda: False)
    tls: Any = SimpleNamespace(cc_https=True, isSecure=lambda: True)
    assert cookie_secure(plain, None) is False and cookie_secure(tls, None) is True
    assert cookie_secure(plain, True) is True and cookie_secure(tls, False) is False


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl makes the test certificates")
def test_tls_context_loads_a_pair_and_refuses_a_mismatch(tmp_path: Path) -> None:
    for name in ("a", "b"):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                        "/CN=127.0.0.1", "-keyout", str(tmp_path / f"{name}.key"), "-out",
                        str(tmp_path / f"{name}.pem")], check=True, capture_output=True)
    assert server.tls_context(str(tmp_path / "a.pem"), str(tmp_path / "a.key")) is not None
    with pytest.raises(Exception):  # noqa: B017 - pyOpenSSL's error: the key does not match the certificate
        server.tls_context(str(tmp_path / "a.pem"), str(tmp_path / "b.key"))
