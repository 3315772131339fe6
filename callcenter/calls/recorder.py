"""Builds call records from domain events: one explicit handler per event type.

The same recorder runs live in the daemon (its records go to the database through the
journal) and offline in ``callcenter kpi replay`` (records feed the KPI directly), which is what
makes the replayed KPI equal the live one.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from callcenter import events as ev
from callcenter.calls import records as r
from callcenter.kpi.service_level import caller_wait_s

log = logging.getLogger(__name__)

Record = (
    r.CallRecord | r.QueueEntryRecord | r.AgentSessionRecord | r.AgentPauseRecord | r.RecordingRecord
    | r.VoicemailRecord
)
Sink = Callable[[Record], None]

# Ended calls stay in memory this long (event time) for late events such as AgentComplete.
ENDED_RETENTION_S = 300.0
# IVR events (FastAGI) can arrive before AMI's Newchannel of their call: they wait this long (event
# time), for at most this many calls; then the call is started from them alone (a partial row that
# Newchannel or the queue_log catch-up completes later).
EARLY_HOLD_S = 20.0
EARLY_MAX_CALLS = 5000


def entry_id(uniqueid: str, entered_at: float) -> str:
    return f"{uniqueid}@{entered_at:.6f}"


class CallRecorder:
    """Turns telephony events into call, queue-entry, recording and agent-session records."""

    def __init__(
        self,
        sink: Sink,
        threshold_s: int = 15,
        hotlines: dict[str, str] | None = None,
        inbound_contexts: Iterable[str] = ("from-trunk",),
        retention_s: float | None = ENDED_RETENTION_S,
    ) -> None:
        self.sink = sink
        self.retention_s = retention_s
        self.threshold_s = threshold_s
        self.hotlines = dict(hotlines or {})
        self.inbound_contexts = frozenset(inbound_contexts)
        self.calls: dict[str, r.CallRecord] = {}
        self.ended: OrderedDict[str, r.CallRecord] = OrderedDict()
        # (uniqueid, queue) → the caller's current or last entry in that queue
        self.entries: dict[tuple[str, str], r.QueueEntryRecord] = {}
        # (agent, queue) → the stay the agent is talking to (AgentComplete may come without the caller)
        self.talking: dict[tuple[str, str], r.QueueEntryRecord] = {}
        self.sessions: dict[tuple[str, str], r.AgentSessionRecord] = {}
        self.pauses: dict[tuple[str, str], r.AgentPauseRecord] = {}
        self.recordings: dict[str, r.RecordingRecord] = {}
        # linkedid → IVR events that came before the call's Newchannel
        self._early: OrderedDict[str, list[Any]] = OrderedDict()
        # linkedid → calls known only from IVR events (no Newchannel within EARLY_HOLD_S)
        self.partial: OrderedDict[str, r.CallRecord] = OrderedDict()
        # linkedids of recent calls that are not callers' (their IVR events are ignored)
        self._foreign: OrderedDict[str, None] = OrderedDict()
        self._handlers: dict[type, Callable[[Any], None]] = {
            ev.ChannelCreated: self._on_channel,
            ev.ChannelHungUp: self._on_hangup,
            ev.RecordingStarted: self._on_recording,
            ev.CallerJoinedQueue: self._on_join,
            ev.AgentConnected: self._on_connect,
            ev.AgentCompleted: self._on_complete,
            ev.CallerAbandoned: self._on_abandon,
            ev.CallerLeftQueue: self._on_leave,
            ev.QueueExited: self._on_exit,
            ev.MemberAdded: self._on_member_added,
            ev.MemberRemoved: self._on_member_removed,
            ev.MemberPaused: self._on_member_paused,
            ev.QueueStatusSnapshot: self._on_snapshot,
            ev.ActiveChannels: self._on_active_channels,
            ev.FlowEntered: self._on_flow,
            ev.IvrStep: self._on_ivr_step,
            ev.CallTagged: self._on_tags,
            ev.VoicemailLeft: self._on_voicemail,
            ev.CallTransferredOut: self._on_transfer_out,
            ev.OutboundCallStarted: self._on_outbound,
            ev.OutboundCallEnded: self._on_outbound_end,
        }

    def apply(self, event: Any) -> None:
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    # ---- calls -----------------------------------------------------------------------------------
    def _call(self, linkedid: str) -> r.CallRecord | None:
        return self.calls.get(linkedid) or self.ended.get(linkedid) or self.partial.get(linkedid)

    def _on_channel(self, e: ev.ChannelCreated) -> None:
        self._expire_early(e.ts)
        if e.uniqueid != e.linkedid:
            return
        if e.context not in self.inbound_contexts:
            # Not a caller's call (an agent's, a test's): its IVR events are not recorded, now or later.
            self._early.pop(e.linkedid, None)
            self._foreign[e.linkedid] = None
            if len(self._foreign) > EARLY_MAX_CALLS:
                self._foreign.popitem(last=False)
            return
        known = self.calls.get(e.linkedid) or self.partial.pop(e.linkedid, None)
        if known is not None:
            # Started earlier from IVR or queue events: complete it, keep what it has.
            known.started_at = min(known.started_at, e.ts)
            known.channel, known.caller_number, known.caller_name, known.did = (
                e.channel, e.caller_number, e.caller_name, e.exten)
            known.hotline = known.hotline or self.hotlines.get(e.exten)
            known.adopted = False
            call = known
        else:
            call = r.CallRecord(
                linkedid=e.linkedid, started_at=e.ts, channel=e.channel, caller_number=e.caller_number,
                caller_name=e.caller_name, did=e.exten, hotline=self.hotlines.get(e.exten),
            )
        self.calls[e.linkedid] = call
        self.sink(call)
        for held in self._early.pop(e.linkedid, ()):
            self.apply(held)

    # ---- IVR events before Newchannel ----------------------------------------------------------------
    def _hold_early(self, e: Any) -> None:
        """Keep an IVR event of a call whose Newchannel has not been seen yet."""
        self._expire_early(e.ts)
        if e.linkedid in self._foreign:
            return
        held = self._early.get(e.linkedid)
        if held is None:
            if len(self._early) >= EARLY_MAX_CALLS:
                self._start_partial(*self._early.popitem(last=False))
            held = self._early[e.linkedid] = []
        held.append(e)

    def _expire_early(self, now: float) -> None:
        while self._early:
            linkedid, held = next(iter(self._early.items()))
            if held[0].ts >= now - EARLY_HOLD_S:
                break
            del self._early[linkedid]
            self._start_partial(linkedid, held)

    def _start_partial(self, linkedid: str, held: list[Any]) -> None:
        log.warning("no Newchannel for call %s within %.0f s of its IVR events: recorded from them", linkedid,
                    EARLY_HOLD_S)
        if len(self.partial) >= EARLY_MAX_CALLS:
            self.partial.popitem(last=False)
        self.partial[linkedid] = r.CallRecord(linkedid=linkedid, started_at=held[0].ts)
        for event in held:
            self.apply(event)

    def _call_for_queue(self, e: ev.CallerJoinedQueue) -> r.CallRecord:
        call = self._call(e.linkedid)
        if call is None:
            # A caller we did not see arrive (daemon started mid-call, or queue_log replay).
            call = r.CallRecord(
                linkedid=e.linkedid, started_at=e.ts, channel=e.channel, caller_number=e.caller_number,
                caller_name=e.caller_name, adopted=True,
            )
            self.calls[e.linkedid] = call
        return call

    def _on_recording(self, e: ev.RecordingStarted) -> None:
        call = self._call(e.linkedid)
        if call is not None:
            call.recording_path = e.path
            self.sink(call)
        rec = r.RecordingRecord(path=e.path, linkedid=e.linkedid, started_at=e.ts)
        self.recordings[e.linkedid] = rec
        self.sink(rec)

    def _on_hangup(self, e: ev.ChannelHungUp) -> None:
        if e.uniqueid != e.linkedid:
            return
        call = self.calls.pop(e.linkedid, None) or self.partial.pop(e.linkedid, None)
        if call is None:
            return
        self._end_call(call, e.ts, e.cause)

    def _end_call(self, call: r.CallRecord, ts: float, cause: int | None) -> None:
        call.ended_at = ts
        call.hangup_cause = cause
        for entry in call.entries:
            if entry.outcome == r.WAITING:
                entry.outcome = r.ABANDONED if entry.left_at is None else r.LEFT
                if entry.left_at is None:
                    entry.left_at = ts
                    entry.hold_s = int(ts) - int(entry.entered_at)
                self.sink(entry)
        call.disposition = self.disposition(call)
        self.sink(call)
        rec = self.recordings.pop(call.linkedid, None)
        if rec is not None:
            rec.ended_at = ts
            self.sink(rec)
        self.ended[call.linkedid] = call
        self._purge(ts)

    def _purge(self, now: float) -> None:
        if self.retention_s is None:  # offline replay: keep everything
            return
        while self.ended:
            _linkedid, call = next(iter(self.ended.items()))
            if call.ended_at is not None and now - call.ended_at < self.retention_s:
                break
            self.ended.popitem(last=False)
            for entry in call.entries:
                key = (entry.uniqueid, entry.queue)
                if self.entries.get(key) is entry:
                    del self.entries[key]

    @staticmethod
    def disposition(call: r.CallRecord) -> str:
        """answered | transferred | voicemail | transferred-out | <last queue outcome> | ivr-only;
        outbound calls: outbound-<dial status> (outbound-answer, outbound-busy, ...)."""
        if call.direction == "outbound":
            return call.disposition
        if call.answered_at is not None:
            last_connected = [e for e in call.entries if e.connected][-1]
            return r.TRANSFERRED if last_connected.outcome == r.TRANSFERRED else r.ANSWERED
        if call.disposition in ("voicemail", "transferred-out"):
            return call.disposition
        if call.entries:
            return call.entries[-1].outcome
        return "ivr-only"

    # ---- click-to-call ----------------------------------------------------------------------------
    def _on_outbound(self, e: ev.OutboundCallStarted) -> None:
        """An outbound call is a call record like any other, with no queue entry (so outside the KPI)."""
        call = self._call(e.linkedid)
        if call is None:
            call = r.CallRecord(linkedid=e.linkedid, started_at=e.ts)
            self.calls[e.linkedid] = call
        call.direction = "outbound"
        call.caller_number = e.number
        call.did = e.hotline
        call.hotline = self.hotlines.get(e.hotline)
        call.answered_by = e.agent or None
        call.order_number = e.order or None
        call.disposition = "outbound-dialling"
        self.sink(call)

    def _on_outbound_end(self, e: ev.OutboundCallEnded) -> None:
        call = self._call(e.linkedid)
        if call is None or call.direction != "outbound":
            return
        call.disposition = f"outbound-{e.dial_status.lower() or 'unknown'}"
        self.sink(call)

    # ---- queue entries ----------------------------------------------------------------------------
    def _on_join(self, e: ev.CallerJoinedQueue) -> None:
        call = self._call_for_queue(e)
        entry = r.QueueEntryRecord(
            id=entry_id(e.uniqueid, e.ts), linkedid=e.linkedid, uniqueid=e.uniqueid, queue=e.queue,
            entered_at=e.ts, position=e.position, caller_number=e.caller_number, caller_name=e.caller_name,
        )
        self.entries[(e.uniqueid, e.queue)] = entry
        call.entries.append(entry)
        if call.first_queued_at is None:
            call.first_queued_at = e.ts
            call.first_queue = e.queue
            call.disposition = "queued"
            self.sink(call)
        self.sink(entry)

    def _entry(self, uniqueid: str, queue: str) -> r.QueueEntryRecord | None:
        entry = self.entries.get((uniqueid, queue))
        if entry is None:
            log.debug("queue event for unknown entry %s in %s", uniqueid, queue)
        return entry

    def _on_connect(self, e: ev.AgentConnected) -> None:
        entry = self._entry(e.uniqueid, e.queue)
        if entry is None:
            return
        entry.connected_at = e.ts
        entry.agent, entry.agent_uniqueid = e.agent, e.agent_uniqueid
        entry.hold_s, entry.ring_s = e.hold_s, e.ring_s
        entry.outcome = r.ANSWERED
        if entry.left_at is None:
            entry.left_at = e.ts
        self.talking[(e.agent, e.queue)] = entry
        self.sink(entry)
        call = self._call(entry.linkedid)
        if call is not None and call.answered_at is None:
            call.answered_at = e.ts
            call.answered_by = e.agent
            call.answered_queue = e.queue
            call.wait_s = caller_wait_s(call.entries, entry)
            call.answered_within_sl = call.wait_s <= self.threshold_s
            call.disposition = r.ANSWERED
            self.sink(call)

    def _on_complete(self, e: ev.AgentCompleted) -> None:
        talking = self.talking.pop((e.agent, e.queue), None)
        # Asterisk 22 sometimes sends AgentComplete without the caller's channel fields (its
        # snapshot is gone): the stay is then the one this agent was talking to in this queue.
        entry = self._entry(e.uniqueid, e.queue) if e.uniqueid else talking
        if entry is None:
            return
        entry.completed_at = e.ts
        entry.talk_s = e.talk_s
        entry.complete_reason = e.reason
        if entry.connected_at is None:
            # queue_log without CONNECT, or a missed AgentConnect: the hold is still known.
            entry.connected_at = e.ts - e.talk_s
            entry.hold_s = e.hold_s
            entry.agent = e.agent
        if e.reason == "transfer":
            entry.outcome = r.TRANSFERRED
        elif entry.outcome == r.WAITING:
            entry.outcome = r.ANSWERED
        self.sink(entry)
        call = self._call(entry.linkedid)
        if call is not None and call.ended_at is not None:
            call.disposition = self.disposition(call)
            self.sink(call)

    def _on_abandon(self, e: ev.CallerAbandoned) -> None:
        entry = self._entry(e.uniqueid, e.queue)
        if entry is None:
            return
        entry.abandon_hold_s = e.hold_s
        entry.hold_s = e.hold_s
        if not entry.connected:
            entry.outcome = r.ABANDONED
        entry.left_at = entry.left_at or e.ts
        self.sink(entry)

    def _on_leave(self, e: ev.CallerLeftQueue) -> None:
        entry = self._entry(e.uniqueid, e.queue)
        if entry is None or entry.connected:
            return
        if entry.left_at is None:
            entry.left_at = e.ts
        if entry.hold_s is None:
            entry.hold_s = int(e.ts) - int(entry.entered_at)
        self.sink(entry)

    def _on_exit(self, e: ev.QueueExited) -> None:
        entry = self._entry(e.uniqueid, e.queue)
        if entry is None or entry.connected:
            return
        outcome = r.EXIT_OUTCOMES.get(e.status)
        if outcome is None:
            # CONTINUE and friends after an unanswered stay: a dialplan-side exit we cannot name.
            outcome = entry.outcome if entry.outcome != r.WAITING else r.LEFT
        entry.outcome = outcome
        if outcome == r.EXIT_WITH_KEY:
            entry.exit_key = e.key or None
        if entry.left_at is None:
            entry.left_at = e.ts
        if e.hold_s is not None:
            entry.hold_s = e.hold_s
        elif entry.hold_s is None:
            entry.hold_s = int(e.ts) - int(entry.entered_at)
        self.sink(entry)
        call = self._call(entry.linkedid)
        if call is not None and call.answered_at is None:
            call.disposition = outcome
            self.sink(call)

    # ---- IVR -----------------------------------------------------------------------------------------
    def _on_flow(self, e: ev.FlowEntered) -> None:
        call = self._call(e.linkedid)
        if call is None:
            self._hold_early(e)
            return
        if call.flow is None:
            call.flow = e.flow
        if e.hotline and not call.hotline:
            call.hotline = e.hotline
        call.ivr_path.append({"ts": e.ts, "flow": e.flow, "node": "", "kind": "flow", "result": e.version})
        self.sink(call)

    def _on_ivr_step(self, e: ev.IvrStep) -> None:
        call = self._call(e.linkedid)
        if call is None:
            self._hold_early(e)
            return
        call.ivr_path.append({"ts": e.ts, "flow": e.flow, "node": e.node, "kind": e.kind, "result": e.result,
                              "duration_ms": e.duration_ms})
        self.sink(call)

    def _on_tags(self, e: ev.CallTagged) -> None:
        call = self._call(e.linkedid)
        if call is None:
            self._hold_early(e)
            return
        call.tags.update(dict(e.tags))
        self.sink(call)

    def _on_voicemail(self, e: ev.VoicemailLeft) -> None:
        vm = r.VoicemailRecord(
            id=f"{e.linkedid}@{e.ts:.6f}", linkedid=e.linkedid, mailbox=e.mailbox, path=e.path, created_at=e.ts,
            duration_s=e.duration_s, caller_number=e.caller_number, caller_name=e.caller_name,
            hotline=e.hotline, reason=e.reason,
        )
        self.sink(vm)
        call = self._call(e.linkedid)
        if call is not None and call.answered_at is None:
            call.disposition = "voicemail"
            self.sink(call)

    def _on_transfer_out(self, e: ev.CallTransferredOut) -> None:
        call = self._call(e.linkedid)
        if call is None:
            return
        call.transferred_to = e.destination
        if call.answered_at is None:
            call.disposition = "transferred-out"
        self.sink(call)

    # ---- agent sessions -----------------------------------------------------------------------------
    def _open_session(self, agent: str, queue: str, interface: str, ts: float) -> None:
        if (agent, queue) in self.sessions:
            return
        session = r.AgentSessionRecord(f"{agent}/{queue}/{ts:.6f}", agent, queue, interface, ts)
        self.sessions[(agent, queue)] = session
        self.sink(session)

    def _close_session(self, agent: str, queue: str, ts: float) -> None:
        self._close_pause(agent, queue, ts)
        session = self.sessions.pop((agent, queue), None)
        if session is not None:
            session.logout_at = ts
            self.sink(session)

    def _open_pause(self, agent: str, queue: str, reason: str, ts: float) -> None:
        current = self.pauses.get((agent, queue))
        if current is not None:
            if current.reason == reason:
                return
            self._close_pause(agent, queue, ts)
        pause = r.AgentPauseRecord(f"{agent}/{queue}/{ts:.6f}", agent, queue, reason, ts)
        self.pauses[(agent, queue)] = pause
        self.sink(pause)

    def _close_pause(self, agent: str, queue: str, ts: float) -> None:
        pause = self.pauses.pop((agent, queue), None)
        if pause is not None:
            pause.ended_at = ts
            self.sink(pause)

    def _on_member_added(self, e: ev.MemberAdded) -> None:
        self._open_session(e.agent, e.queue, e.interface, e.ts)
        if e.paused:
            self._open_pause(e.agent, e.queue, e.reason, e.ts)

    def _on_member_removed(self, e: ev.MemberRemoved) -> None:
        self._close_session(e.agent, e.queue, e.ts)

    def _on_member_paused(self, e: ev.MemberPaused) -> None:
        if e.paused:
            self._open_pause(e.agent, e.queue, e.reason, e.ts)
        else:
            self._close_pause(e.agent, e.queue, e.ts)

    def _on_snapshot(self, snap: ev.QueueStatusSnapshot) -> None:
        """After a reconnect: open what Asterisk has that we lack, close what it no longer has."""
        present = {(m.agent, m.queue): m for m in snap.members}
        for key in list(self.sessions):
            if key not in present:
                self._close_session(key[0], key[1], snap.ts)
        for (agent, queue), m in present.items():
            self._open_session(agent, queue, m.interface, float(m.login_time) if m.login_time else snap.ts)
            if m.paused:
                self._open_pause(agent, queue, m.reason, snap.ts)
            else:
                self._close_pause(agent, queue, snap.ts)
        waiting = {(e.uniqueid, e.queue) for e in snap.entries}
        for key, entry in list(self.entries.items()):
            if entry.outcome == r.WAITING and entry.left_at is None and key not in waiting:
                log.warning("caller %s left %s while AMI was disconnected", entry.uniqueid, entry.queue)
                entry.outcome = r.LEFT
                entry.left_at = snap.ts
                self.sink(entry)

    def _on_active_channels(self, e: ev.ActiveChannels) -> None:
        """End calls whose caller channel no longer exists (hung up while we were disconnected)."""
        for linkedid in [lid for lid in self.calls if lid not in e.uniqueids]:
            log.warning("call %s ended while AMI was disconnected", linkedid)
            self._end_call(self.calls.pop(linkedid), e.ts, None)

    def finish(self) -> None:
        """End of an offline replay: close what is still open so every entry has an outcome."""
        for linkedid in list(self.calls):
            call = self.calls.pop(linkedid)
            last = max([call.started_at] + [e.left_at or e.entered_at for e in call.entries])
            self._end_call(call, last, None)

    def all_entries(self) -> list[r.QueueEntryRecord]:
        """Every entry still in memory (a replay with ``retention_s=None`` keeps all of them)."""
        seen: list[r.QueueEntryRecord] = []
        for call in list(self.calls.values()) + list(self.ended.values()):
            seen.extend(call.entries)
        return seen

