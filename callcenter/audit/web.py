"""``/audit``: the audit trail for people (admins; an ``auditor`` role when it exists): entries with
filters, a verify run, legal holds. Mounted by the audit plugin, authenticated by the desk's session."""

from __future__ import annotations

import json
from typing import Any

from klein import Klein
from sqlalchemy import select
from werkzeug.exceptions import MethodNotAllowed, NotFound

from callcenter.audit import holds
from callcenter.audit.models import AuditEntry
from callcenter.auth.roles import Perm
from callcenter.desk.base import WebBase
from callcenter.desk.http import arg, guard, redirect, send_json, wants_json

# Who may read the audit trail: admins (the users permission) until an auditor role exists.
AUDIT_PERM = Perm.USERS
PAGE = 200


def _entries(session: Any, stream: str, entity: str, entity_id: str, before: int | None) -> list[dict[str, Any]]:
    q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(PAGE)
    if stream:
        q = q.where(AuditEntry.stream == stream[:32])
    if entity:
        q = q.where(AuditEntry.entity == entity[:64])
    if entity_id:
        q = q.where(AuditEntry.entity_id == entity_id[:512])
    if before:
        q = q.where(AuditEntry.id < before)
    return [{"id": e.id, "stream": e.stream, "seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action,
             "entity": e.entity, "entity_id": e.entity_id, "data": json.loads(e.data), "hash": e.hash}
            for e in session.scalars(q)]


class AuditWeb(WebBase):
    app = Klein()

    def __init__(self, desk: Any, anchor_file: Any) -> None:
        super().__init__(desk)
        self.anchor_file = anchor_file

    @app.handle_errors(NotFound, MethodNotAllowed)
    def routing_error_handler(self, request: Any, failure: Any) -> bytes:
        return self.routing_error(request, failure)

    @app.route("/", methods=["GET"])
    @guard(AUDIT_PERM)
    async def entries(self, request: Any) -> bytes:
        stream, entity, eid = arg(request, "stream"), arg(request, "entity"), arg(request, "id")
        before = arg(request, "before")
        rows = await self.desk.db.run_session(
            lambda s: _entries(s, stream, entity, eid, int(before) if before.isdigit() else None))
        if wants_json(request):
            return send_json(request, [{**r, "at": r["at"].isoformat()} for r in rows])
        return self.render(request, "audit/audit.html", rows=rows, stream=stream, entity=entity, entity_id=eid,
                           report=None)

    @app.route("/verify", methods=["POST"])
    @guard(AUDIT_PERM)
    async def verify(self, request: Any) -> bytes:
        from callcenter.audit.verify import verify

        def work() -> dict[str, Any]:
            with self.desk.db.engine.connect() as conn:
                return verify(conn, anchor_file=self.anchor_file).as_dict()

        report = await self.desk.db.run(work)
        if wants_json(request):
            return send_json(request, report)
        return self.render(request, "audit/audit.html", rows=[], stream="", entity="", entity_id="", report=report)

    @app.route("/holds", methods=["GET"])
    @guard(AUDIT_PERM)
    async def holds_page(self, request: Any) -> bytes:
        rows = await self.desk.db.run_session(lambda s: holds.list_holds(s, active_only=False))
        if wants_json(request):
            return send_json(request, [{"id": h.id, "kind": h.kind, "ref": h.ref, "reason": h.reason,
                                        "created_by": h.created_by, "active": h.released_at is None} for h in rows])
        return self.render(request, "audit/holds.html", holds=rows)

    @app.route("/holds", methods=["POST"])
    @guard(AUDIT_PERM)
    async def hold_add(self, request: Any) -> bytes:
        actor = request.actor
        kind, ref, reason = arg(request, "kind"), arg(request, "ref"), arg(request, "reason")
        hold = await self.desk.db.run_session(
            lambda s: holds.add_hold(s, kind, ref, reason, actor.username, actor.role).id)
        if wants_json(request):
            return send_json(request, {"id": hold}, 201)
        return redirect(request, "/audit/holds")

    @app.route("/holds/<int:hold_id>/release", methods=["POST"])
    @guard(AUDIT_PERM)
    async def hold_release(self, request: Any, hold_id: int) -> bytes:
        actor, reason = request.actor, arg(request, "reason")
        await self.desk.db.run_session(lambda s: holds.release_hold(s, hold_id, actor.username, actor.role, reason))
        if wants_json(request):
            return send_json(request, {"id": hold_id, "released": True})
        return redirect(request, "/audit/holds")
