"""Plain-data views of orders, events and articles (what pages, pushes and the API show)."""

from __future__ import annotations

from typing import Any

from callcenter.logs import mask_number
from callcenter.store.models import epoch
from callcenter.workorders.models import WorkOrder, WorkOrderEvent

# Outcomes of a call (callcenter.calls.recorder) the screen-pop lists among a caller's earlier calls.
DISPOSITIONS = ("in-progress", "queued", "answered", "transferred", "transferred-out", "voicemail", "abandoned",
                "timeout", "exit-empty", "exit-with-key", "full", "left", "ivr-only")


def order_brief(o: WorkOrder, mask: bool = False) -> dict[str, Any]:
    return {
        "number": o.number, "state": o.state, "source": o.source, "category": o.category,
        "title": o.title or (o.content or "")[:40], "created_at": epoch(o.created_at),
        "caller_number": mask_number(o.caller_number) if mask else o.caller_number,
        "department": o.department, "deadline_at": epoch(o.deadline_at), "urgency": o.urgency,
        "district": o.district, "address": o.address,
    }


def order_full(o: WorkOrder, mask: bool = False) -> dict[str, Any]:
    return {
        **order_brief(o, mask),
        "hotline": o.hotline, "caller_name": o.caller_name, "contact": o.contact, "content": o.content,
        "handling_mode": o.handling_mode, "result": o.result, "satisfaction": o.satisfaction,
        "registered_at": epoch(o.registered_at), "dispatched_at": epoch(o.dispatched_at),
        "closed_at": epoch(o.closed_at), "closed_on_time": o.closed_on_time, "archived_at": epoch(o.archived_at),
        "created_by": o.created_by, "agent": o.agent, "merged_into": o.merged_into, "version": o.version,
    }


def event_view(e: WorkOrderEvent) -> dict[str, Any]:
    return {"at": epoch(e.at), "actor": e.actor, "role": e.actor_role, "action": e.action,
            "from_state": e.from_state, "to_state": e.to_state, "detail": e.detail}
