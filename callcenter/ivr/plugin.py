"""Wires the IVR into the daemon: flow registry + hot reload, the FastAGI server, the ops routes.

The only module of the feature that knows the daemon. Routes served to the dialplan:

* ``agi://host:port/ivr,<did>,<linkedid>``: a new caller; runs the hotline's entry flow;
* ``agi://host:port/ivr-resume,<token>,<status>,<did>,<linkedid>``: a queue or transfer handed
  back (timeout, no answer); continues on the flow version named in the token.

It also sweeps Asterisk's voicemail spool at start-up and every ``ivr.voicemail_sweep_s``
(:mod:`callcenter.ivr.spool`): a message left through the dialplan fallback, e.g. while the daemon
was down, becomes a ``VoicemailLeft`` like the ones IVR sessions publish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from callcenter import events as ev
from callcenter.asterisk.agi.channel import AgiChannel
from callcenter.asterisk.agi.server import FastAgiServer
from callcenter.asterisk.agi.session import AgiSession
from callcenter.asterisk.callerid import clean_name, clean_number
from callcenter.config import Config, HotlineConfig
from callcenter.ivr import prompts, spool
from callcenter.ivr.engine import CallerGone, CallInfo, FlowError, Run
from callcenter.ivr.flows import CheckContext, FlowSet, Problem, fingerprint, load_files, yaml_files
from callcenter.ivr.hours import Clock
from callcenter.ivr.registry import FlowRegistry
from callcenter.logs import mask_number
from callcenter.supervise import SupervisedTask, Supervisor

log = logging.getLogger(__name__)

# AGI commands whose answer waits for the caller (playing, listening, running an application).
MEDIA_COMMANDS = ("STREAM ", "WAIT ", "EXEC ", "GET DATA", "GET OPTION", "RECORD ", "SAY ", "CONTROL ")


def check_context(config: Config) -> CheckContext:
    """What flows may name outside themselves, from the configuration."""
    return CheckContext(
        prompts_dir=Path(config.ivr.prompts_dir),
        queues=frozenset(q.name for q in config.queues),
        trunks=frozenset(t.name for t in config.asterisk.trunks),
    )


def load_flows(config: Config, paths: list[str] | None = None) -> tuple[FlowSet | None, list[Problem]]:
    """Load and check the flows (default: ``ivr.flows_dir``), hotlines' entry flows included."""
    files = yaml_files(paths or [config.ivr.flows_dir])
    flows, problems = load_files(files, check_context(config))
    if flows is not None and paths is None:
        missing = [Problem(config.ivr.flows_dir, 1, f"hotline {h.did}",
                           f"entry flow {h.flow!r} of hotline {h.name!r} is not defined")
                   for h in config.hotlines if h.flow and h.flow not in flows.flows]
        missing += [Problem(config.ivr.flows_dir, 1, f"hotline {h.did}",
                            f"calendar {h.calendar!r} of hotline {h.name!r} (fallback hours) is not defined")
                    for h in config.hotlines if h.calendar and h.calendar not in flows.calendars]
        if missing:
            return None, missing
    return flows, problems


class IvrPlugin:
    name = "ivr"

    def __init__(self, config: Config) -> None:
        self.config = config
        self.registry = FlowRegistry()
        self.clock = Clock()
        self.hotlines: dict[str, HotlineConfig] = {h.did: h for h in config.hotlines}
        # AGI round trips of commands that do not wait for the caller (SET/GET VARIABLE, ...):
        # what our side adds per step; prompts and digit waits last as long as the caller makes them
        self.round_trips: deque[float] = deque(maxlen=200_000)
        self.sessions_total = 0
        self.daemon: Any = None
        self.server: FastAgiServer | None = None
        self._lock: asyncio.Lock | None = None
        self._watch: SupervisedTask | None = None
        self._fingerprint = ""
        # voicemail spool sweeps: channels inside an IVR session now (their session publishes the
        # message it records), and the files of every VoicemailLeft published in this run
        self.spool = spool.SpoolScanner(config.ivr.voicemail_dir)
        self._sweeper: SupervisedTask | None = None
        self._sweep_lock: asyncio.Lock | None = None
        self._in_session: Counter[str] = Counter()
        self._published: dict[str, list[float]] = {}
        self.voicemails_recovered = 0
        self._mailbox_hotline: dict[str, str] = {}
        for h in config.hotlines:
            self._mailbox_hotline.setdefault(h.mailbox or h.did, h.name)

    # ---- lifecycle -------------------------------------------------------------------------------
    def start(self, daemon: Any) -> None:
        self.daemon = daemon
        self._lock = asyncio.Lock()
        # First load at start-up, before any call can arrive. A broken set does not stop the daemon
        # (calls, queues and records must go on): every call takes the dialplan's fallback until
        # a reload succeeds.
        flows, problems = load_flows(self.config)
        self._fingerprint = self._files_fingerprint()
        if flows is None:
            self.registry.refuse(problems)
            log.error("IVR flows are invalid; every call takes the dialplan fallback until they are fixed:\n%s",
                      "\n".join(map(str, problems)))
        else:
            self._sync_prompts()
            self.registry.swap(flows)
            log.info("IVR flows %s loaded (version %s)", ", ".join(sorted(flows.flows)), flows.version)
        self.server = FastAgiServer(read_timeout_s=self.config.ivr.read_timeout_s,
                                    on_round_trip=self._round_trip,
                                    allowed_peers=self.config.agi.allowed_peers, secret=self.config.agi.secret)
        self.server.add_route("ivr", self._on_call)
        self.server.add_route("ivr-resume", self._on_resume)
        self.server.listen(self.config.agi.host, self.config.agi.port)
        # background work under the daemon's supervisor: a failure is logged, counted and restarted
        supervisor = getattr(daemon, "supervisor", None) or Supervisor()
        if self.config.ivr.watch_interval_s > 0:
            self._watch = supervisor.task("ivr-flow-watch", self._watch_files)
        daemon.bus.subscribe("ivr-voicemails", self._on_event)
        self._sweep_lock = asyncio.Lock()
        if getattr(daemon, "db", None) is not None and self.config.ivr.voicemail_dir:
            self._sweeper = supervisor.task("voicemail-sweep", self._sweep_voicemails)
        from callcenter.ivr.http import IvrApi

        daemon.mount("ivr", IvrApi(self).app.resource())
        log.info("FastAGI server on %s:%s", self.config.agi.host, self.config.agi.port)

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self.server is not None:
            await self.server.stop()

    def _round_trip(self, command: str, seconds: float) -> None:
        if not command.startswith(MEDIA_COMMANDS):
            self.round_trips.append(seconds)

    # ---- reload ------------------------------------------------------------------------------------
    def _files_fingerprint(self) -> str:
        return fingerprint(yaml_files([self.config.ivr.flows_dir]))

    def _sync_prompts(self) -> None:
        target = self.config.ivr.asterisk_sounds_dir
        if target:
            copied = prompts.sync(Path(self.config.ivr.prompts_dir), Path(target))
            if copied:
                log.info("copied %d prompt file(s) to %s", copied, target)

    def _load_in_thread(self) -> tuple[FlowSet | None, list[Problem], str]:
        stamp = self._files_fingerprint()
        flows, problems = load_flows(self.config)
        if flows is not None:
            self._sync_prompts()  # before the swap: the new set's sounds are in place
        return flows, problems, stamp

    async def reload(self, source: str = "request") -> dict[str, Any]:
        """Validate every flow, then swap the set in at once; a broken set changes nothing."""
        assert self._lock is not None
        async with self._lock:
            loop = asyncio.get_running_loop()
            flows, problems, stamp = await loop.run_in_executor(None, self._load_in_thread)
            self._fingerprint = stamp
            if flows is None:
                self.registry.refuse(problems)
                log.error("IVR reload (%s) refused, version %s stays:\n%s", source, self.registry.current.version,
                          "\n".join(map(str, problems)))
                return {"ok": False, "version": self.registry.current.version,
                        "problems": [str(p) for p in problems]}
            changed = self.registry.swap(flows)
            log.info("IVR reload (%s): version %s%s", source, flows.version, "" if changed else " (unchanged)")
            return {"ok": True, "version": flows.version, "changed": changed, "flows": sorted(flows.flows)}

    async def _watch_files(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.config.ivr.watch_interval_s)
            try:
                stamp = await loop.run_in_executor(None, self._files_fingerprint)
                if stamp != self._fingerprint:
                    await self.reload(source="file change")
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("IVR flow watcher failed; retrying")

    # ---- FastAGI routes ------------------------------------------------------------------------------
    def _channel(self, session: AgiSession) -> AgiChannel:
        ivr = self.config.ivr
        return AgiChannel(session, ivr.asterisk_sounds_dir or str(Path(ivr.prompts_dir).absolute()),
                          ivr.voicemail_dir)

    def _call_info(self, session: AgiSession, did: str, linkedid: str) -> tuple[CallInfo, HotlineConfig]:
        h = self.hotlines.get(did) or self.config.hotlines[0]
        headers = session.headers
        uniqueid = headers.get("agi_uniqueid", "")
        info = CallInfo(
            linkedid=linkedid or uniqueid, uniqueid=uniqueid,
            caller_number=clean_number(headers.get("agi_callerid", "")),
            caller_name=clean_name(headers.get("agi_calleridname", "")), did=did, hotline=h.name,
            default_queue=h.queue, mailbox=h.mailbox or h.did, max_wait=h.max_wait,
        )
        return info, h

    async def _on_call(self, session: AgiSession) -> None:
        with self._session_of(session):
            await self._call(session)

    async def _on_resume(self, session: AgiSession) -> None:
        with self._session_of(session):
            await self._resume(session)

    @contextlib.contextmanager
    def _session_of(self, session: AgiSession) -> Iterator[None]:
        channel = session.headers.get("agi_channel", "")
        self._in_session[channel] += 1
        try:
            yield
        finally:
            self._in_session[channel] -= 1
            if self._in_session[channel] <= 0:
                del self._in_session[channel]

    async def _call(self, session: AgiSession) -> None:
        args = [*session.args, "", ""]
        self.sessions_total += 1
        call, hotline = self._call_info(session, args[0], args[1])
        channel = self._channel(session)
        run = Run(self.registry.current, channel, call, self.daemon.bus.publish, self.clock)
        if not hotline.flow:
            await channel.hand_off({"CC_IVR_NEXT": "queue", "CC_IVR_QUEUE": hotline.queue,
                                    "CC_IVR_MAX_WAIT": str(hotline.max_wait), "CC_IVR_RESUME": ""})
            return
        await self._guarded(run, run.start(hotline.flow))

    async def _resume(self, session: AgiSession) -> None:
        args = [*session.args, "", "", "", ""]
        token, status, did, linkedid = args[:4]
        call, _hotline = self._call_info(session, did, linkedid)
        version, _, rest = token.partition("|")
        flow, _, node = rest.partition("|")
        flows = self.registry.get(version)
        if flows is None:
            log.warning("flow version %s is gone (restart?); resuming %s/%s on %s", version, flow, node,
                        self.registry.current.version)
            flows = self.registry.current
        run = Run(flows, self._channel(session), call, self.daemon.bus.publish, self.clock)
        await self._guarded(run, run.resume(flow, node, status))

    async def _guarded(self, run: Run, work: Any) -> None:
        try:
            await work
        except CallerGone as exc:
            log.info("caller %s left the IVR in %s: %s", run.call.linkedid, run.flow, exc)
        except FlowError as exc:
            log.error("IVR flow error for %s: %s; dialplan fallback", run.call.linkedid, exc)
            self.daemon.bus.publish(ev.IvrStep(ts=time.time(), linkedid=run.call.linkedid, flow=run.flow,
                                               node="", kind="error", result="fallback"))
            try:
                await run.channel.hand_off({"CC_IVR_NEXT": "fallback"})
            except CallerGone:
                pass

    # ---- voicemail spool ------------------------------------------------------------------------------
    def _on_event(self, event: Any) -> None:
        if isinstance(event, ev.VoicemailLeft):
            self._published.setdefault(event.path, []).append(event.ts)

    async def _sweep_voicemails(self) -> None:
        loop = asyncio.get_running_loop()
        writer = getattr(self.daemon, "writer", None)
        # rows a previous run journaled but never committed go to the database first; until they are
        # in, a sweep could not see them
        backlog_written = writer is None
        while True:
            try:
                if not backlog_written:
                    backlog_written = await loop.run_in_executor(None, writer.wait_idle, 30.0)  # type: ignore[union-attr]
                    if not backlog_written:
                        log.warning("voicemail sweep waits: the journal backlog is not in the database yet")
                if backlog_written:
                    await self.reconcile_voicemails()
            except asyncio.CancelledError:
                raise
            except (SQLAlchemyError, OSError) as exc:
                log.warning("voicemail sweep failed (%s: %s); next one in %s s", type(exc).__name__, exc,
                            self.config.ivr.voicemail_sweep_s)
            except Exception:
                log.exception("voicemail sweep failed; next one in %s s", self.config.ivr.voicemail_sweep_s)
            if self.config.ivr.voicemail_sweep_s <= 0 and backlog_written:
                return
            await asyncio.sleep(self.config.ivr.voicemail_sweep_s or 5.0)

    async def reconcile_voicemails(self) -> int:
        """One sweep of the spool: a ``VoicemailLeft`` for each message with no row; how many."""
        assert self._sweep_lock is not None
        async with self._sweep_lock:
            loop = asyncio.get_running_loop()
            found = await loop.run_in_executor(None, self.spool.scan)
            if not found:
                return 0
            rows = await loop.run_in_executor(None, spool.rows_for, self.daemon.db, [m.audio for m in found])
            # decided here, on the reactor: the sessions and published files are as they are now
            made = 0
            for message in found:
                if spool.covered(message, rows.get(message.audio, ())) or spool.covered(
                        message, self._published.get(message.audio, ())):
                    self.spool.settle(message)
                    continue
                if message.callerchan and message.callerchan in self._in_session:
                    continue  # its IVR session is still running: it publishes the message itself
                event = message.event(self._mailbox_hotline.get(message.mailbox))
                log.info("voicemail %s (%s, caller %s, %s s) had no record: recorded now as %s, reason %s",
                         message.audio, message.mailbox, mask_number(message.caller_number) or "unknown",
                         message.duration_s, event.linkedid, event.reason)
                self.daemon.bus.publish(event)
                self.spool.settle(message)
                made += 1
            self.voicemails_recovered += made
            return made

    # ---- what the ops routes show ------------------------------------------------------------------
    def stats(self, reset: bool = False) -> dict[str, Any]:
        samples = sorted(self.round_trips)
        if reset:
            self.round_trips.clear()

        def pct(p: float) -> float | None:
            if not samples:
                return None
            return round(samples[min(len(samples) - 1, int(p * len(samples)))] * 1000, 3)

        return {"version": self.registry.current.version, "sessions_total": self.sessions_total,
                "sessions_active": len(self.server.sessions) if self.server is not None else 0,
                "sessions_refused": self.server.refused if self.server is not None else 0,
                "agi_commands": len(samples), "agi_p50_ms": pct(0.50), "agi_p99_ms": pct(0.99),
                "reloads": self.registry.loads, "refused_reloads": self.registry.refusals,
                "voicemail_sweeps": self.spool.scans, "voicemails_recovered": self.voicemails_recovered,
                "last_problems": [str(p) for p in self.registry.last_problems]}

