"""Reading call records back (one query module for calls and queue entries)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.calls import records as r
from callcenter.store import models as m
from callcenter.store.rows import record_from_row


def queue_entries(
    session: Session, since: datetime | None = None, until: datetime | None = None, queue: str | None = None
) -> list[r.QueueEntryRecord]:
    """Every queue entry of the callers whose *first* queue entry falls in [since, until)."""
    first = (
        select(m.QueueEntry.linkedid)
        .group_by(m.QueueEntry.linkedid)
    )
    if since is not None:
        first = first.having(func.min(m.QueueEntry.entered_at) >= since)
    if until is not None:
        first = first.having(func.min(m.QueueEntry.entered_at) < until)
    stmt = select(m.QueueEntry).where(m.QueueEntry.linkedid.in_(first)).order_by(m.QueueEntry.entered_at)
    if queue:
        stmt = stmt.where(m.QueueEntry.queue == queue)
    return [record_from_row(r.QueueEntryRecord, row) for row in session.scalars(stmt)]


def recent_calls(session: Session, since: datetime | None = None, limit: int = 50) -> Sequence[m.Call]:
    stmt = select(m.Call).order_by(m.Call.started_at.desc()).limit(limit)
    if since is not None:
        stmt = stmt.where(m.Call.started_at >= since)
    return session.scalars(stmt).all()
