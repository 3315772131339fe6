"""IVR flows over FastAGI, with real calls: SIPp callers press keys (RFC 2833) through Asterisk."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from callcenter.store.models import Voicemail
from tests.harness import ivr
from tests.harness.checks import wait_call_ended
from tests.harness.stack import Stack, wait_for

pytestmark = pytest.mark.e2e

SHANGHAI = ZoneInfo("Asia/Shanghai")
OPEN = datetime(2026, 11, 25, 10, 0, tzinfo=SHANGHAI).timestamp()  # a Wednesday morning
CLOSED = datetime(2026, 11, 29, 23, 0, tzinfo=SHANGHAI).timestamp()  # a Sunday night
HOLIDAY_MORNING = datetime(2026, 10, 1, 10, 0, tzinfo=SHANGHAI).timestamp()  # 国庆, a Thursday
MAKEUP_SATURDAY = datetime(2026, 10, 10, 10, 0, tzinfo=SHANGHAI).timestamp()  # 调休, a Saturday worked
SHORT = ivr.prompt_seconds("zh/short")


@pytest.fixture
def ivr_stack(clean: Stack) -> Iterator[Stack]:
    """A clean stack whose IVR clock says Wednesday 10:00 (open), reset afterwards."""
    ivr.set_clock(clean, OPEN)
    yield clean
    if clean.daemon is not None and clean.daemon.poll() is None:
        ivr.set_clock(clean, None)


def path_of(call) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    return [(p["flow"], p["node"], p["result"]) for p in call.ivr_path]


def voicemails_of(s: Stack, linkedid: str) -> list[Voicemail]:
    return s.query(lambda db: list(db.scalars(select(Voicemail).where(Voicemail.linkedid == linkedid))))


def ready_agent(s: Stack, agent: str) -> None:
    """A phone that answers at once and talks 1 s, logged in to main.

    Before the caller reaches the queue: one who gets there first hears app_queue's position
    announcement (~7 s) before the agent rings.
    """
    s.agent_phone(agent, ring_ms=300, talk_ms=1000)
    s.wait_agent_reachable(agent)
    s.login(agent, "main")


def test_invalid_key_then_retry_then_valid_reaches_queue(ivr_stack: Stack) -> None:
    s = ivr_stack
    ready_agent(s, "1001")
    # '5' is no choice: the menu says so and asks again; '1' then picks consultation → queue main
    result = s.caller("13800000101", "李四", did="12346", dtmf="51", dtmf_first_wait_ms=int(SHORT * 1000) + 1200,
                      hold_ms=20000).run()
    assert result.ok, result.errors
    call = wait_call_ended(s, "13800000101")
    assert call.flow == "e2e" and call.hotline == "e2e" and call.did == "12346"
    steps = path_of(call)
    assert steps[0][2] and call.ivr_path[0]["kind"] == "flow"  # flow entered, with its version
    assert ("e2e", "hours", "open") in steps
    menu = [r for f, n, r in steps if n == "menu"]
    assert menu == ["invalid:5", "1"], steps
    assert ("e2e", "queue-main", "main") in steps
    assert call.tags == {"hotline": "e2e", "language": "zh", "category": "consultation"}
    assert call.disposition == "answered" and call.answered_by == "1001" and call.first_queue == "main"
    durations = [p["duration_ms"] for p in call.ivr_path if p["node"] == "hello"]
    assert durations and durations[0] >= int(SHORT * 1000) - 200, durations  # the prompt really played


def test_menu_timeout_path(ivr_stack: Stack) -> None:
    s = ivr_stack
    result = s.caller("13800000102", did="12346", hold_ms=30000).run()
    assert result.ok, result.errors
    call = wait_call_ended(s, "13800000102")
    steps = path_of(call)
    assert [r for f, n, r in steps if n == "menu"] == ["timeout", "timeout"], steps
    assert steps[-1] == ("e2e", "bye", "")
    assert call.disposition == "ivr-only" and call.first_queue is None


def test_hanging_up_mid_menu_ends_the_session_cleanly(ivr_stack: Stack) -> None:
    s = ivr_stack
    result = s.caller("13800000111", did="12346", hold_ms=int(SHORT * 2000) + 1000).run()  # gone in the menu
    assert result.ok, result.errors
    call = wait_call_ended(s, "13800000111")
    assert path_of(call)[-1] == ("e2e", "menu", "hangup")
    stats = wait_for(lambda: (st := s.http("/ivr/stats")[1])["sessions_active"] == 0 and st, 10,
                     what="no FastAGI session left")
    assert stats["sessions_total"] >= 1


def test_collect_order_number_sets_a_tag(ivr_stack: Stack) -> None:
    s = ivr_stack
    # key 2 → collect; '123#' is too short (invalid, asked again), then '20260815#'
    # no audio stream: with SIPp's tone (another SSRC) interleaved, Asterisk took single presses
    # for several digits (a real phone sends one stream)
    # keys 0.35 s apart (each RFC 2833 press lasts 0.14 s)
    result = s.caller("13800000103", did="12346", dtmf="2123#20260815#", audio=False,
                      dtmf_first_wait_ms=int(SHORT * 1000) + 1200, dtmf_gap_ms=350, hold_ms=30000).run()
    assert result.ok, result.errors
    call = wait_call_ended(s, "13800000103")
    steps = path_of(call)
    assert [r for f, n, r in steps if n == "order"] == ["invalid:123", "20260815"], steps
    assert call.tags["order_number"] == "20260815"
    assert steps[-1][1] == "bye"


def test_sub_flow(ivr_stack: Stack) -> None:
    s = ivr_stack
    result = s.caller("13800000104", did="12346", dtmf="7", dtmf_first_wait_ms=int(SHORT * 1000) + 1200,
                      hold_ms=20000).run()
    assert result.ok, result.errors
    call = wait_call_ended(s, "13800000104")
    steps = path_of(call)
    assert ("e2e", "sub", "e2e-sub") in steps
    assert ("e2e-sub", "tag", "category=sub-flow") in steps
    assert [p["flow"] for p in call.ivr_path if p["kind"] == "flow"] == ["e2e", "e2e-sub"]
    assert call.flow == "e2e" and call.tags["category"] == "sub-flow"


def _voicemail_ok(s: Stack, call, reason: str, hotline: str, mailbox: str) -> None:  # type: ignore[no-untyped-def]
    vms = wait_for(lambda: voicemails_of(s, call.linkedid), 15, what="the voicemail record")
    [vm] = vms
    assert vm.reason == reason and vm.hotline == hotline and vm.mailbox == mailbox
    assert vm.caller_number == call.caller_number and vm.status == "new"
    assert os.path.exists(vm.path), vm.path
    assert os.path.getsize(vm.path) > 8000, os.path.getsize(vm.path)  # seconds of real audio, not a header
    assert vm.duration_s >= 2
    # it plays: a valid WAV of that length (sox reads it)
    seconds = float(subprocess.run(["soxi", "-D", vm.path], capture_output=True, text=True, check=True).stdout)
    assert seconds >= 2, seconds
    assert call.disposition == "voicemail"


def test_voicemail_by_choice(ivr_stack: Stack) -> None:
    s = ivr_stack
    # key 9 → prompt, beep, then the caller speaks (RTP tone) for a few seconds and hangs up
    result = s.caller("13800000105", "王五", did="12346", dtmf="9", dtmf_first_wait_ms=int(SHORT * 1000) + 1200,
                      hold_ms=int(SHORT * 1000) + 4000).run()
    assert result.ok, result.errors
    call = wait_call_ended(s, "13800000105")
    assert ("e2e", "message", "hangup") in path_of(call)
    _voicemail_ok(s, call, "caller-choice", "e2e", "12346")


def test_queue_timeout_resumes_the_flow_into_voicemail(ivr_stack: Stack) -> None:
    s = ivr_stack
    # key 3 → queue 'complaints' (nobody logged in) for 4 s, which app_queue's position announcement on
    # entry stretches to ~7 s → the flow resumes at on_timeout: its prompt, the beep, then ~4 s of message
    result = s.caller("13800000110", did="12346", dtmf="3", dtmf_first_wait_ms=int(SHORT * 1000) + 1200,
                      hold_ms=int(SHORT * 1000) + 12000).run()
    assert result.ok, result.errors
    call = wait_call_ended(s, "13800000110")
    steps = path_of(call)
    assert ("e2e", "queue-short", "complaints") in steps and ("e2e", "queue-short", "timeout") in steps
    assert steps.index(("e2e", "queue-short", "timeout")) < steps.index(("e2e", "timeout-message", "hangup"))
    assert call.first_queue == "complaints"
    _voicemail_ok(s, call, "queue-timeout", "e2e", "12346")


def test_after_hours_goes_to_voicemail(ivr_stack: Stack) -> None:
    s = ivr_stack
    ivr.set_clock(s, CLOSED)
    result = s.caller("13800000106", did="12346", hold_ms=int(SHORT * 2000) + 4000).run()
    assert result.ok, result.errors
    call = wait_call_ended(s, "13800000106")
    steps = path_of(call)
    assert ("e2e", "hours", "closed") in steps
    assert not [n for f, n, r in steps if n == "menu"]
    _voicemail_ok(s, call, "after-hours", "e2e", "12346")


def test_emergency_key_transfers_to_110_over_the_emergency_trunk(ivr_stack: Stack) -> None:
    s = ivr_stack
    endpoint = ivr.emergency_endpoint(s, talk_ms=1000)
    try:
        time.sleep(0.5)
        result = s.caller("13800000107", did="12346", dtmf="0", dtmf_first_wait_ms=int(SHORT * 1000) + 1200,
                          hold_ms=30000).run()
        _out, err = endpoint.communicate(timeout=60)
    finally:
        if endpoint.poll() is None:
            endpoint.kill()
    assert result.ok, result.errors
    assert endpoint.returncode == 0, f"the 110 endpoint did not take exactly one call: {err}"
    call = wait_call_ended(s, "13800000107")
    assert call.transferred_to == "110" and call.disposition == "transferred-out"
    steps = path_of(call)
    assert steps[-1] == ("e2e", "emergency", "110")  # the 110 side answered: nothing of ours after


def test_a_merged_legacy_number_lands_in_its_own_flow(ivr_stack: Stack) -> None:
    s = ivr_stack
    ready_agent(s, "1002")
    first = int((ivr.prompt_seconds("zh/welcome-12319") + 1.5) * 1000)
    result = s.caller("13800000108", did="12319", dtmf="1", dtmf_first_wait_ms=first, hold_ms=40000).run()
    assert result.ok, result.errors
    call = wait_call_ended(s, "13800000108")
    assert call.did == "12319" and call.hotline == "12319" and call.flow == "12319"
    steps = path_of(call)
    assert ("12319", "hours", "open") in steps and ("12319", "menu", "1") in steps
    assert call.tags["category"] == "urban-management"
    assert call.disposition == "answered" and call.answered_by == "1002"


def test_daemon_killed_mid_call_the_call_still_reaches_the_queue(ivr_stack: Stack) -> None:
    s = ivr_stack
    queue_log_before = s.sandbox.queue_log.read_text() if s.sandbox.queue_log.exists() else ""
    # the shipped 12345 flow: the caller presses nothing, so the main menu (three 5 s waits) holds them
    # in the FastAGI session for ~15 s; the daemon dies in there, once the agent is ready
    caller = s.caller("13800000109", did="12310", hold_ms=40000).start()
    ready_agent(s, "1003")
    stats = s.http("/ivr/stats")[1]
    assert stats["sessions_active"] == 1, stats
    assert s.daemon is not None
    s.daemon.send_signal(signal.SIGKILL)
    s.daemon.wait(10)
    s.daemon = None
    result = caller.wait()
    assert result.ok, result.errors
    new_lines = s.sandbox.queue_log.read_text()[len(queue_log_before):].splitlines()
    entered = [ln.split("|") for ln in new_lines if "|ENTERQUEUE|" in ln and "13800000109" in ln]
    assert entered and entered[0][2] == "main", new_lines
    uniqueid = entered[0][1]
    assert [ln for ln in new_lines if f"|{uniqueid}|main|" in ln and "|CONNECT|" in ln], new_lines
    s.start_daemon()


def spool_messages(s: Stack) -> list[str]:
    return sorted(str(p) for p in s.sandbox.voicemail_dir.glob("*/*/INBOX/msg*.wav"))


def test_with_the_daemon_down_the_fallback_follows_the_calendar_and_no_voicemail_is_lost(ivr_stack: Stack) -> None:
    s = ivr_stack
    queue_log_before = s.sandbox.queue_log.read_text() if s.sandbox.queue_log.exists() else ""
    spool_before = set(spool_messages(s))
    s.stop_daemon(signal.SIGKILL)
    try:
        # 国庆 (Thursday 1 October, 10:00): the weekly hours say open, the calendar closes → voicemail
        ivr.set_fallback_clock(s, HOLIDAY_MORNING)
        holiday = s.caller("13800000120", "国庆", did="12319", hold_ms=int(SHORT * 1000) + 4000).run()
        assert holiday.ok, holiday.errors
        # 调休 (Saturday 10 October, 10:00): the weekly hours say closed, the calendar opens → the queue
        ivr.set_fallback_clock(s, MAKEUP_SATURDAY)
        makeup = s.caller("13800000121", did="12319", hold_ms=1500).run()
        assert makeup.ok, makeup.errors
    finally:
        ivr.set_fallback_clock(s, None)
    new_lines = s.sandbox.queue_log.read_text()[len(queue_log_before):].splitlines()
    assert [ln for ln in new_lines if "|ENTERQUEUE|" in ln and "13800000121" in ln], new_lines
    assert not [ln for ln in new_lines if "13800000120" in ln], new_lines
    # the message is in the mailbox, with no row while the daemon is down
    [audio] = set(spool_messages(s)) - spool_before
    meta = Path(audio).with_suffix(".txt").read_text()
    assert "/hotline/12319/INBOX/" in audio and "13800000120" in meta and "reason=fallback" in meta
    assert not s.query(lambda db: db.scalars(select(Voicemail).where(Voicemail.path == audio)).all())
    # the daemon comes back: its start-up sweep records the message, once
    s.start_daemon()
    [vm] = wait_for(lambda: s.query(lambda db: db.scalars(select(Voicemail).where(Voicemail.path == audio)).all()),
                    15, what="the fallback voicemail's row")
    assert (vm.reason, vm.hotline, vm.mailbox, vm.caller_number, vm.caller_name, vm.status) == (
        "fallback", "12319", "12319", "13800000120", "国庆", "new")
    assert vm.linkedid and not vm.linkedid.startswith("vm-")  # the call's own linkedid, from the metadata
    assert os.path.getsize(vm.path) > 8000 and vm.duration_s >= 2
    seconds = float(subprocess.run(["soxi", "-D", vm.path], capture_output=True, text=True, check=True).stdout)
    assert seconds >= 2, seconds
    # every message in the spool (those IVR sessions recorded in earlier tests too) has exactly one row
    rows = s.query(lambda db: list(db.scalars(select(Voicemail.path))))
    assert sorted(p for p in rows if p in set(spool_messages(s))) == spool_messages(s)


def _rewrite(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text.replace(old, new))
    tmp.replace(path)


def test_reload_under_traffic_drops_no_call(ivr_stack: Stack) -> None:
    s = ivr_stack
    flow_file = Path(s.config.ivr.flows_dir) / "e2e-reload.yaml"
    original = flow_file.read_text()
    try:
        version_before = s.http("/ivr/flows")[1]["version"]
        # three callers enter the menu (6 s to press 1) on the old version ...
        press_at = int((SHORT + 4.0) * 1000)
        early = [s.caller(f"1380000020{i}", did="12347", dtmf="1", dtmf_first_wait_ms=press_at,
                          hold_ms=30000).start() for i in range(3)]
        time.sleep(SHORT + 1.0)
        # ... a broken edit is refused and changes nothing ...
        _rewrite(flow_file, 'next: bye\n  bye:', 'next: nowhere\n  bye:')
        refused = s.cli("ivr", "reload", check=False)
        assert refused.returncode == 1
        assert f"{flow_file}:" in refused.stdout and "mark: next: no node named 'nowhere'" in refused.stdout
        assert s.http("/ivr/flows")[1]["version"] == version_before
        # ... then a good edit is swapped in while they are still in the menu
        flow_file.write_text(original.replace("version: old", "version: new"))
        applied = s.cli("ivr", "reload")
        version_after = s.http("/ivr/flows")[1]["version"]
        assert version_after != version_before and version_after in applied.stdout
        late = [s.caller(f"1380000021{i}", did="12347", dtmf="1", dtmf_first_wait_ms=int(SHORT * 1000) + 1200,
                         hold_ms=30000).start() for i in range(3)]
        results = [c.wait() for c in early + late]
        assert all(r.ok for r in results), [r.errors for r in results if not r.ok]
        for i in range(3):
            old = wait_call_ended(s, f"1380000020{i}")
            assert old.tags.get("version") == "old", (old.linkedid, old.ivr_path)
            assert old.ivr_path[0]["result"] == version_before
            new = wait_call_ended(s, f"1380000021{i}")
            assert new.tags.get("version") == "new", (new.linkedid, new.ivr_path)
            assert new.ivr_path[0]["result"] == version_after
    finally:
        flow_file.write_text(original)
        s.cli("ivr", "reload", check=False)


def test_file_change_is_picked_up_without_a_command(ivr_stack: Stack) -> None:
    s = ivr_stack
    flow_file = Path(s.config.ivr.flows_dir) / "e2e-sub.yaml"
    original = flow_file.read_text()
    before = s.http("/ivr/flows")[1]["version"]
    try:
        flow_file.write_text(original.replace("category: sub-flow", "category: sub-flow-edited"))
        wait_for(lambda: s.http("/ivr/flows")[1]["version"] != before, 10, what="the watcher to reload")
        picture = s.http("/ivr/flows/e2e-sub.svg")
        assert picture[0] == 200 and b"edited" in picture[1]
    finally:
        flow_file.write_text(original)
        wait_for(lambda: s.http("/ivr/flows")[1]["version"] == before, 10, what="the original flows back")
