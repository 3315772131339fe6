"""What ops do from the CLI against a running call centre: agents, queue status, capture, calls, Redis."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import redis
from sqlalchemy import select

from callcenter.store.models import AgentSession
from tests.e2e.conftest import REDIS_URL
from tests.harness.checks import wait_call_ended
from tests.harness.stack import REPO, Stack, wait_for

pytestmark = pytest.mark.e2e


def test_agent_login_logout_is_recorded_as_a_session(clean: Stack) -> None:
    s = clean
    out = s.cli("agent", "login", "1003").stdout
    assert "logged in to main, complaints" in out
    listed = {a["agent"]: a for a in s.cli_json("agent", "list")}
    assert listed["1003"]["queues"] == ["complaints", "main"]
    assert listed["1004"]["state"] == "logged_out"
    assert "(already)" in s.cli("agent", "login", "1003").stdout
    s.cli("agent", "logout", "1003", "-q", "complaints")
    assert s.cli_json("agent", "list")[2]["queues"] == ["main"]
    s.cli("agent", "logout", "1003")
    sessions = wait_for(lambda: s.query(lambda q: list(q.scalars(select(AgentSession).where(
        AgentSession.agent == "1003", AgentSession.login_at >= _utc(s.t0))))), 10, what="1003's sessions")
    wait_for(lambda: all(x.logout_at is not None for x in s.query(lambda q: list(q.scalars(select(AgentSession).where(
        AgentSession.agent == "1003", AgentSession.login_at >= _utc(s.t0)))))), 10, what="sessions closed")
    assert sorted(x.queue for x in sessions) == ["complaints", "main"]
    bad = s.cli("agent", "login", "9999", check=False)
    assert bad.returncode == 1 and "unknown agent" in bad.stderr
    bad = s.cli("agent", "pause", "1003", check=False)
    assert bad.returncode == 2 and "--reason" in bad.stderr


def _utc(ts: float):  # type: ignore[no-untyped-def]
    from callcenter.store.models import utc

    return utc(ts)


def test_ami_capture_writes_the_raw_stream(clean: Stack) -> None:
    s = clean
    target = s.workdir / "ops-capture.raw"
    proc = subprocess.Popen([sys.executable, "-m", "callcenter.cli.main", "--config", str(s.sandbox.config_file),
                             "ami", "capture", str(target), "--duration", "4"], cwd=str(REPO))
    time.sleep(1.5)
    s.login("1004", "main")
    assert proc.wait(15) == 0
    raw = target.read_bytes()
    assert raw.startswith(b"Asterisk Call Manager/")
    assert b"Event: QueueMemberAdded" in raw and b"MemberName: 1004" in raw


def test_calls_list_masks_numbers_unless_asked(clean: Stack) -> None:
    s = clean
    s.agent_phone("1001", ring_ms=500, talk_ms=1000)
    s.wait_agent_reachable("1001")
    s.login("1001", "main")
    assert s.caller("13712345678", "周八", hold_ms=10000).run().ok
    wait_call_ended(s, "13712345678")
    masked = s.cli_json("calls", "list", "--since", f"{s.t0:.3f}")
    assert masked[0]["caller_number"] == "137****5678" and masked[0]["hotline"] == "12345"
    full = json.loads(s.cli("calls", "list", "--since", f"{s.t0:.3f}", "--show-numbers", "--json").stdout)
    assert full[0]["caller_number"] == "13712345678"
    assert full[0]["disposition"] == "answered" and full[0]["answered_by"] == "1001"


def test_live_state_in_redis_when_configured(clean: Stack) -> None:
    s = clean
    if s.config.redis_url is None:
        assert s.health()["redis_ok"] is None  # leg without Redis: in-memory only, and says so
        return
    r = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    s.login("1002", "main")

    def mirrored() -> dict | None:
        raw = r.get(f"callcenter:{s.config.node}:agent:1002")
        agent = json.loads(raw) if raw else None
        return agent if agent and agent["queues"] == ["main"] else None

    agent = wait_for(mirrored, 10, what="agent 1002 mirrored in Redis")
    assert agent["agent"] == "1002"
    assert s.health()["redis_ok"] is True
    board = json.loads(r.get(f"callcenter:{s.config.node}:board"))
    assert "main" in board["queues"]
