"""``audit verify``: recompute every chain, compare the audited tables with their entries, check anchors
and recordings. Reports the first broken entry of each stream (everything after it is unproven)."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, Table, inspect, select
from sqlalchemy.engine import Connection

from callcenter.audit import chain
from callcenter.audit.models import AuditEntry, RecordingHash

_T = AuditEntry.__table__
MAX_FINDINGS = 50


@dataclass
class Report:
    entries: int = 0
    streams: dict[str, dict[str, Any]] = field(default_factory=dict)
    # the first broken entry per stream: {stream, seq, id, reason}
    broken: list[dict[str, Any]] = field(default_factory=list)
    # rows whose content differs from what the audit log says happened
    mismatches: list[dict[str, Any]] = field(default_factory=list)
    anchors_checked: int = 0
    recordings: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        rec_ok = self.recordings is None or not (self.recordings["missing"] or self.recordings["altered"])
        return not self.broken and not self.mismatches and rec_ok

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "streams": self.streams, "broken": self.broken,
                "mismatches": self.mismatches[:MAX_FINDINGS], "mismatch_count": len(self.mismatches),
                "anchors_checked": self.anchors_checked, "recordings": self.recordings}


def verify_chains(conn: Connection, report: Report, since: datetime | None = None,
                  fold: dict[tuple[str, str], dict[str, Any] | None] | None = None) -> None:
    """Walk each stream in seq order, recomputing hashes; optionally fold row states into ``fold``."""
    streams = [r[0] for r in conn.execute(select(_T.c.stream).distinct())]
    cols = [_T.c.id, _T.c.stream, _T.c.seq, _T.c.at, _T.c.actor, _T.c.action, _T.c.entity, _T.c.entity_id,
            _T.c.data, _T.c.prev_hash, _T.c.hash]
    for stream in sorted(streams):
        q = select(*cols).where(_T.c.stream == stream).order_by(_T.c.seq)
        expected_seq, prev = 1, chain.GENESIS
        if since is not None:
            first = conn.execute(select(_T.c.seq).where(_T.c.stream == stream, _T.c.at >= since)
                                 .order_by(_T.c.seq).limit(1)).scalar()
            if first is None:
                report.streams[stream] = {"entries": 0, "head_seq": None, "head_hash": None}
                continue
            if first > 1:
                before = conn.execute(select(_T.c.hash).where(_T.c.stream == stream, _T.c.seq == first - 1)).scalar()
                expected_seq, prev = first, before or ""
            q = q.where(_T.c.seq >= first)
        n, bad = 0, None
        for row in conn.execution_options(yield_per=5000).execute(q):
            (rid, _s, seq, at, actor, action, entity, eid, data, prev_hash, h) = row
            n += 1
            if seq != expected_seq:
                bad = {"reason": f"sequence gap: expected seq {expected_seq}, found {seq}"}
            elif prev_hash != prev:
                bad = {"reason": "prev_hash does not match the previous entry's hash"}
            elif chain.entry_hash(stream, seq, at, actor, action, entity, eid, data, prev_hash) != h:
                bad = {"reason": "hash does not match the entry's content"}
            if bad is not None:
                report.broken.append({"stream": stream, "seq": seq, "id": rid, **bad})
                break
            if fold is not None and entity in chain.AUDITED:
                key = (entity, eid)
                if action == "insert" or action == "baseline":
                    fold[key] = json.loads(data)
                elif action == "update":
                    fold[key] = {**(fold.get(key) or {}), **json.loads(data)}
                elif action == "delete":
                    fold[key] = None
            expected_seq, prev = seq + 1, h
        report.entries += n
        report.streams[stream] = {"entries": n, "head_seq": expected_seq - 1, "head_hash": prev}


def reconcile(conn: Connection, fold: dict[tuple[str, str], dict[str, Any] | None], report: Report) -> None:
    """Every audited row must equal the state its entries build up; none may exist without entries."""
    seen: set[tuple[str, str]] = set()
    for name, spec, table in _tables(conn):
        pk = [c.name for c in table.primary_key.columns]
        for row in conn.execution_options(yield_per=5000).execute(select(table)):
            values = dict(row._mapping)
            eid = chain.entity_id(values[c] for c in pk)
            key = (name, eid)
            seen.add(key)
            expected = fold.get(key)
            if expected is None:
                why = "deleted in the audit log" if key in fold else "no audit entry"
                report.mismatches.append({"entity": name, "id": eid, "reason": f"row exists but {why}"})
                continue
            actual = chain.row_values(spec, values)
            diff = sorted(k for k in actual if k in expected and actual[k] != expected[k])
            if diff:
                report.mismatches.append({"entity": name, "id": eid, "reason": "row differs from its audit trail",
                                          "columns": diff})
    for (name, eid), expected in fold.items():
        spec = chain.AUDITED.get(name)
        if expected is not None and spec is not None and spec.reconcile and (name, eid) not in seen:
            report.mismatches.append({"entity": name, "id": eid, "reason": "row removed outside the product"})


def _tables(conn: Connection) -> list[tuple[str, chain.Spec, Table]]:
    """The audited tables this database has (models' tables; others reflected)."""
    import callcenter.store.all_models  # noqa: F401 - every table on the metadata
    from callcenter.store.models import Base

    present = set(inspect(conn).get_table_names())
    meta = MetaData()
    out = []
    for name, spec in chain.AUDITED.items():
        if not spec.reconcile or name not in present:
            continue
        table = Base.metadata.tables.get(name)
        out.append((name, spec, table if table is not None else Table(name, meta, autoload_with=conn)))
    return out


def baseline(session: Any) -> int:
    """Chain every audited row that has no entry yet (rows older than the audit log); returns how many."""
    conn = session.connection()
    pending = []
    for name, spec, table in _tables(conn):
        known = set(conn.execute(select(_T.c.entity_id).where(_T.c.entity == name).distinct()).scalars())
        pk = [c.name for c in table.primary_key.columns]
        for row in conn.execute(select(table)):
            values = dict(row._mapping)
            eid = chain.entity_id(values[c] for c in pk)
            if eid not in known:
                pending.append(chain.Pending(spec.stream, "baseline", name, eid, chain.row_values(spec, values)))
    chain.append(conn, pending, session.info.get("audit_actor"))
    return len(pending)


def check_anchors(conn: Connection, anchor_file: Path, report: Report) -> None:
    """Every anchored head must still be in the chain with the same hash (catches a rewritten table)."""
    if not anchor_file.exists():
        return
    for n, line in enumerate(anchor_file.read_text().splitlines(), 1):
        try:
            anchor = json.loads(line)
        except ValueError:
            report.broken.append({"stream": "anchors", "seq": n, "id": None,
                                  "reason": f"{anchor_file}:{n} is not valid JSON"})
            continue
        for stream, (seq, h) in anchor.get("heads", {}).items():
            report.anchors_checked += 1
            stored = conn.execute(select(_T.c.hash).where(_T.c.stream == stream, _T.c.seq == seq)).scalar()
            if stored != h:
                what = "missing" if stored is None else "has another hash"
                report.broken.append({"stream": stream, "seq": seq, "id": None,
                                      "reason": f"anchored entry (anchor file line {n}, {anchor.get('at')}) {what}"})


def file_sha256(path: str | os.PathLike[str]) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def check_recordings(conn: Connection, report: Report) -> None:
    """Each hashed recording must exist and hash the same; recordings never hashed are listed."""
    from callcenter.store.models import Recording

    missing, altered, checked = [], [], 0
    for path, sha, size in conn.execute(select(RecordingHash.path, RecordingHash.sha256, RecordingHash.size_bytes)):
        checked += 1
        try:
            got, got_size = file_sha256(path)
        except OSError:
            missing.append(path)
            continue
        if got != sha or got_size != size:
            altered.append(path)
    hashed = select(RecordingHash.path)
    unhashed = [r[0] for r in conn.execute(select(Recording.path).where(Recording.ended_at.is_not(None),
                                                                        Recording.path.not_in(hashed)))]
    report.recordings = {"checked": checked, "missing": missing, "altered": altered, "unhashed": unhashed}


def verify(conn: Connection, since: datetime | None = None, anchor_file: Path | None = None,
           recordings: bool = False) -> Report:
    """The whole check; the row comparison needs the whole chain, so it is skipped with ``since``."""
    report = Report()
    fold: dict[tuple[str, str], dict[str, Any] | None] | None = {} if since is None else None
    verify_chains(conn, report, since, fold)
    if fold is not None:
        broken_streams = {b["stream"] for b in report.broken}
        if not broken_streams:
            reconcile(conn, fold, report)
    if anchor_file is not None:
        check_anchors(conn, anchor_file, report)
    if recordings:
        check_recordings(conn, report)
    return report
