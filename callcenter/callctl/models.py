"""The ``call_actions`` table: every call-control action, allowed or refused (who, what, to whom, when, result)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.store.models import Base


class CallAction(Base):
    __tablename__ = "call_actions"
    __table_args__ = (Index("call_actions__idx__linkedid", "linkedid"), Index("call_actions__idx__at", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(64))  # user name (web) or "cli"
    agent: Mapped[str] = mapped_column(String(64))  # the phone acted on (the leader's for listen-in)
    action: Mapped[str] = mapped_column(String(32))  # hangup, hold, resume, transfer, ..., spy-listen
    target: Mapped[str] = mapped_column(String(80), default="")  # destination, number or spied agent
    linkedid: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(String(16))  # ok | refused | failed
    detail: Mapped[str] = mapped_column(String(200), default="")
