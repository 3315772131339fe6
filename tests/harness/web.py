"""The desk's web side in end-to-end tests: users, a cookie-keeping HTTP client, a real Chromium."""

from __future__ import annotations

import http.cookiejar
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.harness.stack import Stack

PASSWORD = "Desk-Test-2026!"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

# username → (role, agent id, department)
USERS: dict[str, tuple[str, str | None, str | None]] = {
    "agent1001": ("agent", "1001", None),
    "agent1002": ("agent", "1002", None),
    "leader": ("team_leader", None, None),
    "inspector": ("quality_inspector", None, None),
    "fund1": ("department", None, "fund"),
    "housing1": ("department", None, "housing"),
    "admin1": ("admin", None, None),
    "platform": ("api_client", None, "fund"),
    "lockme": ("agent", None, None),
}


def ensure_users(stack: Stack) -> None:
    """Create the test users (once per stack) straight in the database."""
    from callcenter.auth import services as auth

    def work(session: Any) -> None:
        for name, (role, agent, dept) in USERS.items():
            try:
                auth.get_user(session, name)
            except auth.AuthError:
                auth.create_user(session, name, role, None if role == "api_client" else PASSWORD, name, agent, dept)

    stack.query(work)


def api_token(stack: Stack, username: str = "platform") -> str:
    """A fresh bearer token, issued by the CLI as an admin would."""
    return stack.cli("user", "token", username).stdout.strip()


class WebClient:
    """An HTTP client with cookies, like a browser without JavaScript (for route checks)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())
        self.csrf = ""

    def request(self, method: str, path: str, form: dict[str, str] | None = None, headers: dict[str, str] | None = None,
                body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
        data = body
        hdrs = dict(headers or {})
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=hdrs)
        try:
            with self.opener.open(req, timeout=15) as resp:
                return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()

    def login(self, username: str, password: str = PASSWORD) -> int:
        _code, _h, page = self.request("GET", "/app/login")
        token = re.search(rb'name="_csrf" value="([^"]+)"', page)
        assert token, page[:500]
        code, _headers, _body = self.request("POST", "/app/login", {"_csrf": token.group(1).decode(),
                                                                   "username": username, "password": password,
                                                                   "next": "/app/"})
        if code == 303:
            _c, _h, page = self.request("GET", "/app/orders")
            m = re.search(rb'name="_csrf" value="([^"]+)"', page)
            self.csrf = m.group(1).decode() if m else ""
        return code

    def json(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        code, _h, raw = self.request(method, path, headers={"Accept": "application/json", **kwargs.pop("headers", {})},
                                     **kwargs)
        try:
            return code, json.loads(raw)
        except ValueError:
            return code, raw


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:  # keep 3xx visible to the test
        return None


@contextmanager
def chromium() -> Iterator[Any]:
    """A real Chromium (Debian's package) driven by Playwright; fails loudly when it is missing."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def browser_login(browser: Any, stack: Stack, username: str, password: str = PASSWORD) -> Any:
    """A new browser context signed in as ``username``; returns its page."""
    # bypass_csp: Playwright evaluates its wait conditions as strings, which our CSP forbids
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN", bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(20000)
    page.goto(f"http://127.0.0.1:{stack.ports.web}/")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")
    page.wait_for_load_state()
    assert "/app/login" not in page.url, page.content()[:2000]
    return page
