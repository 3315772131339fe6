"""The retention purge: what expired goes (rows through the ORM, so each deletion is audited), files after
the commit, held items never; one ``purge`` entry with the counts. ``dry_run`` only counts."""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from callcenter.audit import chain, holds
from callcenter.audit.models import RecordingHash
from callcenter.audit.settings import Retention
from callcenter.store.models import Call, QueueEntry, Recording, Voicemail, now_utc
from callcenter.workorders.models import WorkOrder, WorkOrderAttachment, WorkOrderCall, WorkOrderEvent

log = logging.getLogger(__name__)

# Orders in these states are finished; only they expire.
FINISHED = ("closed", "archived", "merged", "discarded")
BATCH = 500


def _cutoff(now: datetime, days: int) -> datetime | None:
    return None if days <= 0 else now - timedelta(days=days)


def purge(session: Session, retention: Retention, attachments_dir: Path, dry_run: bool = False,
          now: datetime | None = None, actor: str = "retention") -> dict[str, Any]:
    """Delete what expired (or, with ``dry_run``, count it). Returns counts per kind, held items skipped
    and the files to remove: the caller removes them after the commit (see :func:`remove_files`)."""
    now = now or now_utc()
    held_orders, held_calls = holds.held(session)
    counts: dict[str, int] = {}
    kept: dict[str, int] = {}
    files: list[str] = []
    session.info["audit_actor"] = actor

    def take(kind: str, rows: list[Any], is_held: Any) -> list[Any]:
        out = [r for r in rows if not is_held(r)]
        counts[kind] = len(out)
        kept[kind] = len(rows) - len(out)
        return out

    cut = _cutoff(now, retention.orders_days)
    orders: list[WorkOrder] = []
    if cut is not None:
        orders = take("orders", list(session.scalars(select(WorkOrder).where(
            WorkOrder.state.in_(FINISHED), WorkOrder.closed_at.is_not(None), WorkOrder.closed_at < cut))),
            lambda o: o.id in held_orders)

    cut = _cutoff(now, retention.attachments_days)
    attachments: list[WorkOrderAttachment] = []
    if cut is not None:
        attachments = take("attachments", list(session.scalars(select(WorkOrderAttachment).where(
            WorkOrderAttachment.created_at < cut))), lambda a: a.order_id in held_orders)

    cut = _cutoff(now, retention.recordings_days)
    recordings: list[Recording] = []
    if cut is not None:
        recordings = take("recordings", list(session.scalars(select(Recording).where(
            Recording.ended_at.is_not(None), Recording.ended_at < cut))), lambda r: r.linkedid in held_calls)

    cut = _cutoff(now, retention.voicemail_days)
    voicemails: list[Voicemail] = []
    if cut is not None:
        voicemails = take("voicemail", list(session.scalars(select(Voicemail).where(
            Voicemail.created_at < cut, Voicemail.status.in_(("converted", "discarded"))))),
            lambda v: v.linkedid in held_calls)

    cut = _cutoff(now, retention.call_records_days)
    calls: list[str] = []
    if cut is not None:
        calls = take("call_records", list(session.scalars(select(Call.linkedid).where(
            Call.ended_at.is_not(None), Call.ended_at < cut))), lambda lid: lid in held_calls)

    if dry_run:
        return {"dry_run": True, "at": now.isoformat(), "deleted": counts, "kept_by_hold": kept}

    order_ids = {o.id for o in orders}
    for o in orders:
        for ev in session.scalars(select(WorkOrderEvent).where(WorkOrderEvent.order_id == o.id)):
            session.delete(ev)
        for link in session.scalars(select(WorkOrderCall).where(WorkOrderCall.order_id == o.id)):
            session.delete(link)
        for att in session.scalars(select(WorkOrderAttachment).where(WorkOrderAttachment.order_id == o.id)):
            attachments.append(att)
    stored = set()
    for att in {a.id: a for a in attachments}.values():
        stored.add(att.stored_as)
        session.delete(att)
    session.flush()
    for o in orders:
        session.delete(o)
    session.flush()
    # an attachment file is named by its hash: remove it only when no remaining row names it
    for name in stored:
        if session.scalar(select(WorkOrderAttachment.id).where(WorkOrderAttachment.stored_as == name).limit(1)) is None:
            files.append(str(attachments_dir / name))
    for rec in recordings:
        files.append(rec.path)
        rh = session.get(RecordingHash, rec.path)
        if rh is not None:
            session.delete(rh)
        session.delete(rec)
    for vm in voicemails:
        files.extend([vm.path, *(vm.path.rsplit(".", 1)[0] + ext for ext in (".txt",))])
        session.delete(vm)
    for i in range(0, len(calls), BATCH):
        chunk = calls[i:i + BATCH]
        session.execute(delete(QueueEntry).where(QueueEntry.linkedid.in_(chunk)))
        session.execute(delete(Call).where(Call.linkedid.in_(chunk)))
    session.flush()
    summary = {"dry_run": False, "at": now.isoformat(), "deleted": counts, "kept_by_hold": kept,
               "retention_days": retention.model_dump(), "orders": len(order_ids)}
    chain.record(session, "system", "purge", summary, actor=actor)
    summary["files"] = files
    return summary


def remove_files(paths: list[str]) -> int:
    """Remove the purged files (after the commit: a rolled-back purge must not lose a file)."""
    n = 0
    for p in paths:
        try:
            os.unlink(p)
            n += 1
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.error("retention: cannot remove %s: %s", p, exc)
    return n
