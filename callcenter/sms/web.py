"""SMS web routes: the gateway's callbacks (``/sms/dlr/<token>``, ``/sms/mo/<token>``: a shared secret in
the URL, compared in constant time) and the template admin page (``/smsadmin/templates``, admins)."""

from __future__ import annotations

import hmac
import logging
from typing import TYPE_CHECKING, Any

from klein import Klein

from callcenter.sms import outbox
from callcenter.sms.settings import SmsSettings

if TYPE_CHECKING:
    from callcenter.store.db import Database

log = logging.getLogger(__name__)


def _arg(request: Any, name: str, limit: int) -> str:
    values = request.args.get(name.encode()) or [b""]
    return values[0][: limit * 4].decode("utf-8", "replace")[:limit]


class GroupCommit:
    """Applies callbacks in batches, one transaction each (a report per message and kind, thousands a
    second under load, would otherwise each take the database's write lock); every request is
    answered only once its batch is committed, so a report acknowledged to the gateway is stored."""

    def __init__(self, db: Database, apply: Any, delay_s: float = 0.02, max_items: int = 500) -> None:
        # apply(session, items) -> one result per item, in order
        self.db, self.apply, self.delay_s, self.max_items = db, apply, delay_s, max_items
        self.items: list[tuple[Any, Any]] = []
        self.call: Any = None

    def add(self, item: Any) -> Any:
        from twisted.internet import defer, reactor

        d: Any = defer.Deferred()
        self.items.append((item, d))
        if len(self.items) >= self.max_items:
            self.flush()
        elif self.call is None:
            self.call = reactor.callLater(self.delay_s, self.flush)  # type: ignore[attr-defined]
        return d

    def flush(self) -> None:
        if self.call is not None and self.call.active():
            self.call.cancel()
        self.call = None
        items, self.items = self.items, []
        if not items:
            return

        def work(session: Any) -> list[Any]:
            return list(self.apply(session, [item for item, _d in items]))

        def done(results: list[Any]) -> None:
            for (_item, d), result in zip(items, results, strict=True):
                d.callback(result)

        def failed(failure: Any) -> None:
            log.error("sms callbacks: a batch of %d failed: %s", len(items), failure.getErrorMessage())
            for _item, d in items:
                d.errback(failure)

        self.db.run_session(work).addCallbacks(done, failed)


class CallbackWeb:
    """What the gateway calls: delivery reports and citizens' messages. Answers fast and empty (an
    MO's answer must never become a reply SMS); refuses a wrong token with 404 (nothing to probe)."""

    app = Klein()

    def __init__(self, db: Database, settings: SmsSettings, on_change: Any = None) -> None:
        self.db = db
        self.settings = settings
        self.on_change = on_change
        self.dlrs = GroupCommit(db, outbox.apply_dlrs)

    def _token_ok(self, token: str) -> bool:
        want = self.settings.callback_token
        return bool(want) and hmac.compare_digest(token.encode("utf-8", "replace"), want.encode())

    @app.route("/dlr/<string:token>", methods=["GET", "POST"])
    async def dlr(self, request: Any, token: str) -> bytes:
        if not self._token_ok(token):
            request.setResponseCode(404)
            return b""
        mid, kind = _arg(request, "id", 20), _arg(request, "type", 4)
        if not (mid.isdigit() and kind.isdigit()):
            request.setResponseCode(400)
            return b"bad report"
        fid = _arg(request, "fid", 64)
        state = await self.dlrs.add((int(mid), int(kind), fid))
        log.debug("sms %s report %s: %s", mid, kind, state)
        return b"ok"

    @app.route("/mo/<string:token>", methods=["GET", "POST"])
    async def mo(self, request: Any, token: str) -> bytes:
        if not self._token_ok(token):
            request.setResponseCode(404)
            return b""
        number, to, text = _arg(request, "from", 32), _arg(request, "to", 32), _arg(request, "text", 1000)
        try:
            await self.db.run_session(lambda s: outbox.receive_mo(s, self.settings, number, to, text))
        except outbox.SmsError:
            request.setResponseCode(400)
        return b""


def admin_web(desk: Any, settings: SmsSettings) -> Any:
    """The template admin page on the desk's sessions (admins only)."""
    from callcenter.auth.roles import Perm
    from callcenter.desk.base import WebBase
    from callcenter.desk.http import args_dict, guard, redirect
    from callcenter.sms import templates as tpl

    class AdminWeb(WebBase):
        app = Klein()

        @app.route("/templates", methods=["GET"])
        @guard(Perm.USERS)
        async def templates(self, request: Any) -> bytes:
            rows = await self.desk.db.run_session(outbox.list_templates)
            done = request.args.get(b"done", [b""])[0].decode("ascii", "replace")[:20]
            return self.render(request, "sms/templates.html", templates=rows, done=done, error=None)

        @app.route("/templates/<string:name>", methods=["POST"])
        @guard(Perm.USERS)
        async def save(self, request: Any, name: str) -> bytes:
            form = args_dict(request)
            who = request.actor.username

            def work(session: Any) -> None:
                if form.get("reset"):
                    outbox.reset_template(session, name)
                else:
                    outbox.set_template(session, name, form.get("body", ""), who, settings)

            try:
                await self.desk.db.run_session(work)
            except tpl.TemplateError as exc:
                rows = await self.desk.db.run_session(outbox.list_templates)
                return self.render(request, "sms/templates.html", code=400, templates=rows, done="",
                                   error={"name": name, "code": exc.code, "detail": exc.detail})
            return redirect(request, "/smsadmin/templates?done=saved")

    return AdminWeb(desk)
