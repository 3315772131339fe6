"""Audit tables: the hash-chained log (append-only, enforced by triggers), recordings' hashes, legal holds.

``audit_log`` is never updated or deleted by the product; the migration installs triggers that make the
database refuse it too (an attacker must drop them first, and ``audit verify`` then finds the rewrite).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.store.models import Base, now_utc


class AuditEntry(Base):
    """One change (or operation) in one stream; ``hash`` covers every field and the previous entry's hash."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # orders | users | kb | settings | recordings | system (holds, purges, backups, anchors)
    stream: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime, default=now_utc, index=True)
    actor: Mapped[str] = mapped_column(String(64), default="")
    # insert | update | delete, or an operation name (purge, hold, anchor, config, baseline ...)
    action: Mapped[str] = mapped_column(String(24))
    entity: Mapped[str] = mapped_column(String(64), default="")
    entity_id: Mapped[str] = mapped_column(String(512), default="")
    # canonical JSON: the row's values (insert), {column: new value} (update), counts (purge) ...
    data: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        UniqueConstraint("stream", "seq"),
        Index("audit_log__idx__entity_entity_id", "entity", "entity_id"),
    )


class RecordingHash(Base):
    """A recording's SHA-256 and size, taken once the file is closed after the call."""

    __tablename__ = "recording_hashes"

    path: Mapped[str] = mapped_column(String(512), primary_key=True)
    linkedid: Mapped[str] = mapped_column(String(64), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    hashed_at: Mapped[datetime] = mapped_column(DateTime, default=now_utc)


class LegalHold(Base):
    """Keeps an order or a call (and what hangs on it) from the retention purge until released."""

    __tablename__ = "legal_holds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # order (ref = order number) | call (ref = linkedid)
    kind: Mapped[str] = mapped_column(String(8))
    ref: Mapped[str] = mapped_column(String(64), index=True)
    reason: Mapped[str] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now_utc)
    released_at: Mapped[datetime | None] = mapped_column(DateTime)
    released_by: Mapped[str | None] = mapped_column(String(64))
    release_reason: Mapped[str] = mapped_column(Text, default="")
