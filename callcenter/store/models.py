"""Every table, declared once, with named constraints and indexes (migrations refer to the names).

Times are naive UTC ``DateTime`` with microseconds (Asterisk's event timestamps). Rows written from
telephony events carry no foreign keys: they arrive in batches, in any order, and must never be
refused, so links are plain indexed columns.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "%(table_name)s__idx__%(column_0_N_name)s",
    "uq": "%(table_name)s__uq__%(column_0_N_name)s",
    "ck": "%(table_name)s__ck__%(constraint_name)s",
    "fk": "%(table_name)s__fk__%(column_0_N_name)s__%(referred_table_name)s",
    "pk": "%(table_name)s__pk",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict: JSON, list: JSON}


def utc(ts: float | None) -> datetime | None:
    """Epoch seconds → naive UTC datetime (None stays None)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None)


def epoch(dt: datetime | None) -> float | None:
    """Naive UTC datetime → epoch seconds."""
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC).timestamp()


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Call(Base):
    """One caller's call (keyed by Asterisk's linkedid)."""

    __tablename__ = "calls"

    linkedid: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    channel: Mapped[str] = mapped_column(String(128), default="")
    caller_number: Mapped[str] = mapped_column(String(80), default="", index=True)
    caller_name: Mapped[str] = mapped_column(String(128), default="")
    did: Mapped[str] = mapped_column(String(80), default="")
    hotline: Mapped[str | None] = mapped_column(String(64), index=True)
    disposition: Mapped[str] = mapped_column(String(32), default="in-progress")
    hangup_cause: Mapped[int | None] = mapped_column(Integer)
    first_queued_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    first_queue: Mapped[str | None] = mapped_column(String(64))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime)
    answered_by: Mapped[str | None] = mapped_column(String(64), index=True)
    answered_queue: Mapped[str | None] = mapped_column(String(64))
    wait_s: Mapped[int | None] = mapped_column(Integer)
    answered_within_sl: Mapped[bool | None] = mapped_column(Boolean)
    recording_path: Mapped[str | None] = mapped_column(String(512))
    # IVR: entry flow, the path through it (nodes, keys, timings) and tags it set
    flow: Mapped[str | None] = mapped_column(String(64))
    ivr_path: Mapped[list] = mapped_column(JSON, default=list)
    tags: Mapped[dict] = mapped_column(JSON, default=dict)
    transferred_to: Mapped[str | None] = mapped_column(String(80))
    direction: Mapped[str] = mapped_column(String(16), default="inbound", server_default="inbound")
    order_number: Mapped[str | None] = mapped_column(String(40))

    # the screen-pop's caller history: a caller's latest calls without sorting all of them
    __table_args__ = (Index("calls__idx__caller_number_started_at", "caller_number", "started_at"),)


class QueueEntry(Base):
    """One stay of one caller in one queue."""

    __tablename__ = "queue_entries"

    id: Mapped[str] = mapped_column(String(96), primary_key=True)
    linkedid: Mapped[str] = mapped_column(String(64), index=True)
    uniqueid: Mapped[str] = mapped_column(String(64))
    queue: Mapped[str] = mapped_column(String(64), index=True)
    entered_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    caller_number: Mapped[str] = mapped_column(String(80), default="")
    caller_name: Mapped[str] = mapped_column(String(128), default="")
    outcome: Mapped[str] = mapped_column(String(32), default="waiting")
    left_at: Mapped[datetime | None] = mapped_column(DateTime)
    hold_s: Mapped[int | None] = mapped_column(Integer)
    agent: Mapped[str | None] = mapped_column(String(64), index=True)
    agent_uniqueid: Mapped[str | None] = mapped_column(String(64))
    connected_at: Mapped[datetime | None] = mapped_column(DateTime)
    ring_s: Mapped[int | None] = mapped_column(Integer)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)
    talk_s: Mapped[int | None] = mapped_column(Integer)
    complete_reason: Mapped[str | None] = mapped_column(String(16))
    abandon_hold_s: Mapped[int | None] = mapped_column(Integer)
    exit_key: Mapped[str | None] = mapped_column(String(8))

    # "no earlier stay of this caller" (the service level's window test) is one index probe
    __table_args__ = (Index("queue_entries__idx__linkedid_entered_at", "linkedid", "entered_at"),)


class Recording(Base):
    """A call recording (MixMonitor file)."""

    __tablename__ = "recordings"

    path: Mapped[str] = mapped_column(String(512), primary_key=True)
    linkedid: Mapped[str] = mapped_column(String(64), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)


class Agent(Base):
    """An agent (话务员): one PJSIP endpoint, one person."""

    __tablename__ = "agents"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now_utc)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class AgentSession(Base):
    """An agent logged in to one queue, from login to logout."""

    __tablename__ = "agent_sessions"

    id: Mapped[str] = mapped_column(String(160), primary_key=True)
    agent: Mapped[str] = mapped_column(String(64), index=True)
    queue: Mapped[str] = mapped_column(String(64))
    interface: Mapped[str] = mapped_column(String(128), default="")
    login_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    logout_at: Mapped[datetime | None] = mapped_column(DateTime)


class AgentPause(Base):
    """A pause (with its reason) of one agent in one queue."""

    __tablename__ = "agent_pauses"

    id: Mapped[str] = mapped_column(String(160), primary_key=True)
    agent: Mapped[str] = mapped_column(String(64), index=True)
    queue: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)


class Voicemail(Base):
    """A voice message awaiting intake (the work-order pipeline turns it into an order)."""

    __tablename__ = "voicemails"

    id: Mapped[str] = mapped_column(String(96), primary_key=True)
    linkedid: Mapped[str] = mapped_column(String(64), index=True)
    mailbox: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    duration_s: Mapped[int] = mapped_column(Integer, default=0)
    caller_number: Mapped[str] = mapped_column(String(80), default="", index=True)
    caller_name: Mapped[str] = mapped_column(String(128), default="")
    hotline: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(32), default="")
    # new → taken (an agent is registering it) → converted (work order made) | discarded
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)


class DeadLetter(Base):
    """A row the database refused for its content, kept (with the error) instead of blocking the writer."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=now_utc, index=True)
    table_name: Mapped[str] = mapped_column(String(64))
    row_key: Mapped[str] = mapped_column(String(200))
    payload: Mapped[str] = mapped_column(Text)
    error: Mapped[str] = mapped_column(Text, default="")
