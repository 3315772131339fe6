"""Anchors: the chains' heads written outside the database (a file, 0600, and the log), and into the chain.

A rewrite of the whole table (every hash recomputed) is consistent in itself; it cannot also match the
heads written earlier to a file the database user cannot rewrite (ship it to another host or WORM store).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.audit import chain
from callcenter.audit.models import AuditEntry
from callcenter.store.models import now_utc

log = logging.getLogger(__name__)


def heads(session: Session) -> dict[str, tuple[int, str]]:
    t = AuditEntry.__table__
    last = select(t.c.stream, func.max(t.c.seq).label("seq")).group_by(t.c.stream).subquery()
    rows = session.execute(select(t.c.stream, t.c.seq, t.c.hash).join(
        last, (t.c.stream == last.c.stream) & (t.c.seq == last.c.seq)))
    return {s: (q, h) for s, q, h in rows}


def write_anchor(session: Session, anchor_file: Path) -> dict[str, Any]:
    """Append the current heads to ``anchor_file`` (created 0600) and the log, then chain an anchor entry."""
    hs = heads(session)
    line = {"at": now_utc().isoformat(timespec="seconds") + "Z", "heads": {k: list(v) for k, v in hs.items()}}
    anchor_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(anchor_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (json.dumps(line, sort_keys=True) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    log.info("audit anchor %s", json.dumps(line, sort_keys=True))
    chain.record(session, "system", "anchor", line)
    return line
