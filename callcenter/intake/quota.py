"""Storage bounds of public submissions' attachments (``desk.public_uploads``).

Strangers may attach files without signing in; without a bound one address could fill the disk
(≈0.44 GB a minute at the form's rate limit). Before anything is written, a submission's attachments
must fit: all unreviewed public attachments (orders no agent has taken yet), all public attachments of
the local day, and those of the sender's address that day. A refusal tells the citizen what to do
instead (submit without attachments, try tomorrow, call 12345).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.errors import Refusal
from callcenter.intake.models import PublicUpload
from callcenter.workorders import states as st
from callcenter.workorders.models import WorkOrder
from callcenter.workorders.settings import PublicUploadLimits


class UploadsRefused(Refusal):
    """Attachments that do not fit a bound: 429 for the day's caps, 507 when unreviewed storage is full."""

    code = 429


@dataclass(frozen=True)
class Usage:
    unreviewed_bytes: int
    day_bytes: int
    day_files: int
    address_bytes: int
    address_files: int


def usage(session: Session, day: str, address: str) -> Usage:
    """What public submissions hold now: unreviewed in all, that day, that day from ``address``."""
    unreviewed = session.scalar(
        select(func.coalesce(func.sum(PublicUpload.size_bytes), 0))
        .join(WorkOrder, WorkOrder.id == PublicUpload.order_id)
        .where(WorkOrder.state == st.State.CREATED.value, WorkOrder.agent.is_(None)))
    day_bytes, day_files = session.execute(
        select(func.coalesce(func.sum(PublicUpload.size_bytes), 0), func.coalesce(func.sum(PublicUpload.files), 0))
        .where(PublicUpload.day == day)).one()
    addr_bytes, addr_files = session.execute(
        select(func.coalesce(func.sum(PublicUpload.size_bytes), 0), func.coalesce(func.sum(PublicUpload.files), 0))
        .where(PublicUpload.day == day, PublicUpload.address == address)).one()
    return Usage(int(unreviewed or 0), int(day_bytes), int(day_files), int(addr_bytes), int(addr_files))


def _mb(n: int) -> str:
    return f"{n / 1048576:.1f}".rstrip("0").rstrip(".")


def check(session: Session, limits: PublicUploadLimits, day: str, address: str, files: int, size: int) -> None:
    """Refuse (:class:`UploadsRefused`) attachments of ``files`` files and ``size`` bytes that would
    pass a bound; nothing to check without attachments."""
    if files == 0:
        return
    u = usage(session, day, address[:64])
    if limits.unreviewed_bytes and u.unreviewed_bytes + size > limits.unreviewed_bytes:
        refusal = UploadsRefused("public_uploads_full")
        refusal.code = 507
        raise refusal
    if (limits.per_day_bytes and u.day_bytes + size > limits.per_day_bytes) or \
            (limits.per_day_files and u.day_files + files > limits.per_day_files):
        raise UploadsRefused("public_uploads_day_full")
    if (limits.per_address_day_bytes and u.address_bytes + size > limits.per_address_day_bytes) or \
            (limits.per_address_day_files and u.address_files + files > limits.per_address_day_files):
        raise UploadsRefused("public_uploads_address_full", files=limits.per_address_day_files,
                             mb=_mb(limits.per_address_day_bytes))


def record(session: Session, day: str, address: str, order_id: int, files: int, size: int) -> None:
    """Count a stored submission's attachments (same transaction as the order)."""
    if files:
        session.add(PublicUpload(day=day, address=address[:64], files=files, size_bytes=size, order_id=order_id))
