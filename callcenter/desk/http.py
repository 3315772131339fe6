"""HTTP plumbing shared by the desk's pages and API: who is asking, may they, and replying.

Every route is declared with :func:`guard`, which names the permission it needs (or PUBLIC) and
records it in :data:`ROUTE_RULES`, so the route-enumeration test can check that each one refuses
strangers and wrong roles.
"""

from __future__ import annotations

import functools
import hmac
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from twisted.internet import defer

from callcenter.audit.chain import set_current_actor
from callcenter.auth import services as auth
from callcenter.auth.roles import Perm, has
from callcenter.errors import Refusal, Term
from callcenter.web.security import SECURITY_HEADERS

if TYPE_CHECKING:
    from callcenter.desk.plugin import Desk

log = logging.getLogger(__name__)

SESSION_COOKIE = b"cc_session"
LANG_COOKIE = b"cc_lang"
ANON_CSRF_COOKIE = b"cc_csrf"
PUBLIC = "public"
ANY = "signed_in"


@dataclass(frozen=True)
class RouteRule:
    """What a route needs: a permission (or PUBLIC), and how it authenticates (session or token)."""

    perm: str
    kind: str  # "session" | "token" | "public"


# "Class.method" of each route → rule (filled by @guard as the route modules are imported)
ROUTE_RULES: dict[str, RouteRule] = {}


class HttpError(Refusal):
    """A refusal of the web layer with its HTTP status: ``HttpError(404, "no_recording")``."""

    def __init__(self, code: int, msg_id: str, /, **values: Any) -> None:
        super().__init__(msg_id, **values)
        self.code = code


def arg(request: Any, name: str, default: str = "") -> str:
    """A form or query argument as text (the first value)."""
    values = request.args.get(name.encode())
    if not values:
        return default
    return values[0].decode("utf-8", errors="replace")


def args_dict(request: Any) -> dict[str, str]:
    return {k.decode("utf-8", "replace"): v[0].decode("utf-8", "replace") for k, v in request.args.items() if v}


def json_body(request: Any) -> dict[str, Any]:
    """The request's JSON object body, or a 400 saying why not."""
    ctype = (request.getHeader(b"content-type") or b"").decode("latin-1")
    if "json" not in ctype:
        raise HttpError(415, "send_json")
    try:
        data = json.loads(request.content.read() or b"{}")
    except ValueError as exc:  # also a number of more than 4,300 digits, or bytes that are not UTF-8
        raise HttpError(400, "invalid_json", detail=str(exc)[:200]) from None
    except RecursionError:  # [[[[...]]]] nested deeper than the parser goes
        raise HttpError(400, "invalid_json", detail="nested too deeply") from None
    if not isinstance(data, dict):
        raise HttpError(400, "json_not_object")
    return data


def wants_json(request: Any) -> bool:
    accept = (request.getHeader(b"accept") or b"").decode("latin-1")
    return "application/json" in accept or request.path.endswith(b".json")


def send_json(request: Any, body: Any, code: int = 200) -> bytes:
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"application/json; charset=utf-8")
    request.setHeader(b"cache-control", b"no-store")
    return json.dumps(body, ensure_ascii=False, default=str).encode("utf-8")


def redirect(request: Any, location: str, code: int = 303) -> bytes:
    request.setResponseCode(code)
    request.setHeader(b"location", location.encode("utf-8"))
    return b""


def client_address(request: Any) -> str:
    """The client's address: the peer, or what a trusted proxy forwarded (``web.trusted_proxies``)."""
    known = getattr(request, "cc_client", None)
    if known is not None:
        return str(known)
    peer = request.getClientAddress()
    return getattr(peer, "host", "") or ""


def is_https(request: Any) -> bool:
    """Did the client use HTTPS (directly, or to a trusted proxy that says so)?"""
    known = getattr(request, "cc_https", None)
    return bool(known) if known is not None else bool(request.isSecure())


def cookie_secure(request: Any, setting: bool | None) -> bool:
    """The session cookie's Secure flag: ``desk.cookie_secure`` when set, else on for HTTPS requests."""
    return setting if setting is not None else is_https(request)


def security_headers(request: Any) -> None:
    for k, v in SECURITY_HEADERS.items():
        request.setHeader(k, v)


def anon_csrf(request: Any) -> str:
    """A CSRF token for forms shown before sign-in (double-submit cookie)."""
    token = (request.getCookie(ANON_CSRF_COOKIE) or b"").decode("latin-1")
    if len(token) < 20:
        token = secrets.token_urlsafe(24)
        request.addCookie(ANON_CSRF_COOKIE, token.encode(), path=b"/", httpOnly=True, sameSite="strict")
    return token


def check_anon_csrf(request: Any) -> None:
    cookie = (request.getCookie(ANON_CSRF_COOKIE) or b"").decode("latin-1")
    given = arg(request, "_csrf")
    if not cookie or not hmac.compare_digest(cookie, given):
        raise HttpError(403, "form_expired")


def bearer(request: Any) -> str | None:
    header = (request.getHeader(b"authorization") or b"").decode("latin-1")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


Handler = Callable[..., Awaitable[Any]]


def guard(perm: str | Perm, kind: str = "session") -> Callable[[Handler], Handler]:
    """Authenticate and authorise a route before it runs.

    ``kind="session"``: a browser session cookie; unsafe methods also need the session's CSRF token
    (form field ``_csrf`` or header ``X-CSRF-Token``). Strangers get a redirect to the sign-in page
    (HTML) or 401 (JSON). ``kind="token"``: ``Authorization: Bearer`` of an api_client user.
    ``perm`` is checked against the actor's role (403 otherwise); PUBLIC routes skip all this.
    """
    perm_value = perm.value if isinstance(perm, Perm) else perm

    def decorate(fn: Handler) -> Handler:
        ROUTE_RULES[fn.__qualname__] = RouteRule(perm_value, PUBLIC if perm_value == PUBLIC else kind)

        @functools.wraps(fn)
        def wrapper(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            return defer.ensureDeferred(_guarded(self, request, fn, perm_value, kind, args, kwargs))

        return wrapper

    return decorate


async def _guarded(web: Any, request: Any, fn: Handler, perm: str, kind: str, args: Any, kwargs: Any) -> Any:
    desk: Desk = web.desk
    security_headers(request)
    request.setHeader(b"cache-control", b"no-store")
    try:
        actor = None
        if perm != PUBLIC:
            actor = await (_token_actor(desk, request) if kind == "token" else _session_actor(desk, request))
            if actor is None:
                return _unauthenticated(web, request, kind)
            if perm != ANY and not has(actor.role, Perm(perm)):
                raise HttpError(403, "role_may_not_use", role=Term("role", actor.role))
            if kind == "session" and request.method not in (b"GET", b"HEAD"):
                given = arg(request, "_csrf") or (request.getHeader(b"x-csrf-token") or b"").decode("latin-1")
                if not actor.csrf_token or not hmac.compare_digest(given, actor.csrf_token):
                    raise HttpError(403, "csrf")
        request.actor = actor
        if actor is not None:  # the audit log names who acted (carried into the database threads)
            set_current_actor(actor.username)
        return await fn(web, request, *args, **kwargs)
    except Refusal as exc:
        return web.error(request, exc.code, exc)
    except Exception as exc:
        from sqlalchemy.orm.exc import StaleDataError

        if isinstance(exc, StaleDataError):
            return web.error(request, 409, Refusal("changed_meanwhile"))
        code = getattr(exc, "code", None)
        if isinstance(code, int) and 400 <= code < 500:  # e.g. werkzeug's 413 for an oversized upload
            log.info("%s %s refused: %s", request.method.decode(), request.path.decode("utf-8", "replace"), exc)
            return web.error(request, code, Refusal("too_large" if code == 413 else "bad_request"))
        if _not_storable(exc):  # a value the database refuses (the schemas should have caught it first)
            log.warning("%s %s: value not storable: %s", request.method.decode(),
                        request.path.decode("utf-8", "replace"), type(exc).__name__)
            return web.error(request, 422, Refusal("value_not_storable"))
        # Anything else is our bug: logged with its traceback, answered in the reader's language (JSON
        # for programs), never as an HTML traceback.
        log.exception("%s %s failed", request.method.decode(), request.path.decode("utf-8", "replace"))
        return web.error(request, 500, Refusal("internal_error"))


def _not_storable(exc: BaseException) -> bool:
    """True for a database refusing a value for its content (too long, NUL, bad encoding, out of range)."""
    from sqlalchemy.exc import DataError, StatementError

    if isinstance(exc, DataError):
        return True
    orig = getattr(exc, "orig", None) if isinstance(exc, StatementError) else None
    # psycopg refuses NUL in text before sending it (a ValueError); encoders refuse lone surrogates
    return isinstance(orig, (ValueError, UnicodeError)) or isinstance(exc, UnicodeError)


async def _session_actor(desk: Desk, request: Any) -> auth.Actor | None:
    token = (request.getCookie(SESSION_COOKIE) or b"").decode("latin-1")
    if not token:
        return None
    idle = desk.config.desk.session_idle_minutes
    return await desk.db.run_session(lambda s: auth.session_actor(s, token, idle))


async def _token_actor(desk: Desk, request: Any) -> auth.Actor | None:
    token = bearer(request)
    if not token:
        return None
    return await desk.db.run_session(lambda s: auth.token_actor(s, token))


def _unauthenticated(web: Any, request: Any, kind: str) -> bytes:
    if kind == "token":
        request.setHeader(b"www-authenticate", b'Bearer realm="callcenter"')
        return web.error(request, 401, Refusal("token_required"))
    if request.method == b"GET" and not wants_json(request):
        here = request.uri.decode("utf-8", "replace")
        return redirect(request, "/app/login?next=" + quote(here, safe=""), 303)
    return web.error(request, 401, Refusal("sign_in_first"))
