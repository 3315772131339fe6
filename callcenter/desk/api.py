"""``/api/v1``: other platforms (provincial 12345, 110, merged hotlines' systems) with bearer tokens.

Submissions become orders in the same pipeline as calls; departments' systems move orders on
(accept, return with a reason, handle); the knowledge base can be searched. Every error is JSON
with a reason and a 4xx status.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any

from klein import Klein
from werkzeug.exceptions import MethodNotAllowed, NotFound

from callcenter.auth.roles import Perm
from callcenter.desk import attachments as att
from callcenter.desk import schemas
from callcenter.desk.base import WebBase
from callcenter.desk.http import HttpError, arg, guard, send_json
from callcenter.desk.views import event_view, order_brief, order_full
from callcenter.kb.search import search as kb_search
from callcenter.workorders.services import EDITABLE

ACTION_ARGS = ("department", "reason", "result", "satisfaction", "target", "note")
SUBMISSION_FIELDS = ("content", "title", "caller_name", "caller_number", "contact", "district", "address",
                     "category", "urgency")


class ApiWeb(WebBase):
    app = Klein()

    @app.handle_errors(NotFound, MethodNotAllowed)
    def routing_error_handler(self, request: Any, failure: Any) -> bytes:
        return self.routing_error(request, failure)

    @app.route("/v1/submissions", methods=["POST"])
    @guard(Perm.SUBMIT, kind="token")
    async def submit(self, request: Any) -> bytes:
        """``{"content": ..., "contact": ..., "district": ..., "attachments": [{"filename", "data"(base64)}]}``."""
        actor = request.actor
        body = schemas.body(request, schemas.SubmissionBody, districts=self.desk.settings.workorders.districts)
        if not body.get("content"):
            raise HttpError(422, "content_required")
        if not (body.get("contact") or body.get("caller_number")):
            raise HttpError(422, "contact_required")
        uploads = []
        for i, item in enumerate(body.get("attachments") or []):
            try:
                data = base64.b64decode(item["data"], validate=True)
            except (binascii.Error, ValueError):
                raise HttpError(400, "attachment_not_base64", i=i) from None
            uploads.append(att.Upload(item.get("filename") or "file", data))
        checked = att.check(uploads, self.desk.settings.workorders)
        directory = Path(self.desk.config.data_path) / "attachments"
        fields = {k: body[k] for k in SUBMISSION_FIELDS if k in body and k in EDITABLE}

        def work(session: Any) -> str:
            order = self.desk.orders.create(session, actor, "api", fields)
            for upload, ctype in checked:
                self.desk.orders.add_attachment(session, actor, order, att.store(directory, upload, ctype))
            return order.number

        number = await self.desk.db.run_session(work)
        self.desk.hub.to_perm(Perm.DESK, "worklist", {"new": number})
        return send_json(request, {"number": number, "state": "created"}, 201)

    @app.route("/v1/orders", methods=["GET"])
    @guard(Perm.ORDER_READ, kind="token")
    async def orders(self, request: Any) -> bytes:
        actor = request.actor
        q = schemas.query(request, schemas.OrdersQuery)
        state, due = q.get("state"), q.get("due")

        def work(session: Any) -> list[dict[str, Any]]:
            return [order_brief(o, mask=True)
                    for o in self.desk.orders.list_orders(session, actor, state=state, due=due)]

        return send_json(request, await self.desk.db.run_session(work))

    @app.route("/v1/orders/<string:number>", methods=["GET"])
    @guard(Perm.ORDER_READ, kind="token")
    async def order(self, request: Any, number: str) -> bytes:
        actor = request.actor

        def work(session: Any) -> dict[str, Any]:
            o = self.desk.orders.get_for(session, actor, number)
            return {**order_full(o), "due": self.desk.orders.due(o),
                    "history": [event_view(e) for e in self.desk.orders.history(session, o)]}

        return send_json(request, await self.desk.db.run_session(work))

    @app.route("/v1/orders/<string:number>/actions", methods=["POST"])
    @guard(Perm.ORDER_ACT, kind="token")
    async def act(self, request: Any, number: str) -> bytes:
        """``{"action": "accept"|"return"|"handle", "reason"|"result": ..., "version": n}``."""
        actor = request.actor
        body = schemas.body(request, schemas.ActionBody)
        action = body.pop("action", "")
        version = body.pop("version", None)

        def work(session: Any) -> dict[str, Any]:
            o = self.desk.orders.get_for(session, actor, number)
            self.desk.orders.act(session, actor, o, action, body, expected_version=version)
            return {"number": o.number, "state": o.state, "version": o.version}

        result = await self.desk.db.run_session(work)
        self.desk.hub.to_all("inbox", {"changed": number})
        return send_json(request, result)

    @app.route("/v1/kpi", methods=["GET"])
    @guard(Perm.KPI_READ, kind="token")
    async def kpi(self, request: Any) -> bytes:
        """The nine KPIs: the same JSON as ``callcenter kpi all --json`` (?since=&until=)."""
        from callcenter.kpi.registry import Window, compute_all
        from callcenter.times import parse_time

        config = self.desk.config
        try:
            window = Window(parse_time(arg(request, "since") or None, config.timezone),
                            parse_time(arg(request, "until") or None, config.timezone))
        except ValueError as exc:
            raise HttpError(400, "bad_time", detail=str(exc)[:200]) from None
        return send_json(request, await self.desk.db.run_session(lambda s: compute_all(s, window, config)))

    @app.route("/v1/kb/search", methods=["GET"])
    @guard(Perm.KB_READ, kind="token")
    async def kb(self, request: Any) -> bytes:
        q = schemas.query(request, schemas.SearchQuery).get("q", "")[:100]
        if not q:
            raise HttpError(400, "q_required")
        limit, today = self.desk.settings.kb.results, self.today()
        hits = await self.desk.db.run_session(lambda s: kb_search(s, q, limit=limit, today=today))
        return send_json(request, [{"id": h.id, "title": h.title, "snippet": h.snippet, "score": h.score}
                                   for h in hits])
