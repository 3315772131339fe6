"""``/phone``: the desk's call controls (JSON), the phone state, the address book and its admin page.

Every control acts on the signed-in person's own phone (their ``agent_id``); refusals are JSON with a
4xx status and a message in the reader's language (``{"error": ..., "error_id": ...}``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from klein import Klein
from twisted.internet import defer
from twisted.web.static import File
from werkzeug.exceptions import MethodNotAllowed, NotFound

from callcenter.auth.roles import Perm
from callcenter.callctl.addressbook import Entry, parse
from callcenter.callctl.numbers import CallRefusal
from callcenter.desk.base import WebBase
from callcenter.desk.http import PUBLIC, ROUTE_RULES, HttpError, RouteRule, arg, guard, json_body, send_json

if TYPE_CHECKING:
    from callcenter.callctl.plugin import CallControlPlugin
    from callcenter.desk.plugin import Desk

STATIC = Path(__file__).parent / "static"
ROUTE_RULES["PhoneWeb.static"] = RouteRule(PUBLIC, PUBLIC)


def _asyncio(coro: Any) -> Any:
    """Await an asyncio coroutine (the AMI client) from Twisted code."""
    return defer.Deferred.fromFuture(asyncio.ensure_future(coro))


def _text(body: dict[str, Any], key: str, limit: int = 80) -> str:
    value = body.get(key, "")
    if not isinstance(value, (str, int)):
        raise HttpError(400, "call_bad_target", target=key)
    return str(value)[:limit]


class PhoneWeb(WebBase):
    app = Klein()

    def __init__(self, desk: Desk, plugin: CallControlPlugin) -> None:
        super().__init__(desk)
        self.plugin = plugin

    @app.handle_errors(NotFound, MethodNotAllowed)
    def routing_error_handler(self, request: Any, failure: Any) -> bytes:
        return self.routing_error(request, failure)

    @app.route("/static/", branch=True)
    def static(self, request: Any) -> Any:
        return File(str(STATIC))

    async def _control(self, request: Any, op: str, *args: Any, **kwargs: Any) -> bytes:
        actor = request.actor
        control = self.plugin.control()
        result = await _asyncio(getattr(control, op)(actor.username, actor.agent_id, *args, **kwargs))
        return send_json(request, result)

    @app.route("/state", methods=["GET"])
    @guard(Perm.DESK)
    async def state(self, request: Any) -> bytes:
        """``{"agent", "phone": registered|unregistered|unreachable|ringing|talking|on_hold|..., "call_s"}``."""
        if not request.actor.agent_id:
            raise CallRefusal(403, "call_no_phone")
        return send_json(request, await _asyncio(self.plugin.control().state(request.actor.agent_id)))

    @app.route("/hangup", methods=["POST"])
    @guard(Perm.DESK)
    async def hangup(self, request: Any) -> bytes:
        return await self._control(request, "hangup")

    @app.route("/hold", methods=["POST"])
    @guard(Perm.DESK)
    async def hold(self, request: Any) -> bytes:
        return await self._control(request, "hold")

    @app.route("/resume", methods=["POST"])
    @guard(Perm.DESK)
    async def resume(self, request: Any) -> bytes:
        return await self._control(request, "resume")

    @app.route("/transfer", methods=["POST"])
    @guard(Perm.DESK)
    async def transfer(self, request: Any) -> bytes:
        """``{"target": "agent:1002"|"queue:main"|"book:KEY"|"number:DIGITS", "attended": false}``."""
        body = json_body(request)
        return await self._control(request, "transfer", _text(body, "target"), bool(body.get("attended")))

    @app.route("/transfer/complete", methods=["POST"])
    @guard(Perm.DESK)
    async def transfer_complete(self, request: Any) -> bytes:
        return await self._control(request, "complete_transfer")

    @app.route("/conference", methods=["POST"])
    @guard(Perm.DESK)
    async def conference(self, request: Any) -> bytes:
        """``{"target": ...}``: a three-way call; the agent leaves with /phone/hangup or stays."""
        return await self._control(request, "conference", _text(json_body(request), "target"))

    @app.route("/dial", methods=["POST"])
    @guard(Perm.DESK)
    async def dial(self, request: Any) -> bytes:
        """``{"number": ..., "order": ...}``: click-to-call (the agent's phone rings first)."""
        body = json_body(request)
        return await self._control(request, "dial", _text(body, "number", 40), _text(body, "order", 40))

    @app.route("/spy", methods=["POST"])
    @guard(Perm.SUPERVISE)
    async def spy(self, request: Any) -> bytes:
        """``{"agent": "1001", "mode": "listen"|"whisper"|"barge"}`` on the team leader's own phone."""
        body = json_body(request)
        return await self._control(request, "spy", _text(body, "agent", 20), _text(body, "mode", 20))

    @app.route("/actions", methods=["GET"])
    @guard(Perm.DESK)
    async def actions(self, request: Any) -> bytes:
        """The recorded controls of a call (``?linkedid=``) or, without it, of the asking agent."""
        linkedid = arg(request, "linkedid")[:64] or None
        agent = None if linkedid else (request.actor.agent_id or "")
        return send_json(request, await self.plugin.actions(linkedid, agent))

    @app.route("/book", methods=["GET"])
    @guard(Perm.DESK)
    async def book(self, request: Any) -> bytes:
        return send_json(request, [_entry(e)
                                   for e in self.plugin.book.entries()])

    @app.route("/admin/book", methods=["GET"])
    @guard(Perm.USERS)
    async def book_page(self, request: Any) -> bytes:
        text = "\n".join(" | ".join((e.key, e.name, e.number, e.department, e.hours))
                         for e in self.plugin.book.entries())
        return self.render(request, "callctl/book.html", text=text, saved=arg(request, "saved") == "1", problem="")

    @app.route("/admin/book", methods=["POST"])
    @guard(Perm.USERS)
    async def book_save(self, request: Any) -> bytes:
        text = arg(request, "entries")[:100_000]
        items = []
        for line in text.splitlines():
            if not line.strip():
                continue
            parts = [p.strip() for p in line.split("|")] + ["", "", "", ""]
            items.append({"key": parts[0], "name": parts[1], "number": parts[2], "department": parts[3],
                          "hours": parts[4]})
        try:
            entries = parse({"entries": items})
        except CallRefusal as exc:
            return self.render(request, "callctl/book.html", 422, text=text, saved=False,
                               problem=exc.text(self.lang(request)))
        self.plugin.book.save(entries)
        request.setResponseCode(303)
        request.setHeader(b"location", b"/phone/admin/book?saved=1")
        return b""


def _entry(e: Entry) -> dict[str, str]:
    return {"key": e.key, "name": e.name, "number": e.number, "department": e.department, "hours": e.hours}
