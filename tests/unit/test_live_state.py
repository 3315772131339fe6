"""Live ACD state from events, and its resync from a QueueStatus snapshot."""

from __future__ import annotations

from callcenter import events as ev
from callcenter.acd.live import LiveState

T = 1_800_000_000.0


def test_callers_wait_ring_and_leave() -> None:
    live = LiveState()
    changes: list[str] = []
    live.subscribe(lambda kind, payload: changes.append(kind))
    live.apply(ev.MemberAdded(T, "main", "1001", "PJSIP/1001", False, "", 1))
    live.apply(ev.CallerJoinedQueue(T + 1, "main", "a.1", "a.1", "PJSIP/t-1", 1, 1, "13800000001", "甲"))
    live.apply(ev.CallerJoinedQueue(T + 2, "main", "b.1", "b.1", "PJSIP/t-2", 2, 2, "13800000002", "乙"))
    live.apply(ev.AgentRung(T + 2, "main", "a.1", "a.1", "1001", "PJSIP/1001", "x.1"))
    view = live.view(T + 10)
    assert [(c["caller_name"], c["wait_s"]) for c in view["queues"]["main"]["waiting"]] == [("甲", 9), ("乙", 8)]
    assert view["agents"]["1001"]["state"] == "ringing"
    live.apply(ev.AgentConnected(T + 3, "main", "a.1", "a.1", "1001", "PJSIP/1001", 2, 1, "x.1", "PJSIP/1001-1"))
    view = live.view(T + 10)
    assert [c["position"] for c in view["queues"]["main"]["waiting"]] == [1]
    assert view["agents"]["1001"]["state"] == "talking" and view["agents"]["1001"]["call_linkedid"] == "a.1"
    live.apply(ev.AgentCompleted(T + 30, "main", "a.1", "a.1", "1001", "PJSIP/1001", 2, 27, "caller"))
    assert live.view(T + 31)["agents"]["1001"]["state"] == "ready"
    live.apply(ev.CallerAbandoned(T + 31, "main", "b.1", "b.1", 1, 2, 29))
    assert live.view(T + 31)["queues"]["main"]["waiting"] == []
    assert "agent" in changes and "queue" in changes


def test_pause_reason_and_unavailable_phone() -> None:
    live = LiveState()
    live.apply(ev.MemberAdded(T, "main", "1001", "PJSIP/1001", False, "", 5))
    assert live.view(T)["agents"]["1001"]["state"] == "unavailable"
    live.apply(ev.MemberStatusChanged(T, "main", "1001", "PJSIP/1001", 1, False, "", False, 0))
    live.apply(ev.MemberPaused(T + 1, "main", "1001", "PJSIP/1001", True, "meal"))
    agent = live.view(T)["agents"]["1001"]
    assert (agent["state"], agent["pause_reason"]) == ("paused", "meal")
    live.apply(ev.MemberRemoved(T + 2, "main", "1001", "PJSIP/1001"))
    assert live.view(T)["agents"]["1001"]["state"] == "logged_out"


def test_resync_replaces_everything() -> None:
    live = LiveState()
    live.apply(ev.CallerJoinedQueue(T, "main", "gone.1", "gone.1", "PJSIP/t-1", 1, 1, "1", ""))
    live.apply(ev.MemberAdded(T, "main", "1009", "PJSIP/1009", False, "", 1))
    snap = ev.QueueStatusSnapshot(
        T + 100,
        (ev.QueueParamsSnapshot("main", 15, 1, 5, 30, 3, 1, 66.7, 75.0, "rrmemory"),),
        (ev.QueueMemberSnapshot("main", "1001", "PJSIP/1001", 1, True, "training", False, 3, 0, 0),),
        (ev.QueueEntrySnapshot("main", 1, "new.1", "", "PJSIP/t-9", "13800000009", "丙", 12),),
    )
    live.apply(snap)
    view = live.view(T + 100)
    assert [c["uniqueid"] for c in view["queues"]["main"]["waiting"]] == ["new.1"]
    assert view["queues"]["main"]["waiting"][0]["wait_s"] == 12
    assert set(view["agents"]) == {"1001"}
    assert view["agents"]["1001"]["pause_reason"] == "training"


def test_ringing_stops_when_another_agent_answers_even_without_a_status_event() -> None:
    # Asterisk 16: ringall rings 1001 and 1002; 1001 answers; no QueueMemberStatus for 1002 follows
    live = LiveState()
    for agent in ("1001", "1002"):
        live.apply(ev.MemberAdded(T, "main", agent, f"PJSIP/{agent}", False, "", 1))
    live.apply(ev.CallerJoinedQueue(T + 1, "main", "a.1", "a.1", "PJSIP/t-1", 1, 1, "13800000001", "甲"))
    live.apply(ev.AgentRung(T + 1, "main", "a.1", "a.1", "1001", "PJSIP/1001", "x.1"))
    live.apply(ev.AgentRung(T + 1, "main", "a.1", "a.1", "1002", "PJSIP/1002", "x.2"))
    live.apply(ev.AgentConnected(T + 2, "main", "a.1", "a.1", "1001", "PJSIP/1001", 1, 1, "x.1", "PJSIP/1001-1"))
    assert live.view(T + 3)["agents"]["1002"]["state"] == "ready"


def test_a_new_login_does_not_inherit_the_last_shift() -> None:
    live = LiveState()
    live.apply(ev.MemberAdded(T, "main", "1001", "PJSIP/1001", False, "", 1))
    live.apply(ev.CallerJoinedQueue(T + 1, "main", "a.1", "a.1", "PJSIP/t-1", 1, 1, "13800000001", "甲"))
    live.apply(ev.AgentRung(T + 1, "main", "a.1", "a.1", "1001", "PJSIP/1001", "x.1"))
    live.apply(ev.MemberRemoved(T + 2, "main", "1001", "PJSIP/1001"))
    live.apply(ev.MemberAdded(T + 3, "main", "1001", "PJSIP/1001", False, "", 1))
    live.apply(ev.MemberPaused(T + 4, "main", "1001", "PJSIP/1001", True, "meal"))
    assert live.view(T + 5)["agents"]["1001"]["state"] == "paused"


def test_an_abandoning_caller_stops_the_ringing() -> None:
    live = LiveState()
    live.apply(ev.MemberAdded(T, "main", "1001", "PJSIP/1001", False, "", 1))
    live.apply(ev.CallerJoinedQueue(T + 1, "main", "a.1", "a.1", "PJSIP/t-1", 1, 1, "13800000001", "甲"))
    live.apply(ev.AgentRung(T + 1, "main", "a.1", "a.1", "1001", "PJSIP/1001", "x.1"))
    live.apply(ev.CallerAbandoned(T + 5, "main", "a.1", "a.1", 1, 1, 4))
    assert live.view(T + 6)["agents"]["1001"]["state"] == "ready"


def test_agent_complete_without_the_callers_fields_ends_the_agents_call() -> None:
    live = LiveState()
    live.apply(ev.MemberAdded(T, "main", "1001", "PJSIP/1001", False, "", 1))
    live.apply(ev.AgentConnected(T + 1, "main", "a.1", "a.1", "1001", "PJSIP/1001", 1, 1, "x.1", "PJSIP/1001-1"))
    live.apply(ev.AgentCompleted(T + 9, "main", "", "", "1001", "PJSIP/1001", 1, 8, "agent"))
    assert live.view(T + 10)["agents"]["1001"]["state"] == "ready"


def test_a_snapshot_shows_ringing_and_in_use_members_as_such_not_ready() -> None:
    """`callcenter queue status` builds its view from QueueStatus alone (issue 7, item 9)."""
    live = LiveState()
    members = (
        ev.QueueMemberSnapshot("main", "1001", "PJSIP/1001", 6, False, "", False, 0, 0, 0),  # Ringing
        ev.QueueMemberSnapshot("main", "1002", "PJSIP/1002", 2, False, "", True, 1, 0, 0),   # In use, InCall
        ev.QueueMemberSnapshot("main", "1003", "PJSIP/1003", 1, False, "", False, 0, 0, 0),  # Not in use
        ev.QueueMemberSnapshot("main", "1004", "PJSIP/1004", 1, False, "", True, 0, 0, 0),   # InCall only
    )
    live.apply(ev.QueueStatusSnapshot(100.0, (), members, ()))
    states = {a: v["state"] for a, v in live.view(100.0)["agents"].items()}
    assert states == {"1001": "ringing", "1002": "talking", "1003": "ready", "1004": "talking"}
    live.apply(ev.MemberStatusChanged(101.0, "main", "1001", "PJSIP/1001", 1, False, "", False, 0))
    assert live.view(101.0)["agents"]["1001"]["state"] == "ready"
