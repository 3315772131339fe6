"""Order search: caller number, order number, keyword, department, state and a date range, combined.

Every criterion is optional and bounded; the results are what the person may read (a department user
searches their department's orders only), newest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select

from callcenter.auth.roles import Perm, has
from callcenter.auth.services import Actor
from callcenter.workorders import states as st
from callcenter.workorders.models import WorkOrder

LIMIT = 200


@dataclass(frozen=True)
class Query:
    caller_number: str = ""
    number: str = ""
    keyword: str = ""
    department: str = ""
    state: str = ""
    # [since, until): naive UTC (the page turns local dates into these)
    since: datetime | None = None
    until: datetime | None = None

    def empty(self) -> bool:
        return not any((self.caller_number, self.number, self.keyword, self.department, self.state,
                        self.since, self.until))


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search(session: Any, actor: Actor, q: Query, limit: int = LIMIT) -> list[WorkOrder]:
    """Orders matching every given criterion that ``actor`` may read."""
    stmt = select(WorkOrder).order_by(WorkOrder.created_at.desc(), WorkOrder.id.desc()).limit(limit)
    if not has(actor.role, Perm.ORDER_READ_ALL):
        stmt = stmt.where(WorkOrder.department == (actor.department or "\0"))
    if q.caller_number:
        # the number as stored, or a part of it (the last digits a citizen gives)
        stmt = stmt.where(or_(WorkOrder.caller_number.like(_like(q.caller_number), escape="\\"),
                              WorkOrder.contact.like(_like(q.caller_number), escape="\\")))
    if q.number:
        stmt = stmt.where(WorkOrder.number.like(_like(q.number.upper()), escape="\\"))
    if q.keyword:
        for word in q.keyword.split()[:5]:
            pattern = _like(word)
            stmt = stmt.where(or_(WorkOrder.title.like(pattern, escape="\\"),
                                  WorkOrder.content.like(pattern, escape="\\"),
                                  WorkOrder.address.like(pattern, escape="\\"),
                                  WorkOrder.result.like(pattern, escape="\\")))
    if q.department:
        stmt = stmt.where(or_(WorkOrder.department == q.department,
                              WorkOrder.assist_departments.like(_like(q.department), escape="\\")))
    if q.state:
        stmt = stmt.where(WorkOrder.state == st.State(q.state).value)
    if q.since is not None:
        stmt = stmt.where(WorkOrder.created_at >= q.since)
    if q.until is not None:
        stmt = stmt.where(WorkOrder.created_at < q.until)
    return list(session.scalars(stmt))
