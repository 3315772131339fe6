"""Each person's inbox: the orders waiting for them, by what is owed, derived from the orders' states.

An order leaves the inbox by being acted on (its state changes), so the count clears itself; nothing
is stored per person. Front desk (agents): orders returned to them, replies awaiting their review,
follow-ups owed, and their orders near or past the limit. Team leaders and admins: the same for the
whole floor. Department users: orders dispatched to their department awaiting acceptance, and their
department's orders near or past the limit.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from callcenter.auth.services import Actor
from callcenter.workorders import states as st
from callcenter.workorders.models import WorkOrder
from callcenter.workorders.services import Services

SECTIONS = ("returned", "review", "follow_up", "to_accept", "due")
LIMIT = 200


def inbox(session: Any, svc: Services, actor: Actor) -> dict[str, list[WorkOrder]]:
    """Section → orders (oldest first; an order appears in its first section only)."""
    role = actor.role
    base = select(WorkOrder).order_by(WorkOrder.updated_at, WorkOrder.id).limit(LIMIT)
    wanted: dict[str, Any] = {}
    me = actor.agent_id or actor.username
    if role in (st.AGENT, st.LEADER, st.ADMIN):
        mine = base if role != st.AGENT else base.where(WorkOrder.agent == me)
        wanted["returned"] = mine.where(WorkOrder.state == st.State.RETURNED.value)
        wanted["review"] = mine.where(WorkOrder.state == st.State.HANDLED.value)
        wanted["follow_up"] = mine.where(WorkOrder.state == st.State.FOLLOW_UP.value)
        due_scope = mine
    elif role == st.DEPARTMENT and actor.department:
        dept = base.where(WorkOrder.department == actor.department)
        wanted["to_accept"] = dept.where(WorkOrder.state == st.State.DISPATCHED.value)
        due_scope = dept.where(WorkOrder.state.in_([s.value for s in st.AT_DEPARTMENT]))
    else:
        return {}
    horizon = svc.clock() + timedelta(hours=svc.settings.warn_before_hours)
    wanted["due"] = due_scope.where(WorkOrder.state.in_([s.value for s in st.OPEN_STATES]),
                                    WorkOrder.deadline_at.is_not(None), WorkOrder.deadline_at <= horizon)
    seen: set[int] = set()
    out: dict[str, list[WorkOrder]] = {}
    for name in SECTIONS:
        if name not in wanted:
            continue
        rows = [o for o in session.scalars(wanted[name]) if o.id not in seen]
        seen.update(o.id for o in rows)
        out[name] = rows
    return out


def count(sections: dict[str, list[WorkOrder]]) -> int:
    return sum(len(v) for v in sections.values())
