"""Reading call records back (one query module for calls and queue entries)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import Session, aliased

from callcenter.calls import records as r
from callcenter.store import models as m
from callcenter.store.rows import record_from_row


@dataclass(slots=True, frozen=True)
class StayFact:
    """What the service level needs of one queue stay (times as epoch seconds): light enough for millions."""

    linkedid: str
    queue: str
    entered_at: float
    hold_s: int | None
    connected_at: float | None
    completed_at: float | None
    abandon_hold_s: int | None


def _callers_first_queued(since: datetime | None, until: datetime | None) -> Select:
    """Linkedids whose first queue entry is in [since, until), found through the window only.

    A caller's first entry is in the window iff one of its entries is and none is before ``since``:
    both halves use the (entered_at) and (linkedid, entered_at) indexes, so the cost follows the
    window, not the table (aggregating min(entered_at) over every caller did not).
    """
    qe = m.QueueEntry
    stmt = select(qe.linkedid)
    if until is not None:
        stmt = stmt.where(qe.entered_at < until)
    if since is not None:
        earlier = aliased(m.QueueEntry)
        stmt = stmt.where(qe.entered_at >= since).where(
            ~exists().where(earlier.linkedid == qe.linkedid, earlier.entered_at < since))
    return stmt


def _window_filter(stmt: Select, since: datetime | None, until: datetime | None) -> Select:
    if since is None and until is None:
        return stmt
    stmt = stmt.where(m.QueueEntry.linkedid.in_(_callers_first_queued(since, until)))
    # every stay of such a caller is at or after its first entry: lets the index bound the outer scan too
    return stmt if since is None else stmt.where(m.QueueEntry.entered_at >= since)


def queue_entries(
    session: Session, since: datetime | None = None, until: datetime | None = None, queue: str | None = None
) -> list[r.QueueEntryRecord]:
    """Every queue entry of the callers whose *first* queue entry falls in [since, until)."""
    stmt = _window_filter(select(m.QueueEntry), since, until).order_by(m.QueueEntry.entered_at)
    if queue:
        stmt = stmt.where(m.QueueEntry.queue == queue)
    return [record_from_row(r.QueueEntryRecord, row) for row in session.scalars(stmt)]


_EPOCH = datetime(1970, 1, 1)


def _seconds(dt: datetime | None) -> float | None:
    return None if dt is None else (dt - _EPOCH).total_seconds()


def stay_facts(
    session: Session, since: datetime | None = None, until: datetime | None = None, queue: str | None = None,
    batch: int = 20_000,
) -> Iterator[StayFact]:
    """The stays of the callers first queued in [since, until), grouped by caller (ordered by linkedid, then
    entry time), streamed in batches: memory stays flat whatever the window (``kpi.service_level.compute``
    takes them with ``grouped=True``)."""
    qe = m.QueueEntry
    stmt = _window_filter(select(qe.linkedid, qe.queue, qe.entered_at, qe.hold_s, qe.connected_at,
                                 qe.completed_at, qe.abandon_hold_s), since, until)
    if queue:
        stmt = stmt.where(qe.queue == queue)
    stmt = stmt.order_by(qe.linkedid, qe.entered_at).execution_options(yield_per=batch)
    for linkedid, q, entered, hold, connected, completed, abandon_hold in session.execute(stmt):
        yield StayFact(linkedid, q, (entered - _EPOCH).total_seconds(), hold, _seconds(connected),
                       _seconds(completed), abandon_hold)


def recent_calls(session: Session, since: datetime | None = None, limit: int = 50) -> Sequence[m.Call]:
    stmt = select(m.Call).order_by(m.Call.started_at.desc()).limit(limit)
    if since is not None:
        stmt = stmt.where(m.Call.started_at >= since)
    return session.scalars(stmt).all()
