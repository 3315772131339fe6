"""Order drafts: the half-typed order of one call, kept on the server and saved exactly once.

The desk opens a draft (a random token) for each call it pops. The draft's call (linkedid) and caller
number are fixed when it is opened: a later call never relabels it. Saving turns the draft into an
order in one transaction that first claims the draft (``UPDATE … WHERE order_number IS NULL``): a
second save of the same token — a double click, a retry after a lost reply — finds the draft claimed
and gets the order the first one made, never a second order.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from callcenter import bounds
from callcenter.auth.services import Actor
from callcenter.store.models import Base, epoch, now_utc
from callcenter.workorders import states as st

TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
# The draft's free fields: what the order form holds (bounded again by the services at save).
DRAFT_FIELDS = 24
DRAFT_VALUE_MAX = 20000


class OrderDraft(Base):
    """The order form of one call, as far as the agent typed it."""

    __tablename__ = "order_drafts"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    linkedid: Mapped[str] = mapped_column(String(64), default="", index=True)
    caller_number: Mapped[str] = mapped_column(String(80), default="")
    fields: Mapped[dict] = mapped_column(JSON, default=dict)
    # open → saved (order_number set) | discarded
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    order_number: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=now_utc)


class DraftError(st.WorkOrderError):
    code = 409


class DraftNotFound(st.WorkOrderError):
    code = 404


def check_token(token: str) -> str:
    if not TOKEN.fullmatch(token or ""):
        raise st.WorkOrderError("bad_draft_token")
    return token


def _clean(fields: Any) -> dict[str, str]:
    if not isinstance(fields, dict) or len(fields) > DRAFT_FIELDS:
        raise st.WorkOrderError("bad_draft_fields", n=DRAFT_FIELDS)
    out = {}
    for k, v in fields.items():
        if not isinstance(k, str) or len(k) > 64:
            raise st.WorkOrderError("bad_draft_fields", n=DRAFT_FIELDS)
        out[k] = ("" if v is None else str(v))[:DRAFT_VALUE_MAX]
    return out


def _mine(session: Session, actor: Actor, token: str) -> OrderDraft:
    draft = session.get(OrderDraft, check_token(token))
    if draft is None or draft.owner != actor.username:
        raise DraftNotFound("draft_not_found")
    return draft


def put(session: Session, actor: Actor, token: str, linkedid: str, caller_number: str,
        fields: dict[str, Any], now: datetime | None = None) -> OrderDraft:
    """Open or update the draft ``token``; its call and caller number never change once opened."""
    now = now or now_utc()
    clean = _clean(fields)
    draft = session.get(OrderDraft, check_token(token))
    if draft is None:
        draft = OrderDraft(token=token, owner=actor.username, linkedid=(linkedid or "")[:64],
                           caller_number=bounds.number(caller_number or ""), fields=clean, created_at=now,
                           updated_at=now)
        session.add(draft)
        session.flush()
        return draft
    if draft.owner != actor.username:
        raise DraftNotFound("draft_not_found")
    if draft.status != "open":
        raise DraftError("draft_closed", number=draft.order_number or "-")
    if (linkedid or draft.linkedid) != draft.linkedid:
        # A draft belongs to the call it was opened for: another call's pop must open its own.
        raise DraftError("draft_other_call")
    draft.fields = clean
    draft.updated_at = now
    return draft


def open_drafts(session: Session, actor: Actor, limit: int = 50) -> list[OrderDraft]:
    return list(session.scalars(select(OrderDraft).where(OrderDraft.owner == actor.username,
                                                         OrderDraft.status == "open")
                                .order_by(OrderDraft.updated_at.desc()).limit(limit)))


def get(session: Session, actor: Actor, token: str) -> OrderDraft:
    return _mine(session, actor, token)


def discard(session: Session, actor: Actor, token: str) -> None:
    draft = _mine(session, actor, token)
    if draft.status == "open":
        draft.status, draft.updated_at = "discarded", now_utc()


def claim(session: Session, actor: Actor, token: str) -> OrderDraft | None:
    """Claim an open draft for saving; None when it was saved already (the caller returns that order).

    The conditional UPDATE is the guard: on PostgreSQL a concurrent second claim waits for the
    first transaction's row lock and then matches no row; SQLite serialises writers outright.
    """
    draft = _mine(session, actor, token)
    claimed = session.execute(update(OrderDraft).where(OrderDraft.token == token, OrderDraft.status == "open")
                              .values(status="saving", updated_at=now_utc())
                              .execution_options(synchronize_session=False)).rowcount
    session.refresh(draft)
    if claimed == 1:
        return draft
    if draft.status == "saved" and draft.order_number:
        return None
    raise DraftError("draft_closed", number=draft.order_number or "-")


def saved(draft: OrderDraft, number: str) -> None:
    draft.status, draft.order_number, draft.updated_at = "saved", number, now_utc()


def view(d: OrderDraft) -> dict[str, Any]:
    return {"token": d.token, "linkedid": d.linkedid, "caller_number": d.caller_number, "fields": dict(d.fields or {}),
            "status": d.status, "order_number": d.order_number, "created_at": epoch(d.created_at),
            "updated_at": epoch(d.updated_at)}
