"""Real calls through the sandboxed Asterisk: queued, answered, recorded and counted exactly."""

from __future__ import annotations

import os
import time

import pytest

from tests.harness.checks import asterisk_agrees, entries_of, kpi_everywhere, wait_call_ended
from tests.harness.stack import Stack, wait_for

pytestmark = pytest.mark.e2e


def _recording_ok(call) -> None:  # type: ignore[no-untyped-def]
    assert call.recording_path, "the queued call has no recording path"
    assert os.path.exists(call.recording_path), call.recording_path
    # 44 bytes is an empty WAV header; a few seconds of 8 kHz audio is tens of kilobytes
    assert os.path.getsize(call.recording_path) > 8000, os.path.getsize(call.recording_path)


def _board_idle(s: Stack, *agents: str) -> None:
    """After the calls: nobody waits, and each agent is back to ready (the daemon's live view)."""
    def idle() -> bool:
        board = s.live()
        return all(not q["waiting"] for q in board["queues"].values()) and all(
            board["agents"][a]["state"] == "ready" for a in agents)

    wait_for(idle, 15, what=f"an idle board with {agents} ready")


def test_answered_in_two_seconds(clean: Stack) -> None:
    s = clean
    s.agent_phone("1001", ring_ms=2000, talk_ms=3000)
    s.wait_agent_reachable("1001")
    s.login("1001", "main")
    result = s.caller("13800000001", "张三", hold_ms=20000).run()
    assert result.ok, result.errors
    call = wait_call_ended(s, "13800000001")
    assert call.caller_name == "张三"
    assert call.did == "12345" and call.hotline == "12345"
    assert call.disposition == "answered"
    assert call.answered_by == "1001"
    assert call.wait_s in (2, 3)
    assert call.answered_within_sl is True
    _recording_ok(call)
    [entry] = entries_of(s, call.linkedid)
    assert entry.queue == "main" and entry.outcome == "answered" and entry.agent == "1001"
    assert entry.hold_s == call.wait_s
    assert entry.talk_s in (2, 3, 4)
    live = wait_for(lambda: (v := s.live())["agents"]["1001"]["state"] == "ready" and v, 10,
                    what="agent 1001 back to ready")
    assert live["queues"]["main"]["waiting"] == []
    kpi = kpi_everywhere(s, s.t0)
    assert kpi["offered"] == 1 and kpi["answered"] == 1 and kpi["answered_within_threshold"] == 1
    assert kpi["rate"] == 100.0
    assert kpi["queues"]["main"]["offered"] == 1
    asterisk_agrees(s, kpi)


def test_answered_after_twenty_seconds_misses_the_threshold(clean: Stack) -> None:
    s = clean
    s.agent_phone("1001", ring_ms=20000, talk_ms=2000)
    s.wait_agent_reachable("1001")
    s.login("1001", "main")
    result = s.caller("13800000002", "李四", hold_ms=40000).run()
    assert result.ok, result.errors
    call = wait_call_ended(s, "13800000002")
    assert call.disposition == "answered" and call.answered_by == "1001"
    assert call.wait_s in (20, 21)
    assert call.answered_within_sl is False
    _recording_ok(call)
    _board_idle(s, "1001")
    kpi = kpi_everywhere(s, s.t0)
    assert (kpi["offered"], kpi["answered"], kpi["answered_within_threshold"], kpi["rate"]) == (1, 1, 0, 0.0)
    asterisk_agrees(s, kpi)
    assert kpi["queues"]["main"]["servicelevel_perf"] == 0.0


def test_abandoned_after_five_seconds(clean: Stack) -> None:
    s = clean
    s.agent_phone("1001", ring_ms=60000, talk_ms=1000)  # rings, never answers in time
    s.wait_agent_reachable("1001")
    s.login("1001", "main")
    result = s.caller("13800000003", "王五", hold_ms=5000).run()
    assert result.ok, result.errors
    call = wait_call_ended(s, "13800000003")
    assert call.disposition == "abandoned"
    assert call.answered_at is None and call.wait_s is None
    [entry] = entries_of(s, call.linkedid)
    assert entry.outcome == "abandoned"
    assert entry.abandon_hold_s in (4, 5, 6)
    _recording_ok(call)
    _board_idle(s, "1001")
    kpi = kpi_everywhere(s, s.t0)
    assert (kpi["offered"], kpi["answered"], kpi["abandoned"], kpi["rate"]) == (1, 0, 1, 0.0)
    assert kpi["queues"]["main"] == {**kpi["queues"]["main"], "offered": 1, "answered": 0, "abandoned": 1}
    asterisk_agrees(s, kpi)


def test_two_agents_and_a_caller_overflowing(clean: Stack) -> None:
    s = clean
    s.agent_phone("1001", ring_ms=1000, talk_ms=18000)
    s.agent_phone("1002", ring_ms=1000, talk_ms=18000)
    s.wait_agent_reachable("1001", "1002")
    s.login("1001", "main")
    s.login("1002", "main")
    callers = []
    for i in range(3):
        callers.append(s.caller(f"1390000000{i}", f"市民{i}", hold_ms=60000).start())
        time.sleep(0.4)
    # while both agents talk, the third caller waits: visible live in the daemon and in `queue status`
    def both_talking_one_waiting() -> dict | None:
        board = s.live()
        talking = {board["agents"][a]["state"] for a in ("1001", "1002")} == {"talking"}
        return board if talking and len(board["queues"]["main"]["waiting"]) == 1 else None

    board = wait_for(both_talking_one_waiting, 15, what="both agents talking and one caller waiting")
    assert board["queues"]["main"]["waiting"][0]["caller_number"] == "13900000002"
    assert board["queues"]["main"]["waiting"][0]["caller_name"] == "市民2"
    status = s.cli_json("queue", "status")
    assert [c["position"] for c in status["queues"]["main"]["waiting"]] == [1]
    assert status["queues"]["main"]["waiting"][0]["caller_name"] == "市民2"
    assert status["queues"]["main"]["waiting"][0]["caller_number"] != "13900000002", "numbers are masked"
    for c in callers:
        assert c.wait().ok
    calls = [wait_call_ended(s, f"1390000000{i}", 60) for i in range(3)]
    assert [c.disposition for c in calls] == ["answered"] * 3
    assert calls[0].answered_within_sl and calls[1].answered_within_sl
    assert calls[2].wait_s >= 16 and calls[2].answered_within_sl is False
    assert {c.answered_by for c in calls} == {"1001", "1002"}
    for c in calls:
        _recording_ok(c)
    _board_idle(s, "1001", "1002")
    kpi = kpi_everywhere(s, s.t0)
    assert (kpi["offered"], kpi["answered"], kpi["answered_within_threshold"]) == (3, 3, 2)
    assert kpi["rate"] == 66.67
    asterisk_agrees(s, kpi)


def test_paused_agent_is_skipped_and_the_pause_is_recorded(clean: Stack) -> None:
    from sqlalchemy import select

    from callcenter.store.models import AgentPause

    s = clean
    s.agent_phone("1001", ring_ms=1000, talk_ms=2000)
    s.agent_phone("1002", ring_ms=1000, talk_ms=2000)
    s.wait_agent_reachable("1001", "1002")
    s.login("1001", "main")
    s.login("1002", "main")
    s.cli("agent", "pause", "1001", "--reason", "meal")
    board = wait_for(lambda: (b := s.live())["agents"]["1001"]["state"] == "paused" and b, 10,
                     what="agent 1001 paused")
    assert board["agents"]["1001"]["pause_reason"] == "meal"
    result = s.caller("13800000005", "赵六", hold_ms=20000).run()
    assert result.ok, result.errors
    call = wait_call_ended(s, "13800000005")
    assert call.answered_by == "1002"
    _recording_ok(call)
    s.cli("agent", "unpause", "1001")
    pauses = wait_for(lambda: s.query(lambda q: list(q.scalars(
        select(AgentPause).where(AgentPause.agent == "1001", AgentPause.ended_at.is_not(None))))), 10,
        what="the pause to be closed in the database")
    assert [p.reason for p in pauses][-1] == "meal"
    _board_idle(s, "1001", "1002")
    kpi = kpi_everywhere(s, s.t0)
    assert (kpi["offered"], kpi["answered_within_threshold"]) == (1, 1)
    asterisk_agrees(s, kpi)


def test_queue_timeout(clean: Stack) -> None:
    s = clean
    s.agent_phone("1003", ring_ms=60000, talk_ms=1000)
    s.wait_agent_reachable("1003")
    s.login("1003", "complaints")
    # 12399 is the timeout line: queue "complaints" with a 6-second limit
    result = s.caller("13800000006", "孙七", did="12399", hold_ms=30000).run()
    assert result.ok, result.errors
    call = wait_call_ended(s, "13800000006")
    assert call.hotline == "timeout-line" and call.first_queue == "complaints"
    assert call.disposition == "timeout"
    [entry] = entries_of(s, call.linkedid)
    assert entry.outcome == "timeout" and entry.hold_s in (5, 6, 7)
    _recording_ok(call)
    _board_idle(s, "1003")
    kpi = kpi_everywhere(s, s.t0)
    assert (kpi["offered"], kpi["answered"], kpi["abandoned"]) == (1, 0, 1)
    assert kpi["queues"]["complaints"]["abandoned"] == 1
    asterisk_agrees(s, kpi)
