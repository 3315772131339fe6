"""Recordings' SHA-256, taken once the call has ended and MixMonitor closed the file (off the reactor)."""

from __future__ import annotations

import logging
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.audit.models import RecordingHash
from callcenter.audit.verify import file_sha256
from callcenter.store.models import Recording, now_utc

log = logging.getLogger(__name__)


def hash_closed(session: Session, settle_s: float = 3.0, limit: int = 200, now: datetime | None = None) -> int:
    """Hash recordings that ended at least ``settle_s`` ago and have no hash yet; returns how many."""
    now = now or now_utc()
    hashed = select(RecordingHash.path)
    rows = session.execute(select(Recording.path, Recording.linkedid).where(
        Recording.ended_at.is_not(None), Recording.ended_at <= now - timedelta(seconds=settle_s),
        Recording.path.not_in(hashed)).limit(limit)).all()
    n = 0
    session.info.setdefault("audit_actor", "recorder")
    for path, linkedid in rows:
        try:
            digest, size = file_sha256(path)
        except OSError:
            continue  # missing: the daemon logged it at the end of the call; verify lists it as unhashed
        session.add(RecordingHash(path=path, linkedid=linkedid, sha256=digest, size_bytes=size, hashed_at=now))
        n += 1
    return n


def disk_status(directory: str | Path, free_percent: float, free_bytes: int) -> dict[str, Any]:
    """Free space of the recordings' file system and whether it is below the alarm thresholds."""
    try:
        usage = shutil.disk_usage(directory)
    except OSError as exc:
        return {"dir": str(directory), "error": str(exc), "alarm": True}
    pct = 100.0 * usage.free / usage.total if usage.total else 0.0
    alarm = pct < free_percent or usage.free < free_bytes
    return {"dir": str(directory), "free_bytes": usage.free, "total_bytes": usage.total,
            "free_percent": round(pct, 2), "alarm": alarm}


def recordings_dir(session: Session, configured: str) -> str | None:
    """The configured recordings directory, else the folder of the latest recording."""
    if configured:
        return configured
    latest = session.scalar(select(Recording.path).order_by(Recording.started_at.desc()).limit(1))
    if latest is None:
        return None
    p = Path(latest).parent
    while not p.exists() and p != p.parent:
        p = p.parent
    return str(p)
