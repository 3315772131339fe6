"""Rendering shared by the desk's web apps: Jinja2 (autoescaped), language, errors, template helpers."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import jinja2

from callcenter.auth.roles import Perm, has
from callcenter.desk.http import LANG_COOKIE, arg, security_headers, send_json, wants_json
from callcenter.desk.i18n import Translator, pick_language
from callcenter.errors import Refusal
from callcenter.logs import mask_number

if TYPE_CHECKING:
    from callcenter.desk.plugin import Desk

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
PACKAGES = Path(__file__).parents[1]


@cache
def environment() -> jinja2.Environment:
    """The pages' templates: the desk's by plain name (``base.html``), every other package's under its
    own name (``quality/inspect.html`` is ``callcenter/quality/templates/inspect.html``), so a
    capability keeps its pages next to its code and still extends the desk's ``base.html``."""
    packages = {p.parent.name: jinja2.FileSystemLoader(str(p)) for p in PACKAGES.glob("*/templates")
                if p != TEMPLATES}
    loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(TEMPLATES)), jinja2.PrefixLoader(packages)])
    # Autoescape everything: caller names and order text are typed by strangers.
    return jinja2.Environment(loader=loader, autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


class WebBase:
    """A web app of the desk: knows the desk, renders templates in the request's language."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.zone = ZoneInfo(desk.config.timezone)
        self.categories = desk.settings.workorders.category_codes()
        self.departments = desk.settings.workorders.department_codes()

    def lang(self, request: Any) -> str:
        cached = getattr(request, "_cc_lang", None)
        if cached:
            return str(cached)
        query = arg(request, "lang") or None
        cookie = (request.getCookie(LANG_COOKIE) or b"").decode("latin-1") or None
        # Platforms (no cookie) may also ask with Accept-Language; browsers keep the hotline's language.
        accept = (request.getHeader(b"accept-language") or b"").decode("latin-1") \
            if request.path.startswith(b"/api/") else None
        lang = pick_language(query, cookie, accept, self.desk.settings.language)
        request._cc_lang = lang
        if query and query == lang:
            request.addCookie(LANG_COOKIE, lang.encode(), path=b"/", sameSite="lax", max_age=str(365 * 86400))
        return lang

    def today(self) -> Any:
        """The hotline's local date (article validity dates are local)."""
        return datetime.now(self.zone).date()

    def local_time(self, value: Any, seconds: bool = False) -> str:
        if value in (None, ""):
            return ""
        if isinstance(value, (int, float)):
            dt = datetime.fromtimestamp(float(value), UTC)
        else:
            dt = value.replace(tzinfo=UTC)
        return dt.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")

    def context(self, request: Any) -> dict[str, Any]:
        t = Translator(self.lang(request))
        actor = getattr(request, "actor", None)
        return {
            "_": t, "lang": t.lang, "actor": actor,
            "csrf": actor.csrf_token if actor is not None else "",
            "can": (lambda perm: actor is not None and has(actor.role, Perm(perm))),
            "cat_name": lambda code: t.name(self.categories.get(code)) or code or "",
            "dept_name": lambda code: t.name(self.departments.get(code)) or code or "",
            "state_name": lambda s: t(f"state.{s}") if s else "",
            "action_name": lambda a: t(f"action.{a}"),
            "time": self.local_time,
            "mask": mask_number,
            "categories": self.desk.settings.workorders.categories,
            "category_list": list(self.categories.values()),
            "departments": self.desk.settings.workorders.departments,
            "districts": self.desk.settings.workorders.districts,
            "request_types": self.desk.settings.workorders.request_types,
            "tname": t.name,
            "path": request.path.decode("utf-8", "replace"),
        }

    def render(self, request: Any, template: str, code: int = 200, **values: Any) -> bytes:
        security_headers(request)
        request.setResponseCode(code)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        html = environment().get_template(template).render(**self.context(request), **values)
        return html.encode("utf-8")

    def routing_error(self, request: Any, failure: Any) -> bytes:
        """No such page (404) or method (405): the error page in the reader's language."""
        security_headers(request)
        request.setHeader(b"cache-control", b"no-store")
        code = getattr(failure.value, "code", 404)
        return self.error(request, code, Refusal("page_not_found" if code == 404 else "method_not_allowed"))

    def error(self, request: Any, code: int, refusal: Refusal) -> bytes:
        """The refusal in the reader's language: an error page, or ``{"error": text, "error_id": id}``
        (``error_id`` is the message id: stable, for programs)."""
        message = refusal.text(self.lang(request))
        if wants_json(request) or request.path.startswith(b"/api/") or request.method not in (b"GET", b"HEAD"):
            if not wants_json(request) and request.method not in (b"GET", b"HEAD") and \
                    b"text/html" in (request.getHeader(b"accept") or b""):
                return self.render(request, "error.html", code, status=code, message=message)
            return send_json(request, {"error": message, "error_id": refusal.msg_id}, code)
        return self.render(request, "error.html", code, status=code, message=message)
