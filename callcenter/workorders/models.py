"""Work-order tables: orders, their event history, linked calls, attachments, daily number counters.

Times are naive UTC with microseconds (closure times feed the on-time closure KPI exactly).
The event table is append-only: the services never update or delete a row of it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.store.models import Base, now_utc


class WorkOrder(Base):
    """One citizen request (工单)."""

    __tablename__ = "work_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    state: Mapped[str] = mapped_column(String(24), index=True)
    # call | voicemail | online | api
    source: Mapped[str] = mapped_column(String(16), index=True)
    hotline: Mapped[str | None] = mapped_column(String(64))
    caller_number: Mapped[str] = mapped_column(String(80), default="", index=True)
    caller_name: Mapped[str] = mapped_column(String(128), default="")
    contact: Mapped[str] = mapped_column(String(128), default="")
    district: Mapped[str] = mapped_column(String(64), default="")
    address: Mapped[str] = mapped_column(String(256), default="")
    category: Mapped[str] = mapped_column(String(64), default="", index=True)
    urgency: Mapped[str] = mapped_column(String(16), default="normal")
    # 诉求类型: consult | help | complaint | report | suggestion | praise (configurable)
    request_type: Mapped[str] = mapped_column(String(16), default="")
    # 协办 departments (comma-separated codes) beside the lead department (主办, ``department``)
    assist_departments: Mapped[str] = mapped_column(String(256), default="")
    title: Mapped[str] = mapped_column(String(200), default="")
    content: Mapped[str] = mapped_column(Text, default="")
    # immediate | coordinated | dispatch (set by the transition that chooses it)
    handling_mode: Mapped[str | None] = mapped_column(String(16))
    department: Mapped[str | None] = mapped_column(String(64), index=True)
    result: Mapped[str] = mapped_column(Text, default="")
    satisfaction: Mapped[str | None] = mapped_column(String(32))
    deadline_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now_utc, index=True)
    registered_at: Mapped[datetime | None] = mapped_column(DateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    closed_on_time: Mapped[bool | None] = mapped_column(Boolean)
    archived_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    # The agent who took it from the work list or registered it.
    agent: Mapped[str | None] = mapped_column(String(64), index=True)
    merged_into: Mapped[str | None] = mapped_column(String(32))
    voicemail_id: Mapped[str | None] = mapped_column(String(96))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=now_utc)
    # Optimistic locking: two people acting on the same order at once cannot both win.
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        Index("work_orders__idx__district_address", "district", "address"),
        # the screen-pop's caller history and the order KPIs' windows
        Index("work_orders__idx__caller_number_created_at", "caller_number", "created_at"),
        Index("work_orders__idx__registered_at", "registered_at"),
    )


class WorkOrderEvent(Base):
    """One step of an order's history: who did what, when, from which state to which."""

    __tablename__ = "work_order_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=now_utc)
    actor: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str] = mapped_column(String(24))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str] = mapped_column(String(24))
    # Changed fields {name: [old, new]}, reason, department, note ...
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


class WorkOrderCall(Base):
    """A call linked to an order (its recording is found through the linkedid)."""

    __tablename__ = "work_order_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    linkedid: Mapped[str] = mapped_column(String(64), index=True)
    linked_at: Mapped[datetime] = mapped_column(DateTime, default=now_utc)

    __table_args__ = (UniqueConstraint("order_id", "linkedid"),)


class WorkOrderAttachment(Base):
    """A file sent with an online submission (stored under data_dir/attachments)."""

    __tablename__ = "work_order_attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    stored_as: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now_utc)


class WorkOrderCounter(Base):
    """The last sequence number used for one local day's order numbers."""

    __tablename__ = "work_order_counters"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)
