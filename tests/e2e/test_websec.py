"""Web hardening against the real daemon (Asterisk, SIPp, Chromium): headers on every response, no
directory listing, one answer for every failed sign-in and locks per (name, address), HTTPS with HSTS
and a Secure cookie, trusted proxies, masked numbers in /ops/live, Redis and the logs, and who may
hear which recording (with its access log).
"""

from __future__ import annotations

import http.client
import re
import shutil
import ssl
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from callcenter.auth import services as auth
from callcenter.auth.models import AccessLog, LoginThrottle
from callcenter.store.db import Database
from tests.harness.checks import wait_call_ended
from tests.harness.procs import stop_process
from tests.harness.stack import REPO, Stack, wait_for
from tests.harness.web import PASSWORD, WebClient, chromium, ensure_users

pytestmark = pytest.mark.e2e

HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}
# Numbers this module's calls use: none may appear unmasked in any log line of the daemon.
WAITING_CALLER = "13711112222"
ANSWERED_CALLER = "13733334444"
QUERY_NUMBER = "13755556666"


def _has_security_headers(headers: dict[str, str], where: str) -> None:
    for k, v in HEADERS.items():
        assert headers.get(k) == v, (where, k, headers.get(k))
    csp = headers.get("content-security-policy", "")
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, (where, csp)


class AddressClient(WebClient):
    """A WebClient whose connections come from a chosen loopback address (127.0.0.x)."""

    def __init__(self, base: str, source: str, extra: dict[str, str] | None = None) -> None:
        super().__init__(base)
        self.source = source
        self.extra = extra or {}
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict[str, str] | None = None, headers: dict[str, str] | None = None,
                body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
        url = urllib.parse.urlsplit(self.base)
        hdrs = {**self.extra, **(headers or {})}
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if url.scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                url.hostname, url.port, timeout=15, source_address=(self.source, 0),
                context=ssl._create_unverified_context())  # a self-signed test certificate
        else:
            conn = http.client.HTTPConnection(url.hostname, url.port, timeout=15, source_address=(self.source, 0))
        try:
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
            for cookie in resp.headers.get_all("Set-Cookie") or []:
                name, _, rest = cookie.partition("=")
                self.cookies[name.strip()] = rest.split(";")[0]
            self.last_set_cookies = resp.headers.get_all("Set-Cookie") or []
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, raw
        finally:
            conn.close()


def _message(body: bytes) -> str:
    m = re.search(r'id="login-error">(.*?)<', body.decode(), re.S)
    return m.group(1).strip() if m else body.decode()[:200]


@pytest.fixture(scope="module")
def web(stack: Stack) -> Stack:
    ensure_users(stack)
    return stack


def test_security_headers_on_every_response_and_no_listing(web: Stack) -> None:
    s = web
    c = WebClient(f"http://127.0.0.1:{s.ports.web}")
    checks = [("GET", "/", None), ("GET", "/app/login", None), ("GET", "/app/static/style.css", None),
              ("GET", "/app/static/", None), ("GET", "/app/static/nope.css", None), ("GET", "/nope", None),
              ("GET", "/ops/health", None), ("GET", "/ops/live", None), ("GET", "/api/v1/orders", None),
              ("GET", "/submit/", None), ("POST", "/ivr/reload", None), ("GET", "/app/orders", None)]
    for method, path, form in checks:
        code, headers, body = c.request(method, path, form=form)
        _has_security_headers(headers, f"{method} {path} → {code}")
        assert "strict-transport-security" not in headers, path  # plain HTTP: no HSTS
        if path == "/app/static/":
            assert code == 404 and b"style.css" not in body and b"desk.js" not in body, (code, body[:300])
    code, _h, css = c.request("GET", "/app/static/style.css")
    assert code == 200 and css
    # plain HTTP, desk.cookie_secure unset: the session cookie is not Secure (it would never come back)
    a = AddressClient(f"http://127.0.0.1:{s.ports.web}", "127.0.0.1")
    assert _login(a, "agent1001") == 303
    session_cookie = [x for x in a.last_set_cookies if x.startswith("cc_session=")]
    assert session_cookie and "secure" not in session_cookie[0].lower() and "httponly" in session_cookie[0].lower()
    # the start-up warning about plain HTTP is in the daemon's output
    assert "serves plain HTTP" in s.daemon_log.read_text(errors="replace")


def _login(c: WebClient, username: str, password: str = PASSWORD) -> int:
    _code, _h, page = c.request("GET", "/app/login")
    token = re.search(rb'name="_csrf" value="([^"]+)"', page)
    assert token, page[:300]
    code, _h, body = c.request("POST", "/app/login", {"_csrf": token.group(1).decode(), "username": username,
                                                     "password": password, "next": "/app/"})
    c.last_body = body  # type: ignore[attr-defined]
    return code


def test_sign_in_one_answer_and_locks_per_address(web: Stack) -> None:
    s = web
    s.query(lambda db: auth.create_user(db, "websec_lock", "agent", PASSWORD)
            if db.scalar(select(auth.User).where(auth.User.username == "websec_lock")) is None else None)
    base = f"http://127.0.0.1:{s.ports.web}"
    attacker, desk = AddressClient(base, "127.0.0.2"), AddressClient(base, "127.0.0.3")
    answers = set()
    for name in ("websec_lock", "no-such-person", "platform"):
        for _ in range(6):
            assert _login(attacker, name, "wrong-guess-1") == 401
            answers.add(_message(attacker.last_body))  # type: ignore[attr-defined]
    # the right password from the attacker's address: locked, and it reads like any failure
    assert _login(attacker, "websec_lock") == 401
    answers.add(_message(attacker.last_body))  # type: ignore[attr-defined]
    assert len(answers) == 1, answers
    assert "用户名或密码错误" in answers.pop()
    # the owner at another address is not locked out
    assert _login(desk, "websec_lock") == 303
    rows = s.query(lambda db: {(r.address, r.failures) for r in db.scalars(
        select(LoginThrottle).where(LoginThrottle.username == "websec_lock"))})
    assert any(a == "127.0.0.2" and f >= 5 for a, f in rows), rows  # counted at the attacker's address only
    assert not any(a == "127.0.0.3" and f > 0 for a, f in rows), rows
    # an administrator lifts the lock
    out = s.cli("user", "unlock", "websec_lock").stdout
    assert "locks lifted" in out
    assert _login(attacker, "websec_lock") == 303


def test_ops_live_and_redis_mask_numbers(web: Stack, clean: Stack) -> None:
    s = clean
    # nobody is logged in: the caller waits in queue main
    caller = s.caller(WAITING_CALLER, "等待者", hold_ms=12000).start()
    try:
        board = wait_for(lambda: (b := s.live(show_numbers=False))["queues"].get("main", {}).get("waiting") and b,
                         20, what="a caller waiting in main")
        shown = board["queues"]["main"]["waiting"][0]["caller_number"]
        assert shown == "137****2222", shown
        full = s.live(show_numbers=True)["queues"]["main"]["waiting"][0]["caller_number"]
        assert full == WAITING_CALLER
        if s.config.redis_url:
            import redis

            r = redis.Redis.from_url(s.config.redis_url, decode_responses=True)
            try:
                values = [r.get(k) or "" for k in r.keys(f"callcenter:{s.config.node}:*")]
            finally:
                r.close()
            assert values and not any(WAITING_CALLER in v for v in values)
    finally:
        caller.wait()
    # an agent's page queries by number: the access log line must not keep it
    a = WebClient(f"http://127.0.0.1:{s.ports.web}")
    assert a.login("agent1001") == 303
    code, _body = a.json("GET", f"/app/duplicates.json?caller_number={QUERY_NUMBER}&address=x")
    assert code == 200


def test_recording_policy_and_access_log(web: Stack, clean: Stack) -> None:
    s = clean
    s.agent_phone("1001", ring_ms=1000, talk_ms=4000)
    s.wait_agent_reachable("1001")
    s.login("1001", "main")
    assert s.caller(ANSWERED_CALLER, "录音", hold_ms=15000).run().ok
    call = wait_call_ended(s, ANSWERED_CALLER, 40)
    assert call.answered_by == "1001" and call.recording_path
    base = f"http://127.0.0.1:{s.ports.web}"
    path = f"/app/calls/{urllib.parse.quote(call.linkedid)}/recording"
    got = {}
    for name in ("agent1001", "agent1002", "inspector", "leader", "fund1"):
        c = WebClient(base)
        assert c.login(name) == 303, name
        code, headers, body = c.request("GET", path)
        got[name] = code
        if code == 200:
            assert body[:4] == b"RIFF" or len(body) > 8000
            _has_security_headers(headers, f"recording for {name}")
    assert got == {"agent1001": 200, "agent1002": 404, "inspector": 200, "leader": 200, "fund1": 404}, got
    c = WebClient(base)
    assert c.login("inspector") == 303
    code, headers, _ = c.request("GET", path + "?download=1")
    assert code == 200 and headers["content-disposition"].startswith("attachment")
    rows = s.query(lambda db: [(r.actor, r.role, r.action, r.object_kind, r.address) for r in db.scalars(
        select(AccessLog).where(AccessLog.object_id == call.linkedid).order_by(AccessLog.id))])
    assert rows == [("agent1001", "agent", "listen", "recording", "127.0.0.1"),
                    ("inspector", "quality_inspector", "listen", "recording", "127.0.0.1"),
                    ("leader", "team_leader", "listen", "recording", "127.0.0.1"),
                    ("inspector", "quality_inspector", "download", "recording", "127.0.0.1")], rows


def test_pages_work_under_the_csp_in_chromium(web: Stack) -> None:
    """The real browser, CSP enforced (no bypass): sign-in shows the one failure text, the desk and the
    orders page load without a single CSP violation."""
    s = web
    violations: list[str] = []
    with chromium() as browser:
        context = browser.new_context(locale="zh-CN")
        page = context.new_page()
        page.set_default_timeout(20000)
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(f"http://127.0.0.1:{s.ports.web}/app/login")
        page.fill("#username", "no-such-person")
        page.fill("#password", "wrong-guess-1")
        page.click("#login-submit")
        page.wait_for_load_state()
        assert "用户名或密码错误" in page.content()
        page.fill("#username", "agent1002")
        page.fill("#password", PASSWORD)
        page.click("#login-submit")
        page.wait_for_url("**/app/desk")
        page.wait_for_selector("body[data-stream=open]")
        # the stylesheet applied (same-origin styles are allowed), the script ran (the stream opened)
        assert page.evaluate("getComputedStyle(document.body).fontFamily") != ""
        page.goto(f"http://127.0.0.1:{s.ports.web}/app/orders")
        page.wait_for_load_state()
        # a page may not be framed by another (X-Frame-Options/frame-ancestors)
        context.close()
    assert violations == [], violations


@pytest.fixture(scope="module")
def tls_daemon(web: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """A second daemon serving HTTPS on base+81 (AGI on base+74), own SQLite, AMI unreachable: only its web
    side is exercised. 127.0.0.2 is its trusted proxy."""
    s = web
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to make the test certificate")
    work = tmp_path_factory.mktemp("tls")
    cert, key = work / "cert.pem", work / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    data = yaml.safe_load(s.sandbox.config_file.read_text())
    port = s.ports.base + 81
    data["web"] = {**data["web"], "port": port, "tls_certificate": str(cert), "tls_key": str(key),
                   "trusted_proxies": ["127.0.0.2/32"]}
    data["agi"] = {**data["agi"], "port": s.ports.base + 74}
    data["ami"] = {**data["ami"], "port": s.ports.base + 1}  # nothing listens: this daemon takes no calls
    data["asterisk"] = {**data["asterisk"], "queue_log": None}
    # its own (empty) voicemail spool: it must not sweep the main stack's messages
    data["ivr"] = {**data["ivr"], "voicemail_dir": str(work / "voicemail"), "voicemail_sweep_s": 0}
    data["redis_url"] = None
    data["data_dir"] = str(work / "var")
    db_url = f"sqlite:///{work / 'tls.sqlite'}"
    data["database_url"] = db_url
    config = work / "callcenter-tls.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True))
    log = open(work / "daemon.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "callcenter.cli.main", "--config", str(config), "run",
                             "--migrate"], stdout=log, stderr=subprocess.STDOUT, cwd=str(REPO))
    log.close()
    try:
        def up() -> bool:
            c = AddressClient(f"https://127.0.0.1:{port}", "127.0.0.1")
            return c.request("GET", "/app/login")[0] == 200

        wait_for(up, 30, what="the HTTPS daemon")
        db = Database(db_url)
        with db.session() as session:
            auth.create_user(session, "tlsagent", "agent", PASSWORD)
        db.dispose()
        yield port, work
    finally:
        stop_process(proc, timeout=30)


def test_https_hsts_secure_cookie_and_trusted_proxy(tls_daemon: tuple[int, Path]) -> None:
    port, work = tls_daemon
    base = f"https://127.0.0.1:{port}"
    direct = AddressClient(base, "127.0.0.1")
    code, headers, _ = direct.request("GET", "/app/static/style.css")
    assert code == 200 and headers.get("strict-transport-security", "").startswith("max-age=")
    _has_security_headers(headers, "https static")
    assert _login(direct, "tlsagent") == 303
    [session_cookie] = [x for x in direct.last_set_cookies if x.startswith("cc_session=")]
    assert "secure" in session_cookie.lower()
    assert "serves plain HTTP" not in (work / "daemon.log").read_text(errors="replace")
    # X-Forwarded-For counts only from the trusted proxy (127.0.0.2), not from anyone who sends it
    forged = AddressClient(base, "127.0.0.3", {"X-Forwarded-For": "198.51.100.7"})
    proxied = AddressClient(base, "127.0.0.2", {"X-Forwarded-For": "203.0.113.8"})
    assert _login(forged, "tlsagent", "wrong-guess-1") == 401
    assert _login(proxied, "tlsagent", "wrong-guess-1") == 401
    db = Database(f"sqlite:///{work / 'tls.sqlite'}")
    with db.session() as session:
        addresses = {r.address for r in session.scalars(select(LoginThrottle).where(
            LoginThrottle.username == "tlsagent", LoginThrottle.failures > 0))}
    db.dispose()
    assert addresses == {"127.0.0.3", "203.0.113.8"}, addresses


# Last in this module: everything above has logged what it logs.
def test_no_unmasked_numbers_in_the_logs(web: Stack) -> None:
    s = web
    time.sleep(1.0)  # the access log line of the last request
    # the daemon's log and the web access log (a file of its own in the data directory)
    access = Path(s.config.data_dir) / "access.log"
    assert access.is_file(), f"no access log at {access}"
    text = s.daemon_log.read_text(errors="replace") + "\n" + access.read_text(errors="replace")
    for number in (WAITING_CALLER, ANSWERED_CALLER, QUERY_NUMBER):
        assert number not in text, [line for line in text.splitlines() if number in line][:5]
    # and no phone-like number at all (mobile numbers of any test that ran in this stack)
    leaks = re.findall(r"(?<![\w.+])1[3-9]\d{9}(?![\w]|\.\d)", text)
    assert leaks == [], leaks[:10]
    # the masked forms are there: the calls and the request were logged, only masked
    assert "caller_number=137****6666" in text
