"""The daemon survives what production throws at it: restarts, missed events, a dropped database."""

from __future__ import annotations

import signal
import time

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from callcenter.store.models import AgentPause, AgentSession, Call, QueueEntry
from tests.conftest import fresh_pg_database
from tests.harness.checks import wait_call_ended
from tests.harness.softphone import Softphone
from tests.harness.stack import Stack, wait_for
from tests.harness.tcpproxy import TcpProxy

pytestmark = pytest.mark.e2e


def test_daemon_resyncs_what_happened_while_it_was_away(clean: Stack) -> None:
    s = clean
    s.login("1001", "main")
    wait_for(lambda: "1001" in s.live()["agents"] and s.live()["agents"]["1001"]["state"] != "logged_out", 10,
             what="1001 logged in")
    s.stop_daemon()
    # Changes the daemon cannot see: it must learn them from QueueStatus when it connects.
    s.login("1002", "main")
    s.cli("agent", "pause", "1001", "--reason", "training")
    s.start_daemon()
    board = wait_for(lambda: (b := s.live())["agents"].get("1002") and b, 10, what="1002 in the live board")
    assert "main" in board["agents"]["1002"]["queues"]
    assert board["agents"]["1001"]["state"] == "paused"
    assert board["agents"]["1001"]["pause_reason"] == "training"
    open_session = wait_for(lambda: s.query(lambda q: q.scalars(select(AgentSession).where(
        AgentSession.agent == "1002", AgentSession.logout_at.is_(None))).first()), 10,
        what="an open session for 1002 in the database")
    assert open_session.queue == "main"
    pause = wait_for(lambda: s.query(lambda q: q.scalars(select(AgentPause).where(
        AgentPause.agent == "1001", AgentPause.ended_at.is_(None))).first()), 10, what="1001's open pause")
    assert pause.reason == "training"


def test_asterisk_restart_reconnects_and_resyncs(clean: Stack) -> None:
    s = clean
    s.agent_phone("1001", ring_ms=1000, talk_ms=2000)
    s.wait_agent_reachable("1001")
    s.login("1001", "main")
    s.sandbox.stop()
    wait_for(lambda: s.health().get("ami_connected") is False, 15, what="the daemon to notice Asterisk is gone")
    s.sandbox.start()
    wait_for(lambda: s.health().get("ami_connected"), 20, what="the daemon to reconnect")
    # persistentmembers brought the agent back; the daemon's board must show it after resync
    board = wait_for(lambda: (b := s.live())["agents"].get("1001") and b, 10, what="1001 after resync")
    assert board["agents"]["1001"]["queues"] == ["main"]
    s.wait_agent_reachable("1001")
    assert s.caller("13800000007", "重连", hold_ms=15000).run().ok
    call = wait_call_ended(s, "13800000007")
    assert call.disposition == "answered" and call.answered_by == "1001"


def test_database_outage_loses_nothing_even_across_a_crash(clean: Stack) -> None:
    s = clean
    pg = fresh_pg_database()
    url = next(pg)
    host_port = url.split("@", 1)[1].split("/", 1)[0]
    host, port = host_port.split(":")
    proxy = TcpProxy((host, int(port))).up()
    proxied = url.replace(host_port, f"127.0.0.1:{proxy.port}")
    try:
        s.stop_daemon()
        s.start_daemon(database_url=proxied)
        s.agent_phone("1001", ring_ms=1000, talk_ms=2000)
        s.wait_agent_reachable("1001")
        s.login("1001", "main")
        proxy.down()
        assert s.caller("13800000008", "断库", hold_ms=15000).run().ok
        health = wait_for(lambda: (h := s.health()) and not h["database_ok"] and h["writer_backlog_rows"] and h,
                          20, what="the daemon to report the database down with a backlog")
        assert health["writer_backlog_rows"] > 0
        time.sleep(2.0)  # the recording check lands a second after the hang-up
        s.stop_daemon(signal.SIGKILL)  # a crash: only the journal remembers
        proxy.up()
        s.start_daemon(database_url=proxied)
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))

        def written() -> Call | None:
            with Session(engine) as session:
                return session.scalars(select(Call).where(Call.caller_number == "13800000008")).first()

        call = wait_for(written, 30, what="the journaled call to reach the database")
        assert call.disposition == "answered" and call.answered_by == "1001"
        with Session(engine) as session:
            entries = session.scalars(select(QueueEntry).where(QueueEntry.linkedid == call.linkedid)).all()
        assert [e.outcome for e in entries] == ["answered"]
        engine.dispose()
    finally:
        s.stop_daemon()
        proxy.down()
        next(pg, None)
        s.start_daemon()


def test_a_registering_softphone_answers_queue_calls(clean: Stack) -> None:
    s = clean
    agent = s.config.agents[-1].id  # the agent without a static contact
    phone = Softphone(s.workdir, agent, s.config.agent_password(agent), f"127.0.0.1:{s.ports.sip}",
                      s.ports.agent(50)).start()
    try:
        wait_for(lambda: "Avail" in s.sandbox.cli(f"pjsip show aor {agent}"), 20,
                 what=f"softphone {agent} registered:\n{phone.log()}")
        s.login(agent, "main")
        assert s.caller("13800000009", "软电话", hold_ms=6000).run().ok
        call = wait_call_ended(s, "13800000009")
        assert call.disposition == "answered" and call.answered_by == agent
        import os

        assert os.path.getsize(call.recording_path) > 8000
    finally:
        phone.stop()


def test_calls_the_daemon_missed_are_recovered_from_queue_log(clean: Stack) -> None:
    from tests.harness.checks import entries_of

    s = clean
    s.agent_phone("1001", ring_ms=1000, talk_ms=2000)
    s.wait_agent_reachable("1001")
    s.login("1001", "main")
    s.stop_daemon()
    # the daemon is down: Asterisk and the IVR's fallback still queue and answer the call
    assert s.caller("13800000010", "停机", hold_ms=20000).run().ok
    s.start_daemon()

    def recovered() -> object:
        def q(session: object) -> object:
            return session.scalars(select(Call).where(Call.caller_number == "13800000010")).first()  # type: ignore[attr-defined]
        return s.query(q)

    call = wait_for(recovered, 30, what="the missed call recovered from queue_log")
    assert call.disposition == "answered" and call.answered_by == "1001"
    [entry] = entries_of(s, call.linkedid)
    assert entry.outcome == "answered" and entry.talk_s is not None
    window = ["--since", f"{s.t0:.6f}"]
    from_db = s.cli_json("kpi", "service-level", *window)
    from_log = s.cli_json("kpi", "replay", "--queue-log", str(s.sandbox.queue_log), *window)
    assert from_db == from_log and from_db["answered"] == 1
