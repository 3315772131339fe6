"""Call records built from event sequences, as Asterisk 16 and 22 produce them."""

from __future__ import annotations

from callcenter import events as ev
from callcenter.calls import records as r
from callcenter.calls.recorder import CallRecorder

T = 1_800_000_000.0
CALL = "cc-1.0"


class Sink(list):
    def latest(self, kind: type) -> list:
        seen: dict[int, object] = {}
        for rec in self:
            if isinstance(rec, kind):
                seen[id(rec)] = rec
        return list(seen.values())


def recorder() -> tuple[CallRecorder, Sink]:
    sink = Sink()
    return CallRecorder(sink.append, threshold_s=15, hotlines={"12345": "12345", "96128": "gas"}), sink


def inbound(rec: CallRecorder, did: str = "12345", linkedid: str = CALL, ts: float = T) -> None:
    rec.apply(ev.ChannelCreated(ts, linkedid, linkedid, "PJSIP/carrier-1", "13800000000", "张三", "from-trunk", did))


def join(rec: CallRecorder, queue: str = "main", ts: float = T + 1, linkedid: str = CALL) -> None:
    rec.apply(ev.CallerJoinedQueue(ts, queue, linkedid, linkedid, "PJSIP/carrier-1", 1, 1, "13800000000", "张三"))


def connect(rec: CallRecorder, queue: str = "main", ts: float = T + 4, hold: int = 3) -> None:
    rec.apply(ev.CallerLeftQueue(ts, queue, CALL, CALL, 1, 0))
    rec.apply(ev.AgentConnected(ts, queue, CALL, CALL, "1001", "PJSIP/1001", hold, 1, "cc-1.1", "PJSIP/1001-1"))


def hangup(rec: CallRecorder, ts: float, linkedid: str = CALL) -> None:
    rec.apply(ev.ChannelHungUp(ts, linkedid, linkedid, "PJSIP/carrier-1", 16, "Normal Clearing"))


def test_answered_call() -> None:
    rec, sink = recorder()
    inbound(rec)
    rec.apply(ev.RecordingStarted(T + 1, CALL, CALL, "/rec/cc-1.0.wav"))
    join(rec)
    connect(rec)
    rec.apply(ev.AgentCompleted(T + 34, "main", CALL, CALL, "1001", "PJSIP/1001", 3, 30, "agent"))
    hangup(rec, T + 34)
    [call] = sink.latest(r.CallRecord)
    assert (call.hotline, call.did, call.disposition, call.answered_by, call.wait_s) == ("12345", "12345",
                                                                                         "answered", "1001", 3)
    assert call.answered_within_sl is True and call.ended_at == T + 34
    assert call.recording_path == "/rec/cc-1.0.wav"
    [entry] = sink.latest(r.QueueEntryRecord)
    assert (entry.outcome, entry.hold_s, entry.talk_s, entry.complete_reason) == ("answered", 3, 30, "agent")
    [recording] = sink.latest(r.RecordingRecord)
    assert recording.ended_at == T + 34


def test_abandoned_call() -> None:
    rec, sink = recorder()
    inbound(rec)
    join(rec)
    rec.apply(ev.CallerAbandoned(T + 6, "main", CALL, CALL, 1, 1, 5))
    rec.apply(ev.CallerLeftQueue(T + 6, "main", CALL, CALL, 1, 0))
    hangup(rec, T + 6)
    [call] = sink.latest(r.CallRecord)
    [entry] = sink.latest(r.QueueEntryRecord)
    assert call.disposition == "abandoned" and call.wait_s is None
    assert (entry.outcome, entry.abandon_hold_s) == ("abandoned", 5)


def test_timeout_on_asterisk_22_is_an_app_queue_abandon_but_our_outcome_is_timeout() -> None:
    rec, sink = recorder()
    inbound(rec)
    join(rec)
    rec.apply(ev.CallerAbandoned(T + 7, "main", CALL, CALL, 1, 1, 6))
    rec.apply(ev.CallerLeftQueue(T + 7, "main", CALL, CALL, 1, 0))
    rec.apply(ev.QueueExited(T + 7, "main", CALL, CALL, "TIMEOUT"))
    hangup(rec, T + 9)
    [call] = sink.latest(r.CallRecord)
    [entry] = sink.latest(r.QueueEntryRecord)
    assert (entry.outcome, entry.abandon_hold_s, call.disposition) == ("timeout", 6, "timeout")


def test_exit_with_key_keeps_the_key() -> None:
    rec, sink = recorder()
    inbound(rec)
    join(rec)
    rec.apply(ev.CallerLeftQueue(T + 4, "main", CALL, CALL, 1, 0))
    rec.apply(ev.QueueExited(T + 4, "main", CALL, CALL, "EXITWITHKEY", "0"))
    hangup(rec, T + 20)
    [entry] = sink.latest(r.QueueEntryRecord)
    assert (entry.outcome, entry.exit_key, entry.hold_s, entry.abandon_hold_s) == ("exit-with-key", "0", 3, None)


def test_moved_between_queues_waits_from_the_first_entry() -> None:
    rec, sink = recorder()
    inbound(rec)
    join(rec, "main", T + 1)
    rec.apply(ev.CallerLeftQueue(T + 11, "main", CALL, CALL, 1, 0))
    rec.apply(ev.QueueExited(T + 11, "main", CALL, CALL, "TIMEOUT"))
    join(rec, "complaints", T + 11)
    connect(rec, "complaints", T + 18, hold=7)
    hangup(rec, T + 40)
    [call] = sink.latest(r.CallRecord)
    assert (call.first_queue, call.answered_queue, call.wait_s, call.answered_within_sl) == (
        "main", "complaints", 17, False)
    assert sorted(e.outcome for e in sink.latest(r.QueueEntryRecord)) == ["answered", "timeout"]


def test_transfer_by_the_agent() -> None:
    rec, sink = recorder()
    inbound(rec)
    join(rec)
    connect(rec)
    rec.apply(ev.AgentCompleted(T + 20, "main", CALL, CALL, "1001", "PJSIP/1001", 3, 16, "transfer"))
    hangup(rec, T + 60)
    [call] = sink.latest(r.CallRecord)
    assert call.disposition == "transferred"


def test_agent_complete_after_the_caller_hung_up_still_lands() -> None:
    rec, sink = recorder()
    inbound(rec)
    join(rec)
    connect(rec)
    hangup(rec, T + 30)
    rec.apply(ev.AgentCompleted(T + 30.01, "main", CALL, CALL, "1001", "PJSIP/1001", 3, 26, "caller"))
    [entry] = sink.latest(r.QueueEntryRecord)
    assert entry.talk_s == 26 and entry.completed_at is not None


def test_a_caller_seen_only_from_the_queue_is_recorded() -> None:
    rec, sink = recorder()
    join(rec)  # the daemon started mid-call
    connect(rec)
    [call] = sink.latest(r.CallRecord)
    assert call.caller_number == "13800000000" and call.answered_by == "1001"


def test_calls_that_ended_while_disconnected_are_closed_on_resync() -> None:
    rec, sink = recorder()
    inbound(rec)
    join(rec)
    rec.apply(ev.QueueStatusSnapshot(T + 50, (), (), ()))
    rec.apply(ev.ActiveChannels(T + 50, frozenset()))
    [call] = sink.latest(r.CallRecord)
    [entry] = sink.latest(r.QueueEntryRecord)
    assert call.ended_at == T + 50 and entry.outcome == "left"


def test_agent_sessions_and_pauses() -> None:
    rec, sink = recorder()
    rec.apply(ev.MemberAdded(T, "main", "1001", "PJSIP/1001", False, "", 1))
    rec.apply(ev.MemberPaused(T + 10, "main", "1001", "PJSIP/1001", True, "meal"))
    rec.apply(ev.MemberPaused(T + 20, "main", "1001", "PJSIP/1001", True, "training"))
    rec.apply(ev.MemberPaused(T + 30, "main", "1001", "PJSIP/1001", False, ""))
    rec.apply(ev.MemberRemoved(T + 40, "main", "1001", "PJSIP/1001"))
    [session] = sink.latest(r.AgentSessionRecord)
    assert (session.login_at, session.logout_at) == (T, T + 40)
    pauses = sorted(sink.latest(r.AgentPauseRecord), key=lambda p: p.started_at)
    assert [(p.reason, p.started_at, p.ended_at) for p in pauses] == [
        ("meal", T + 10, T + 20), ("training", T + 20, T + 30)]


def test_resync_opens_and_closes_sessions() -> None:
    rec, sink = recorder()
    rec.apply(ev.MemberAdded(T, "main", "1001", "PJSIP/1001", False, "", 1))
    member = ev.QueueMemberSnapshot("main", "1002", "PJSIP/1002", 1, True, "meeting", False, 0, 0, 0)
    rec.apply(ev.QueueStatusSnapshot(T + 100, (), (member,), ()))
    sessions = {s.agent: s for s in sink.latest(r.AgentSessionRecord)}
    assert sessions["1001"].logout_at == T + 100
    assert sessions["1002"].logout_at is None and sessions["1002"].login_at == T + 100
    [pause] = sink.latest(r.AgentPauseRecord)
    assert (pause.agent, pause.reason) == ("1002", "meeting")


def test_ivr_path_tags_and_voicemail() -> None:
    rec, sink = recorder()
    inbound(rec, did="96128")
    rec.apply(ev.FlowEntered(T + 1, CALL, CALL, "gas", "v1"))
    rec.apply(ev.IvrStep(T + 2, CALL, "gas", "menu", "menu", "2", 900))
    rec.apply(ev.CallTagged(T + 2, CALL, (("category", "燃气"),)))
    rec.apply(ev.VoicemailLeft(T + 30, CALL, "96128", "/vm/1.wav", 20, "13800000000", "张三", "gas", "after-hours"))
    hangup(rec, T + 31)
    [call] = sink.latest(r.CallRecord)
    assert call.hotline == "gas" and call.flow == "gas" and call.tags == {"category": "燃气"}
    assert [s["node"] for s in call.ivr_path] == ["", "menu"] and call.disposition == "voicemail"
    [vm] = sink.latest(r.VoicemailRecord)
    assert (vm.path, vm.duration_s, vm.reason, vm.status) == ("/vm/1.wav", 20, "after-hours", "new")


def test_calls_not_from_the_trunk_are_not_hotline_calls() -> None:
    rec, sink = recorder()
    rec.apply(ev.ChannelCreated(T, "x.1", "x.1", "PJSIP/1001-1", "1001", "", "from-agents", "1002"))
    assert sink == []


def test_agent_complete_without_the_callers_fields_still_completes_the_stay() -> None:
    # seen on Asterisk 22: AgentComplete with only Queue, Interface, MemberName, HoldTime, TalkTime, Reason
    rec, sink = recorder()
    inbound(rec)
    join(rec)
    connect(rec)
    rec.apply(ev.AgentCompleted(T + 40, "main", "", "", "1001", "PJSIP/1001", 3, 36, "agent"))
    [entry] = sink.latest(r.QueueEntryRecord)
    assert (entry.completed_at, entry.talk_s, entry.complete_reason) == (T + 40, 36, "agent")


# ---- FastAGI before AMI (issue 7, item 8: calls.flow dropped under load) ----------------------------------

def test_ivr_events_before_newchannel_are_kept_for_the_call() -> None:
    rec, sink = recorder()
    rec.apply(ev.FlowEntered(T + 0.01, CALL, CALL, "main", "v1", "12345"))
    rec.apply(ev.IvrStep(T + 0.5, CALL, "main", "welcome", "play"))
    rec.apply(ev.CallTagged(T + 0.6, CALL, (("topic", "gas"),)))
    assert sink.latest(r.CallRecord) == []  # nothing yet: waiting for Newchannel
    inbound(rec)
    [call] = sink.latest(r.CallRecord)
    assert call.flow == "main" and [p["node"] for p in call.ivr_path] == ["", "welcome"]
    assert call.tags == {"topic": "gas"} and call.caller_number == "13800000000" and call.did == "12345"
    hangup(rec, T + 30)
    assert call.ended_at == T + 30 and call.flow == "main"


def test_ivr_events_without_newchannel_make_a_partial_call_that_newchannel_completes() -> None:
    rec, sink = recorder()
    rec.apply(ev.FlowEntered(T, CALL, CALL, "main", "v1", "12345"))
    # another call's events, 25 s later: the first call's wait is over
    rec.apply(ev.FlowEntered(T + 25, "cc-2.0", "cc-2.0", "main", "v1", "12345"))
    [partial] = sink.latest(r.CallRecord)
    assert (partial.linkedid, partial.flow, partial.hotline, partial.started_at) == (CALL, "main", "12345", T)
    rec.apply(ev.IvrStep(T + 26, CALL, "main", "menu", "menu", "1"))
    assert [p["kind"] for p in partial.ivr_path] == ["flow", "menu"]
    inbound(rec, ts=T - 0.1)  # a very late Newchannel merges into the same call
    assert rec.calls[CALL] is partial
    assert partial.caller_number == "13800000000" and partial.started_at == T - 0.1 and partial.flow == "main"


def test_early_events_are_bounded() -> None:
    import callcenter.calls.recorder as module

    rec, _sink = recorder()
    for n in range(module.EARLY_MAX_CALLS + 10):
        rec.apply(ev.FlowEntered(T, f"x-{n}", f"x-{n}", "main", "v1"))
    assert len(rec._early) == module.EARLY_MAX_CALLS
    assert len(rec.partial) == 10 and "x-0" in rec.partial


def test_ivr_events_of_calls_that_are_not_callers_are_not_recorded() -> None:
    rec, sink = recorder()
    rec.apply(ev.FlowEntered(T, "int-1", "int-1", "main", "v1"))
    rec.apply(ev.ChannelCreated(T, "int-1", "int-1", "PJSIP/1001-1", "1001", "", "from-internal", "9000"))
    rec.apply(ev.IvrStep(T + 1, "int-1", "main", "menu", "menu"))
    rec.apply(ev.FlowEntered(T + 60, "cc-9", "cc-9", "main", "v1"))
    assert sink.latest(r.CallRecord) == [] and rec.partial == {}
