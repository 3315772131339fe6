"""Recover from Asterisk's queue_log the queue stays the daemon did not see on AMI.

AMI events sent while the daemon was down or restarting are gone; app_queue also writes every queue
stay to queue_log. This follower reads that file (from the start when the daemon starts, then what is
appended), groups lines by caller, and once a caller's last stay ended ``lag`` seconds ago reconciles
them with the database: stays missing from it are added, stays left unfinished ('waiting', 'left')
get their real outcome. Callers the live recorder is following are left to it. Everything written goes
through the record writer (journal, idempotent upserts), so running it twice changes nothing.

Limits: queue_log has no DID, hotline or caller name, so a call recovered from it carries only the
caller's number; timestamps are whole seconds.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.asterisk.queue_log import parse_lines
from callcenter.calls import records as r
from callcenter.calls.recorder import CallRecorder
from callcenter.kpi.service_level import caller_wait_s
from callcenter.store import models as m
from callcenter.store.rows import record_from_row

log = logging.getLogger(__name__)

# The queue_log events after which a caller's stay is over.
TERMINAL = frozenset({
    "COMPLETECALLER", "COMPLETEAGENT", "TRANSFER", "BLINDTRANSFER", "ATTENDEDTRANSFER", "ABANDON",
    "EXITWITHTIMEOUT", "EXITEMPTY", "EXITWITHKEY",
})
# Lines about members, not callers.
MEMBER_EVENTS = frozenset({
    "ADDMEMBER", "REMOVEMEMBER", "PAUSE", "UNPAUSE", "PAUSEALL", "UNPAUSEALL", "AGENTLOGIN", "AGENTLOGOFF",
    "QUEUESTART", "CONFIGRELOAD", "PENALTY",
})
UNFINISHED = frozenset({r.WAITING, r.LEFT})
# Fields queue_log brings to a stay that was connected but never completed.
COMPLETION_FIELDS = ("completed_at", "talk_s", "complete_reason", "agent", "connected_at", "hold_s", "left_at")
# Fields a recovered stay brings to an unfinished row (its id and entry time stay).
OUTCOME_FIELDS = ("outcome", "left_at", "hold_s", "agent", "agent_uniqueid", "connected_at", "ring_s",
                  "completed_at", "talk_s", "complete_reason", "abandon_hold_s", "exit_key")


@dataclass
class _Caller:
    lines: list[str] = field(default_factory=list)
    last_ts: float = 0.0
    ended: bool = False


class QueueLogFollower:
    """Reads a queue_log incrementally and hands out callers whose stays are over."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.offset = 0
        self._partial = b""
        self.callers: dict[str, _Caller] = {}

    def read(self) -> int:
        """Read what was appended since the last call (from the start after a rotation); lines read."""
        try:
            size = os.path.getsize(self.path)
        except OSError:
            return 0
        if size < self.offset:  # rotated or truncated
            self.offset, self._partial = 0, b""
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = self._partial + f.read()
            self.offset = f.tell()
        *lines, self._partial = data.split(b"\n")
        for raw in lines:
            self._add(raw.decode("utf-8", "replace"))
        return len(lines)

    def _add(self, line: str) -> None:
        fields = line.split("|")
        if len(fields) < 5 or fields[1] in ("NONE", "") or fields[4] in MEMBER_EVENTS:
            return  # queue-wide lines (QUEUESTART) and member lines (ADDMEMBER) carry no caller
        try:
            ts = float(fields[0])
        except ValueError:
            return
        caller = self.callers.setdefault(fields[1], _Caller())
        caller.lines.append(line)
        caller.last_ts = ts
        caller.ended = fields[4] in TERMINAL

    def ripe(self, now: float, lag: float) -> dict[str, list[str]]:
        """Remove and return the callers whose last stay ended at least ``lag`` seconds ago."""
        done = {cid: c.lines for cid, c in self.callers.items() if c.ended and c.last_ts <= now - lag}
        for cid in done:
            del self.callers[cid]
        return done


def find_recording(recordings_dir: str | None, linkedid: str, around: float) -> tuple[str, int] | None:
    """The MixMonitor file of ``linkedid`` (the dialplan's ``<dir>/YYYY/MM/DD/<linkedid>.wav``), with its size.

    Asterisk names the day in its own time zone: the days either side of ``around`` are looked at too.
    """
    if not recordings_dir or not linkedid or "/" in linkedid or linkedid.startswith("."):
        return None
    seen = set()
    for shift in (0, -86400, 86400):
        for day in (datetime.fromtimestamp(around + shift), datetime.fromtimestamp(around + shift, UTC)):
            path = os.path.join(recordings_dir, day.strftime("%Y/%m/%d"), f"{linkedid}.wav")
            if path in seen:
                continue
            seen.add(path)
            try:
                st = os.stat(path)
            except OSError:
                continue
            return path, st.st_size
    return None


def recover(session: Session, callers: dict[str, list[str]], threshold_s: int,
            recordings_dir: str | None = None) -> list[Any]:
    """The records to write so the database holds what queue_log says about these callers."""
    offline = CallRecorder(sink=lambda _rec: None, threshold_s=threshold_s, retention_s=None)
    for event in parse_lines(line for lines in callers.values() for line in lines):
        offline.apply(event)
    offline.finish()
    ids = list(callers)
    rows: dict[str, list[m.QueueEntry]] = {}
    for chunk in _chunks(ids, 500):
        for row in session.scalars(select(m.QueueEntry).where(m.QueueEntry.uniqueid.in_(chunk))):
            rows.setdefault(row.uniqueid, []).append(row)
    calls = {c.linkedid: c for chunk in _chunks(ids, 500)
             for c in session.scalars(select(m.Call).where(m.Call.linkedid.in_(chunk)))}
    recordings = {rec.linkedid: rec for chunk in _chunks(ids, 500)
                  for rec in session.scalars(select(m.Recording).where(m.Recording.linkedid.in_(chunk)))}
    out: list[Any] = []
    for call in offline.ended.values():
        out.extend(_reconcile(call, rows.get(call.linkedid, []), calls.get(call.linkedid), threshold_s,
                              recordings_dir, recordings.get(call.linkedid)))
    return out


def _reconcile(found: r.CallRecord, db_rows: list[m.QueueEntry], db_call: m.Call | None,
               threshold_s: int, recordings_dir: str | None = None,
               db_recording: m.Recording | None = None) -> list[Any]:
    out: list[Any] = []
    entries: list[r.QueueEntryRecord] = []
    for stay in found.entries:
        # queue_log writes whole seconds taken a moment after AMI's timestamp: allow one second
        match = next((row for row in db_rows if row.queue == stay.queue
                      and abs(int(m.epoch(row.entered_at) or 0) - int(stay.entered_at)) <= 1), None)
        if match is None:
            entries.append(stay)
            out.append(stay)
            continue
        entry = record_from_row(r.QueueEntryRecord, match)
        if entry.outcome in UNFINISHED and stay.outcome not in UNFINISHED:
            for name in OUTCOME_FIELDS:
                setattr(entry, name, getattr(stay, name))
            out.append(entry)
        elif entry.completed_at is None and stay.completed_at is not None:
            # Connected but never completed (the daemon died during the talk): queue_log has the end.
            for name in COMPLETION_FIELDS:
                if getattr(entry, name) is None or name in ("completed_at", "talk_s", "complete_reason"):
                    setattr(entry, name, getattr(stay, name))
            if stay.outcome == r.TRANSFERRED or entry.outcome in UNFINISHED:
                entry.outcome = stay.outcome
            out.append(entry)
        entries.append(entry)
    if not out:
        return []
    if db_call is None:
        call = found
    else:
        call = record_from_row(r.CallRecord, db_call)
    call.entries = sorted(entries, key=lambda e: e.entered_at)
    connected = next((e for e in call.entries if e.connected), None)
    if connected is not None and call.answered_at is None:
        call.answered_at, call.answered_by, call.answered_queue = (
            connected.connected_at, connected.agent, connected.queue)
        call.wait_s = caller_wait_s(call.entries, connected)
        call.answered_within_sl = call.wait_s <= threshold_s
    if call.first_queued_at is None and call.entries:
        call.first_queued_at, call.first_queue = call.entries[0].entered_at, call.entries[0].queue
    if call.ended_at is None:
        call.ended_at = max(e.completed_at or e.left_at or e.entered_at for e in call.entries)
    if db_recording is not None and (db_recording.size_bytes is None or db_recording.ended_at is None):
        # Started before the daemon died; nobody saw the call end: finish it from the file.
        rec = record_from_row(r.RecordingRecord, db_recording)
        rec.ended_at = rec.ended_at or call.ended_at
        try:
            rec.size_bytes = os.stat(rec.path).st_size
        except OSError:
            rec.size_bytes = 0
        call.recording_path = call.recording_path or rec.path
        out.append(rec)
    elif call.recording_path is None and connected is not None:
        found_file = find_recording(recordings_dir, call.linkedid, call.entries[0].entered_at)
        if found_file is not None:
            call.recording_path = found_file[0]
            out.append(r.RecordingRecord(path=found_file[0], linkedid=call.linkedid,
                                         started_at=call.entries[0].entered_at, ended_at=call.ended_at,
                                         size_bytes=found_file[1]))
    if call.disposition in ("in-progress", "queued", *UNFINISHED) or connected is not None:
        call.disposition = CallRecorder.disposition(call)
    out.append(call)
    return out


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


class QueueLogCatchUp:
    """Periodically reconciles the database with queue_log (runs its file and SQL work in threads)."""

    def __init__(self, path: str, db: Any, writer: Any, recorder: CallRecorder, threshold_s: int,
                 interval_s: float, lag_s: float, clock: Callable[[], float],
                 recordings_dir: str | None = None) -> None:
        self.follower = QueueLogFollower(path)
        self.db, self.writer, self.recorder = db, writer, recorder
        self.threshold_s, self.interval_s, self.lag_s, self.clock = threshold_s, interval_s, lag_s, clock
        self.recordings_dir = recordings_dir
        self.recovered = 0
        self._loop: Any = None
        self._busy = False

    def start(self, supervisor: Any = None) -> None:
        from callcenter.supervise import Supervisor

        self._loop = (supervisor or Supervisor()).looping("queue-log-catchup", self.tick, self.interval_s, now=True)

    def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()

    def _followed_live(self, callid: str) -> bool:
        rec = self.recorder
        call = rec.calls.get(callid) or rec.ended.get(callid)
        if call is None:
            return False
        # Known and complete: the live path has it. Known but with stays left unfinished (AMI dropped
        # while Asterisk stayed up): queue_log knows better.
        return call.ended_at is not None and all(e.outcome not in UNFINISHED for e in call.entries)

    def tick(self) -> Any:
        """One pass: read new lines, reconcile ripe callers (skipped while the database is behind)."""
        from twisted.internet import threads

        if self._busy or not self.writer.db_ok or self.writer.backlog:
            return None
        self._busy = True
        now = self.clock()

        def read() -> dict[str, list[str]]:
            self.follower.read()
            return self.follower.ripe(now, self.lag_s)

        def pick(callers: dict[str, list[str]]) -> Any:
            todo = {cid: lines for cid, lines in callers.items() if not self._followed_live(cid)}
            if not todo:
                return []
            return self.db.run_session(lambda s: recover(s, todo, self.threshold_s, self.recordings_dir))

        def write(records: list[Any]) -> None:
            for record in records:
                self.writer.put(record)
            calls = sum(isinstance(rec, r.CallRecord) for rec in records)
            if calls:
                self.recovered += calls
                log.warning("recovered %d call(s) from queue_log that AMI did not deliver", calls)

        def done(result: Any) -> Any:
            self._busy = False
            return None

        d = threads.deferToThread(read).addCallback(pick).addCallback(write)
        d.addErrback(lambda f: log.error("queue_log catch-up failed: %s", f.getErrorMessage()))
        return d.addBoth(done)
