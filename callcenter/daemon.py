"""The ``callcenter run`` daemon: wires telephony, domain state, persistence and the web together.

This is the only module that knows every part; each part knows only its own inputs. Event flow:

    AMI frame ─▶ translate ─▶ EventBus ─▶ LiveState ─▶ (Redis mirror, web push)
                                      ├─▶ CallRecorder ─▶ RecordWriter ─▶ journal ─▶ database
                                      └─▶ Metrics
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any, BinaryIO

from callcenter.acd.live import LiveState
from callcenter.asterisk.ami.telephony import AmiTelephony
from callcenter.bus import EventBus
from callcenter.calls import records as r
from callcenter.calls.recorder import CallRecorder
from callcenter.config import Config
from callcenter.metrics import Metrics
from callcenter.store import migrate
from callcenter.store.db import Database
from callcenter.store.journal import Journal
from callcenter.store.writer import RecordWriter
from callcenter.supervise import Supervisor

log = logging.getLogger(__name__)


class DaemonError(Exception):
    """The daemon cannot start; the message says what to fix."""


class Daemon:
    def __init__(self, config: Config, migrate_on_start: bool = False) -> None:
        self.config = config
        self.migrate_on_start = migrate_on_start
        self.started_at = time.time()
        from callcenter import files

        # personal data: the data directory and what it holds are the owner's only (files.py)
        files.private_dir(config.data_path)
        for sub in ("journal", "attachments"):
            files.private_dir(config.data_path / sub)
        files.make_private(config.data_path / "callcenter.sqlite")
        self.db = Database(config.effective_database_url)
        self.journal = Journal(config.journal_dir)
        self.metrics = Metrics()
        # every background thread, loop and task runs under it (plugins too: daemon.supervisor)
        self.supervisor = Supervisor()
        self.writer = RecordWriter(self.db, self.journal)
        self.bus = EventBus()
        self.live = LiveState()
        self.recorder = CallRecorder(
            sink=self._record, threshold_s=config.kpi.threshold_s,
            hotlines={h.did: h.name for h in config.hotlines},
        )
        self.bus.subscribe("live", self.live.apply)
        self.bus.subscribe("recorder", self.recorder.apply)
        self.bus.subscribe("metrics", self.metrics.apply)
        self.capture: BinaryIO | None = None
        self.catchup: Any = None
        self.telephony: AmiTelephony | None = None
        self.redis: Any = None
        self.web_port: Any = None
        # web resources by URL prefix, mounted when the web server starts (see mount())
        self.web_mounts: dict[str, Any] = {}
        from callcenter.plugins import load_plugins

        self.extensions: list[Any] = load_plugins(config)

    # ---- records -----------------------------------------------------------------------------------
    def _record(self, record: Any) -> None:
        self.writer.put(record)
        self.metrics.record(record)
        if isinstance(record, r.RecordingRecord) and record.ended_at is not None and record.size_bytes is None:
            from twisted.internet import reactor

            # MixMonitor closes the file just after the hang-up: look a moment later.
            reactor.callLater(1.0, self._verify_recording, record)

    def _verify_recording(self, record: r.RecordingRecord) -> None:
        from twisted.internet import threads

        def stat() -> int | None:
            try:
                return os.stat(record.path).st_size
            except OSError:
                return None

        def done(size: int | None) -> None:
            if size is None:
                log.error("recording %s is missing after the call %s", record.path, record.linkedid)
                size = 0
            record.size_bytes = size
            self.writer.put(record)

        threads.deferToThread(stat).addCallback(done)

    # ---- lifecycle -------------------------------------------------------------------------------
    def check_database(self) -> None:
        url = self.config.effective_database_url
        if self.migrate_on_start:
            migrate.upgrade(url)
        elif not migrate.is_current(url):
            raise DaemonError(
                f"database schema is not current (have {migrate.current_revision(url)}, "
                f"need {migrate.head_revision()}): run 'callcenter db upgrade'"
            )

    def prepare(self) -> None:
        """Blocking start-up checks, before the reactor runs: settings, schema, agents table."""
        if not self.config.ami.secret:
            raise DaemonError("ami.secret is empty: set it in the config file or CALLCENTER_AMI_SECRET")
        self.check_database()
        self._sync_agents()

    def start(self) -> None:
        """Start every part (call from the reactor, after :meth:`prepare`)."""
        self.writer.start(self.supervisor)
        if self.config.ami.capture_file:
            self.capture = open(self.config.ami.capture_file, "ab", buffering=0)
        self.telephony = AmiTelephony(self.config.ami, self.bus.publish, capture=self.capture,
                                      on_frame=lambda _m: self.metrics.ami_frames.inc())
        self.telephony.start()
        if self.config.redis_url:
            from callcenter.live.redis_mirror import RedisMirror

            self.redis = RedisMirror(self.config.redis_url, self.live, node=self.config.node)
            self.live.subscribe(self.redis.on_change)
            self.redis.start(self.supervisor)
        for extension in self.extensions:
            extension.start(self)
        if self.config.asterisk.queue_log:
            from callcenter.calls.catchup import QueueLogCatchUp

            a = self.config.asterisk
            self.catchup = QueueLogCatchUp(a.queue_log, self.db, self.writer, self.recorder,
                                           self.config.kpi.threshold_s, a.queue_log_interval_s,
                                           a.queue_log_lag_s, time.time, a.recordings_dir)
            self.catchup.start(self.supervisor)
        self._start_web()
        log.info("callcenter daemon started (AMI %s:%s, database %s)", self.config.ami.host,
                 self.config.ami.port, self.db.dialect)

    def plugin(self, name: str) -> Any:
        """The started feature called ``name`` (e.g. ``"desk"``), for features built on another."""
        for extension in self.extensions:
            if getattr(extension, "name", None) == name:
                return extension
        raise KeyError(f"no plugin named {name!r}")

    def mount(self, prefix: str, resource: Any) -> None:
        """Serve a twisted.web resource under ``/<prefix>`` (plugins call this in ``start``)."""
        if prefix in self.web_mounts or prefix == "ops":
            raise ValueError(f"web prefix {prefix!r} is taken")
        self.web_mounts[prefix] = resource

    def _start_web(self) -> None:
        from twisted.internet import reactor

        from callcenter.web.server import make_site

        site = make_site(self)
        web = self.config.web
        if web.tls:
            from callcenter.web.server import tls_context

            self.web_port = reactor.listenSSL(web.port, site, tls_context(web.tls_certificate, web.tls_key),
                                              interface=web.host)
        else:
            self.web_port = reactor.listenTCP(web.port, site, interface=web.host)

    def _sync_agents(self) -> None:
        from callcenter.store.models import Agent

        with self.db.session() as session:
            for a in self.config.agents:
                agent = session.get(Agent, a.id)
                if agent is None:
                    session.add(Agent(id=a.id, name=a.name or f"Agent {a.id}"))
                elif a.name and agent.name != a.name:
                    agent.name = a.name

    async def stop(self) -> None:
        self.supervisor.stop()
        for extension in reversed(self.extensions):
            try:
                result = extension.stop()
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.exception("extension %r failed to stop", extension)
        if self.catchup is not None:
            self.catchup.stop()
        if self.web_port is not None:
            from twisted.internet import defer

            await defer.maybeDeferred(self.web_port.stopListening).asFuture(asyncio.get_running_loop())
        if self.telephony is not None:
            await self.telephony.stop()
        if self.redis is not None:
            await self.redis.stop()
        await asyncio.get_running_loop().run_in_executor(None, self.writer.stop)
        if self.capture is not None:
            self.capture.close()
        self.db.dispose()
        log.info("callcenter daemon stopped")

    # ---- what the web and CLI ask ---------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        out = {
            "ami_connected": self.live.connected,
            "database_ok": self.writer.db_ok,
            "writer_backlog_rows": self.writer.backlog,
            "writer_unjournaled_rows": self.writer.unjournaled,
            "journal_ok": self.writer.journal_ok,
            "journal_error": self.writer.journal_error,
            "journal_dir": str(self.journal.dir),
            "dead_letter_rows": self.writer.dead_letter_rows,
            "dead_letters_since_start": self.writer.dead_letters_since_start,
            "background": self.supervisor.status(),
            "background_failures": self.supervisor.failures,
            "redis_ok": None if self.redis is None else self.redis.ok,
            "uptime_s": round(time.time() - self.started_at, 1),
        }
        # features add their own fields (e.g. the recording disk alarm)
        for extension in self.extensions:
            if hasattr(extension, "health"):
                out.update(extension.health())
        return out

