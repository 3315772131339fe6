"""``callcenter backup`` / ``restore``: a consistent database copy (SQLite online backup API; PostgreSQL
pg_dump custom format) with a manifest of the recordings and attachments (paths, sizes, SHA-256) and of
the audit chains' heads; restore only into an empty database, after checking the dump's hash."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.engine import make_url

from callcenter.audit import anchors, chain
from callcenter.audit.models import RecordingHash
from callcenter.audit.verify import file_sha256
from callcenter.store.db import Database
from callcenter.store.models import Recording
from callcenter.workorders.models import WorkOrderAttachment

log = logging.getLogger(__name__)

PREFIX = "backup-"
MANIFEST = "manifest.json"


class BackupError(Exception):
    """The backup or restore cannot be done; the message says why."""


def _libpq_url(url: str) -> str:
    u = make_url(url).set(drivername="postgresql")
    return u.render_as_string(hide_password=False)


def _sqlite_path(url: str) -> Path:
    db = make_url(url).database
    if not db or db == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(db)


def backup(db: Database, dest_root: Path, attachments_dir: Path, with_files: bool = False,
           now: datetime | None = None) -> Path:
    """Write ``dest_root/backup-<UTC time>/`` (database dump, manifest.json[, files/]); returns it."""
    now = now or datetime.now(UTC)
    dest = dest_root / f"{PREFIX}{now.strftime('%Y%m%dT%H%M%S%fZ')}"
    part = dest.with_name(dest.name + ".part")
    part.mkdir(parents=True, exist_ok=False)
    os.chmod(part, 0o700)
    url = db.url
    if db.dialect == "sqlite":
        dump = part / "database.sqlite"
        src = sqlite3.connect(str(_sqlite_path(url)))
        dst = sqlite3.connect(str(dump))
        try:
            src.backup(dst)  # the online backup API: a consistent copy while the daemon writes
        finally:
            dst.close()
            src.close()
    else:
        dump = part / "database.pgdump"
        proc = subprocess.run(["pg_dump", "--format=custom", "--no-owner", f"--file={dump}", _libpq_url(url)],
                              capture_output=True, text=True, timeout=6 * 3600)
        if proc.returncode != 0:
            shutil.rmtree(part, ignore_errors=True)
            raise BackupError(f"pg_dump failed: {proc.stderr.strip()[:500]}")
    # The manifest is read from the copy itself: what it lists is exactly what the dump holds.
    copy = Database(f"sqlite:///{dump}") if db.dialect == "sqlite" else db
    try:
        with copy.session() as s:
            heads = anchors.heads(s)
            recs = s.execute(select(Recording.path, Recording.linkedid, RecordingHash.sha256,
                                    RecordingHash.size_bytes).outerjoin(
                RecordingHash, RecordingHash.path == Recording.path)).all()
            atts = s.execute(select(WorkOrderAttachment.stored_as, WorkOrderAttachment.sha256,
                                    WorkOrderAttachment.size_bytes).distinct()).all()
    finally:
        if copy is not db:
            copy.dispose()
    files: list[dict[str, Any]] = []
    for path, linkedid, sha, size in recs:
        files.append({"kind": "recording", "path": path, "linkedid": linkedid, "sha256": sha, "size": size,
                      "present": os.path.exists(path)})
    for stored_as, sha, size in atts:
        p = attachments_dir / stored_as
        files.append({"kind": "attachment", "path": str(p), "sha256": sha, "size": size, "present": p.exists()})
    if with_files:
        for i, f in enumerate(files):
            if f["present"]:
                target = part / "files" / f"{i:08d}"
                target.parent.mkdir(exist_ok=True)
                shutil.copy2(f["path"], target)
                f["copy"] = f"files/{target.name}"
    digest, size = file_sha256(dump)
    manifest = {"format": 1, "created_at": now.isoformat(), "dialect": db.dialect,
                "database": {"file": dump.name, "sha256": digest, "size": size},
                "audit_heads": {k: list(v) for k, v in heads.items()}, "files": files}
    (part / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1))
    manifest_sha, _ = file_sha256(part / MANIFEST)
    part.rename(dest)
    # the backup itself is an audited operation (the manifest's hash pins what was written)
    with db.session() as s:
        chain.record(s, "system", "backup", {"dir": dest.name, "manifest_sha256": manifest_sha,
                                             "database_sha256": digest, "files": len(files)})
    return dest


def rotate(dest_root: Path, keep: int) -> list[Path]:
    """Remove all but the ``keep`` newest backups; returns the removed ones."""
    if keep <= 0 or not dest_root.exists():
        return []
    found = sorted(p for p in dest_root.iterdir() if p.is_dir() and p.name.startswith(PREFIX)
                   and not p.name.endswith(".part"))
    removed = found[:-keep] if len(found) > keep else []
    for p in removed:
        shutil.rmtree(p)
    return removed


def _empty(url: str) -> bool:
    db = Database(url)
    try:
        return not inspect(db.engine).get_table_names()
    finally:
        db.dispose()


def restore(backup_dir: Path, url: str) -> dict[str, Any]:
    """Restore ``backup_dir`` into the empty database at ``url`` (SQLite: a missing or empty file)."""
    manifest = json.loads((backup_dir / MANIFEST).read_text())
    dump = backup_dir / manifest["database"]["file"]
    digest, _ = file_sha256(dump)
    if digest != manifest["database"]["sha256"]:
        raise BackupError(f"{dump} does not match its manifest (altered or damaged)")
    dialect = "postgresql" if url.startswith("postgresql") else "sqlite"
    if dialect != manifest["dialect"]:
        raise BackupError(f"the backup is of a {manifest['dialect']} database, the target is {dialect}")
    if dialect == "sqlite":
        target = _sqlite_path(url)
        if target.exists() and target.stat().st_size > 0 and not _empty(url):
            raise BackupError(f"{target} is not empty: restore only into an empty database")
        target.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(str(target) + suffix).unlink(missing_ok=True)
        src = sqlite3.connect(str(dump))
        dst = sqlite3.connect(str(target))
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
    else:
        if not _empty(url):
            raise BackupError("the target database is not empty: restore only into an empty database")
        proc = subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={_libpq_url(url)}",
                               str(dump)], capture_output=True, text=True, timeout=6 * 3600)
        if proc.returncode != 0:
            raise BackupError(f"pg_restore failed: {proc.stderr.strip()[:500]}")
    missing = [f["path"] for f in manifest["files"] if not os.path.exists(f["path"])]
    return {"restored": str(backup_dir), "dialect": dialect, "audit_heads": manifest["audit_heads"],
            "files_listed": len(manifest["files"]), "files_missing": missing}
