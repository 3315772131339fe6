"""What the public form stored: one row per submission with attachments (for the upload quotas)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.store.models import Base, now_utc


class PublicUpload(Base):
    """The attachments of one public submission: how many, how big, from which address, which day."""

    __tablename__ = "public_uploads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=now_utc)
    # The hotline's local date (YYYY-MM-DD): the per-day caps reset at local midnight.
    day: Mapped[str] = mapped_column(String(10), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    files: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
