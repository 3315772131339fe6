"""SMS tables: the outbox (one row per message, unique idempotency key), its delivery events (each
kind once per message), edited templates, the do-not-SMS list, and received messages (MO)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.store.models import Base, now_utc

# Outbox states. pending → sending → sent → delivered | failed; pending → blocked (opted out) | expired.
PENDING, SENDING, SENT, DELIVERED, FAILED, BLOCKED, EXPIRED = (
    "pending", "sending", "sent", "delivered", "failed", "blocked", "expired")
STATES = (PENDING, SENDING, SENT, DELIVERED, FAILED, BLOCKED, EXPIRED)
FINAL = frozenset({DELIVERED, FAILED, BLOCKED, EXPIRED})


class SmsMessage(Base):
    """One outgoing message: recorded once (``idempotency_key``), sent at least once."""

    __tablename__ = "sms_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    number: Mapped[str] = mapped_column(String(32), index=True)
    template: Mapped[str | None] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    encoding: Mapped[str] = mapped_column(String(8))
    segments: Mapped[int] = mapped_column(Integer)
    order_number: Mapped[str | None] = mapped_column(String(32), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now_utc, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=now_utc)
    gateway_reply: Mapped[str] = mapped_column(String(200), default="")
    gateway_id: Mapped[str] = mapped_column(String(64), default="")
    last_error: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[str] = mapped_column(String(64), default="")


class SmsEvent(Base):
    """What happened to a message (sent, each delivery report kind, blocked …); a kind at most once."""

    __tablename__ = "sms_events"
    __table_args__ = (UniqueConstraint("message_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime] = mapped_column(DateTime, default=now_utc)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


class SmsTemplate(Base):
    """An edited template (the built-in default applies while there is no row)."""

    __tablename__ = "sms_templates"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=now_utc)
    updated_by: Mapped[str] = mapped_column(String(64), default="")


class SmsOptOut(Base):
    """The do-not-SMS list: a number here gets no message (``source``: mo, cli, admin)."""

    __tablename__ = "sms_optouts"

    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=now_utc)
    source: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(String(200), default="")


class SmsInbound(Base):
    """A message a citizen sent us (MO), as the gateway delivered it."""

    __tablename__ = "sms_inbound"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(32), index=True)
    to: Mapped[str] = mapped_column(String(32), default="")
    text: Mapped[str] = mapped_column(String(1000), default="")
    received_at: Mapped[datetime] = mapped_column(DateTime, default=now_utc, index=True)
    action: Mapped[str] = mapped_column(String(16), default="")
