"""The daemon side: recordings hashed after each call, anchors, the daily purge and backup, the disk alarm.

Every job runs in the database thread pool (never on the reactor), one at a time per kind, and a failing
job is logged and counted (``health()``), then tried again at its next turn: the daemon keeps taking calls.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from callcenter.audit import chain
from callcenter.config import Config

if TYPE_CHECKING:
    from callcenter.daemon import Daemon

log = logging.getLogger(__name__)

_SECRET_WORDS = ("secret", "password", "token", "key")


def config_digests(config: Config) -> dict[str, str]:
    """SHA-256 per configuration section (secrets masked first), to audit what changed between starts."""
    def scrub(v: Any, key: str = "") -> Any:
        if isinstance(v, dict):
            return {k: scrub(x, k) for k, x in v.items()}
        if isinstance(v, list):
            return [scrub(x) for x in v]
        if any(w in key.lower() for w in _SECRET_WORDS) and v:
            return chain.mask(v)
        return v

    dump = scrub(config.model_dump(mode="json"))
    return {k: hashlib.sha256(chain.canonical(v).encode()).hexdigest() for k, v in sorted(dump.items())}


def anchor_path(config: Config) -> Path:
    return Path(config.audit.anchor_file) if config.audit.anchor_file else config.data_path / "audit" / "anchors.jsonl"


def backup_root(config: Config) -> Path:
    return Path(config.audit.backup_dir) if config.audit.backup_dir else config.data_path / "backups"


def record_config(session: Any, config: Config) -> bool:
    """Chain a ``config`` entry when the configuration differs from the last one recorded."""
    import json

    from sqlalchemy import select

    from callcenter.audit.models import AuditEntry

    digests = config_digests(config)
    last = session.scalar(select(AuditEntry.data).where(AuditEntry.stream == "settings")
                          .order_by(AuditEntry.seq.desc()).limit(1))
    before = json.loads(last)["sections"] if last else {}
    if before == digests:
        return False
    changed = sorted(k for k in digests if before.get(k) != digests[k])
    chain.record(session, "settings", "config", {"sections": digests, "changed": changed}, actor="daemon")
    return True


def last_daily_runs(session: Any, timezone: str) -> dict[str, str]:
    """Local day of the last purge and the last backup, from the audit log."""
    from datetime import UTC

    from sqlalchemy import func, select

    from callcenter.audit.models import AuditEntry

    out = {}
    for action in ("purge", "backup"):
        at = session.scalar(select(func.max(AuditEntry.at)).where(AuditEntry.stream == "system",
                                                                  AuditEntry.action == action))
        if at is not None:
            out[action] = at.replace(tzinfo=UTC).astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d")
    return out


class AuditPlugin:
    name = "audit"

    def __init__(self, config: Config) -> None:
        self.config = config
        self.daemon: Any = None
        self.loops: list[Any] = []
        self.running: set[str] = set()
        self.failures: dict[str, int] = {}
        self.last: dict[str, float] = {}
        self.done_day: dict[str, str] = {}
        self.disk: dict[str, Any] | None = None

    # ---- lifecycle ---------------------------------------------------------------------------------------
    def start(self, daemon: Daemon) -> None:
        from twisted.internet.task import LoopingCall

        from callcenter.audit.policy import apply

        self.daemon = daemon
        chain.set_default_actor("daemon")
        try:
            desk = daemon.plugin("desk")
        except KeyError:
            desk = None
        if desk is not None and getattr(desk, "db", None) is not None:
            from callcenter.audit.web import AuditWeb

            daemon.mount("audit", AuditWeb(desk, anchor_path(self.config)).app.resource())
        apply(self.config.audit.password)
        a = self.config.audit
        self.ready = False

        def first(s: Any) -> None:
            record_config(s, self.config)
            self.done_day.update(last_daily_runs(s, self.config.timezone))

        def ready(_: Any) -> None:
            self.ready = True

        d = self._job("config", first)
        if d is not None:
            d.addBoth(ready)
        for interval, fn in ((a.recording_hash_interval_s, self._hash_recordings),
                             (a.anchor_interval_s, self._anchor),
                             (a.disk_check_interval_s, self._check_disk),
                             (60.0, self._daily)):
            if interval > 0:
                loop = LoopingCall(fn)
                loop.start(interval, now=True).addErrback(lambda f: log.error("audit loop died: %s", f))
                self.loops.append(loop)

    def stop(self) -> None:
        for loop in self.loops:
            if loop.running:
                loop.stop()
        self.loops.clear()

    def health(self) -> dict[str, Any]:
        return {"recordings_disk": self.disk,
                "audit": {"failures": dict(self.failures), "running": sorted(self.running),
                          "last": {k: round(v, 1) for k, v in self.last.items()}}}

    # ---- jobs ----------------------------------------------------------------------------------------------
    def _job(self, kind: str, fn: Any, in_session: bool = True) -> Any:
        """Run ``fn`` in the pool unless the same kind is still running; log and count failures."""
        if kind in self.running:
            return None
        self.running.add(kind)
        d = self.daemon.db.run_session(fn) if in_session else self.daemon.db.run(fn)

        def ok(result: Any) -> Any:
            self.last[kind] = time.time()
            return result

        def failed(f: Any) -> None:
            self.failures[kind] = self.failures.get(kind, 0) + 1
            log.error("audit job %s failed: %s", kind, f.getErrorMessage())

        def always(result: Any) -> Any:
            self.running.discard(kind)
            return result

        return d.addCallbacks(ok, failed).addBoth(always)

    def _hash_recordings(self) -> None:
        from callcenter.audit.recordings import hash_closed

        d = self._job("recording_hashes", hash_closed)
        if d is not None:
            # the first recording tells where the recordings live: check that disk at once
            d.addCallback(lambda n: self._check_disk() if n and self.disk is None else None)

    def _anchor(self) -> None:
        from callcenter.audit.anchors import write_anchor

        path = anchor_path(self.config)
        self._job("anchor", lambda s: write_anchor(s, path))

    def _check_disk(self) -> None:
        from callcenter.audit.recordings import disk_status, recordings_dir

        a = self.config.audit

        def work() -> dict[str, Any] | None:
            with self.daemon.db.session() as s:
                directory = recordings_dir(s, a.recordings_dir)
            return None if directory is None else disk_status(directory, a.disk_alarm_free_percent,
                                                              a.disk_alarm_free_bytes)

        def done(status: dict[str, Any] | None) -> None:
            if status and status.get("alarm") and not (self.disk or {}).get("alarm"):
                log.error("recording disk alarm: %s", status)
            self.disk = status

        d = self._job("disk", work, in_session=False)
        if d is not None:
            d.addCallback(done)

    def _daily(self, now: datetime | None = None) -> None:
        """Start the purge / the backup once a day, at (or after) their local time."""
        if not getattr(self, "ready", True):
            return  # the last runs are not known yet (a restart must not back up twice a day)
        a = self.config.audit
        local = now or datetime.now(ZoneInfo(self.config.timezone))
        today, hhmm = local.strftime("%Y-%m-%d"), local.strftime("%H:%M")
        if hhmm >= a.purge_at and self.done_day.get("purge") != today:
            self.done_day["purge"] = today
            self.run_purge()
        if a.backup_enabled and hhmm >= a.backup_at and self.done_day.get("backup") != today:
            self.done_day["backup"] = today
            self.run_backup()

    def run_purge(self) -> Any:
        from callcenter.audit import retention

        attachments = self.config.data_path / "attachments"

        def work() -> dict[str, Any]:
            with self.daemon.db.session() as s:
                summary = retention.purge(s, self.config.audit.retention, attachments, actor="daemon:retention")
            summary["files_removed"] = retention.remove_files(summary.pop("files"))
            log.info("retention purge: %s", summary)
            return summary

        return self._job("purge", work, in_session=False)

    def run_backup(self) -> Any:
        from callcenter.audit import backup

        root = backup_root(self.config)

        def work() -> str:
            dest = backup.backup(self.daemon.db, root, self.config.data_path / "attachments")
            removed = backup.rotate(root, self.config.audit.backup_keep)
            log.info("backup written to %s (%d old ones removed)", dest, len(removed))
            return str(dest)

        return self._job("backup", work, in_session=False)


def make_plugin(config: Config) -> AuditPlugin:
    return AuditPlugin(config)
