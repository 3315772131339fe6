"""Legal holds: an order or a call (and everything hanging on it) kept from the retention purge."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.audit.models import LegalHold
from callcenter.errors import Refusal
from callcenter.store.models import Call, now_utc
from callcenter.workorders.models import WorkOrder, WorkOrderCall

# Roles that may place or lift a hold (the CLI acts as admin: it has the database owner's authority).
HOLD_ROLES = frozenset({"admin", "auditor", "team_leader"})
KINDS = ("order", "call")


class HoldError(Refusal):
    code = 400


def add_hold(session: Session, kind: str, ref: str, reason: str, actor: str, role: str) -> LegalHold:
    """Place a hold (with a reason); the order or call must exist."""
    if role not in HOLD_ROLES:
        raise HoldError("hold_forbidden", role=role)
    reason = reason.strip()
    if kind not in KINDS:
        raise HoldError("hold_kind", kind=kind)
    if not reason or len(reason) > 500:
        raise HoldError("hold_needs_reason")
    ref = ref.strip()[:64]
    if kind == "order" and session.scalar(select(WorkOrder.id).where(WorkOrder.number == ref)) is None:
        raise HoldError("hold_unknown_order", ref=ref)
    if kind == "call" and session.get(Call, ref) is None:
        raise HoldError("hold_unknown_call", ref=ref)
    hold = LegalHold(kind=kind, ref=ref, reason=reason, created_by=actor[:64], created_at=now_utc())
    session.info.setdefault("audit_actor", actor)
    session.add(hold)
    session.flush()
    return hold


def release_hold(session: Session, hold_id: int, actor: str, role: str, reason: str = "") -> LegalHold:
    if role not in HOLD_ROLES:
        raise HoldError("hold_forbidden", role=role)
    hold = session.get(LegalHold, hold_id)
    if hold is None or hold.released_at is not None:
        raise HoldError("hold_not_active", id=hold_id)
    session.info.setdefault("audit_actor", actor)
    hold.released_at, hold.released_by, hold.release_reason = now_utc(), actor[:64], reason.strip()[:500]
    session.flush()
    return hold


def list_holds(session: Session, active_only: bool = True) -> list[LegalHold]:
    q = select(LegalHold).order_by(LegalHold.id)
    if active_only:
        q = q.where(LegalHold.released_at.is_(None))
    return list(session.scalars(q))


def held(session: Session) -> tuple[set[int], set[str]]:
    """(order ids, linkedids) under a hold: a held order holds its calls and a held call its orders."""
    orders: set[int] = set()
    calls: set[str] = set()
    for h in list_holds(session):
        if h.kind == "order":
            oid = session.scalar(select(WorkOrder.id).where(WorkOrder.number == h.ref))
            if oid is not None:
                orders.add(oid)
        else:
            calls.add(h.ref)
    if orders:
        calls |= set(session.scalars(select(WorkOrderCall.linkedid).where(WorkOrderCall.order_id.in_(orders))))
    if calls:
        orders |= set(session.scalars(select(WorkOrderCall.order_id).where(WorkOrderCall.linkedid.in_(calls))))
    return orders, calls
