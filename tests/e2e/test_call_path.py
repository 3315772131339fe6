"""Real calls through the sandboxed Asterisk: queued, answered, recorded and counted exactly."""

from __future__ import annotations

import os

import pytest

from tests.harness.checks import asterisk_agrees, entries_of, kpi_everywhere, wait_call_ended
from tests.harness.stack import Stack, wait_for

pytestmark = pytest.mark.e2e


def _recording_ok(call) -> None:  # type: ignore[no-untyped-def]
    assert call.recording_path, "the queued call has no recording path"
    assert os.path.exists(call.recording_path), call.recording_path
    # 44 bytes is an empty WAV header; a few seconds of 8 kHz audio is tens of kilobytes
    assert os.path.getsize(call.recording_path) > 8000, os.path.getsize(call.recording_path)


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
