"""Fault drills (issue 7): break one thing at a time under real calls; nothing may be lost.

The daemon runs for this module on PostgreSQL behind a TCP proxy the drills cut, with its data
directory (journal) on a small tmpfs the drills fill, and a private Redis (port base+7) they stop.
After each drill every call row is complete (ended, a real disposition, answered stays completed
with their talk time, recordings linked, the IVR flow kept) and the KPI from the database equals
Asterisk's queue_log replayed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from callcenter.store.models import Call, QueueEntry, Recording, utc
from tests.conftest import fresh_pg_database
from tests.harness import ivr
from tests.harness.stack import REPO, Stack, wait_for
from tests.harness.tcpproxy import TcpProxy

pytestmark = pytest.mark.e2e

# a Wednesday morning in Shanghai: the IVR's hours (and the fallback's) say open
OPEN = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()


CAP_BYTES = 8 << 20  # the journal's disk in the disk-full drill


@dataclass
class Drill:
    stack: Stack
    proxy: TcpProxy
    url: str
    proxied: str
    data_dir: Path
    disk_capped: bool
    redis_port: int
    redis: subprocess.Popen[bytes] | None
    engine: Engine

    @property
    def overrides(self) -> dict[str, Any]:
        return {"data_dir": str(self.data_dir), "redis_url": f"redis://127.0.0.1:{self.redis_port}/0"}

    def start_daemon(self) -> None:
        self.stack.start_daemon(self.proxied, self.overrides)

    def kill_daemon(self) -> None:
        assert self.stack.daemon is not None
        self.stack.daemon.send_signal(signal.SIGKILL)
        self.stack.daemon.wait(10)
        self.stack.daemon = None

    def start_redis(self) -> None:
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop_redis(self) -> None:
        if self.redis is not None:
            self.redis.kill()
            self.redis.wait()
            self.redis = None

    def cli_json(self, *args: str) -> Any:
        proc = subprocess.run([sys.executable, "-m", "callcenter.cli.main", "--config",
                               str(self.stack.workdir / "callcenter-alt.yaml"), *args, "--json"],
                              capture_output=True, text=True, cwd=str(REPO), timeout=120)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    def calls(self, *numbers: str) -> list[Call]:
        """This test's calls from ``numbers`` (the queue_log catch-up also recovers earlier tests' calls, some
        from the same numbers, into the drill's fresh database)."""
        since = utc(getattr(self.stack, "t0", 0.0) - 1.0)
        with Session(self.engine) as s:
            return list(s.scalars(select(Call).where(Call.caller_number.in_(numbers), Call.started_at >= since)))

    def entries(self, linkedid: str) -> list[QueueEntry]:
        with Session(self.engine) as s:
            return list(s.scalars(select(QueueEntry).where(QueueEntry.linkedid == linkedid)
                                  .order_by(QueueEntry.entered_at)))


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
                       check=True, capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return True


@pytest.fixture(scope="module")
def drill(stack: Stack) -> Iterator[Drill]:
    pg = fresh_pg_database()
    url = next(pg)
    host_port = url.split("@", 1)[1].split("/", 1)[0]
    host, port = host_port.split(":")
    proxy = TcpProxy((host, int(port))).up()
    data_dir = stack.workdir / "drill-data"
    capped = _mount_tmpfs(data_dir, f"{CAP_BYTES}")
    d = Drill(stack, proxy, url, url.replace(host_port, f"127.0.0.1:{proxy.port}"), data_dir, capped,
              stack.ports.base + 7, None, create_engine(url.replace("postgresql://", "postgresql+psycopg://")))
    d.start_redis()
    stack.stop_daemon()
    try:
        d.start_daemon()
        wait_for(lambda: stack.health().get("redis_ok"), 15, what="the daemon to reach the drill's Redis")
        yield d
    finally:
        stack.stop_daemon()
        proxy.down()
        d.stop_redis()
        d.engine.dispose()
        if capped and os.path.ismount(data_dir):
            subprocess.run(["umount", "-l", str(data_dir)], check=False, capture_output=True)
        next(pg, None)
        stack.start_daemon()


@pytest.fixture
def clean_drill(drill: Drill, clean: Stack) -> Iterator[Drill]:
    """The drill stack, agents logged out, counters reset; the drill's daemon running afterwards."""
    if clean.daemon is None or clean.daemon.poll() is not None or not clean.health().get("redis_ok"):
        clean.stop_daemon()
        drill.start_daemon()
    yield drill
    if clean.daemon is None or clean.daemon.poll() is not None:
        drill.start_daemon()


def ready(s: Stack, agent: str, talk_ms: int = 1000) -> None:
    s.agent_phone(agent, ring_ms=300, talk_ms=talk_ms)
    s.wait_agent_reachable(agent)
    s.login(agent, "main")


def complete(d: Drill, number: str, flow: str | None = None, timeout: float = 40.0) -> Call:
    """The call from ``number`` once its row is complete: what a drill must not have left unfinished."""
    def check() -> Call | None:
        calls = d.calls(number)
        if len(calls) != 1:
            return None
        [call] = calls
        if call.ended_at is None or call.disposition in ("in-progress", "queued", "waiting", "left"):
            return None
        if flow is not None and call.flow != flow:
            return None
        entries = d.entries(call.linkedid)
        if call.disposition == "answered":
            if not call.answered_by or not entries:
                return None
            if any(e.connected_at is not None and (e.completed_at is None or e.talk_s is None) for e in entries):
                return None
            if not call.recording_path:
                return None
        return call

    return wait_for(check, timeout, 0.5, f"the call from {number} complete in the database")


def kpi_equals_queue_log(d: Drill, since: float) -> dict[str, Any]:
    """The database's KPI equals the queue_log replayed, over the drill's window (catch-up may lag)."""
    window = ["--since", f"{since:.6f}"]

    def same() -> dict[str, Any] | None:
        from_db = d.cli_json("kpi", "service-level", *window)
        from_log = d.cli_json("kpi", "replay", "--queue-log", str(d.stack.sandbox.queue_log), *window)
        return from_db if from_db == from_log else None

    return wait_for(same, 30, 1.0, "the database's KPI to equal the queue_log replay")


def test_daemon_killed_during_talk(clean_drill: Drill) -> None:
    d, s = clean_drill, clean_drill.stack
    ready(s, "1001", talk_ms=6000)
    caller = s.caller("13900000001", "通话中", hold_ms=20000).start()
    wait_for(lambda: any(c.answered_at for c in d.calls("13900000001")), 20, what="the call answered")
    time.sleep(1.0)
    d.kill_daemon()
    d.start_daemon()
    assert caller.wait().ok
    call = complete(d, "13900000001")
    assert call.answered_by == "1001" and call.caller_name == "通话中"
    [entry] = d.entries(call.linkedid)
    assert entry.complete_reason == "agent" and entry.talk_s >= 4
    with Session(d.engine) as session:
        rec = session.get(Recording, call.recording_path)
    assert rec is not None and os.path.getsize(call.recording_path) > 8000
    kpi = kpi_equals_queue_log(d, s.t0)  # type: ignore[attr-defined]
    assert kpi["answered"] == 1


def test_daemon_killed_during_the_ivr(clean_drill: Drill) -> None:
    d, s = clean_drill, clean_drill.stack
    ivr.set_clock(s, OPEN)
    ivr.set_fallback_clock(s, OPEN)
    try:
        # the shipped 12345 flow: no key pressed holds the caller in the main menu (FastAGI) for ~15 s
        caller = s.caller("13900000002", did="12310", hold_ms=40000).start()
        ready(s, "1002")
        wait_for(lambda: s.http("/ivr/stats")[1].get("sessions_active") == 1, 15, what="the IVR session open")
        time.sleep(0.5)  # the flow's first steps reach the journal
        d.kill_daemon()
        d.start_daemon()
        assert caller.wait().ok
    finally:
        ivr.set_fallback_clock(s, None)
    call = complete(d, "13900000002", flow="12345")
    assert call.answered_by == "1002" and call.did == "12310" and call.ivr_path
    kpi = kpi_equals_queue_log(d, s.t0)  # type: ignore[attr-defined]
    assert kpi["answered"] == 1


def test_database_down(clean_drill: Drill) -> None:
    d, s = clean_drill, clean_drill.stack
    ready(s, "1001")
    # the outage the issue asks for: 60 s (CALLCENTER_TEST_DB_OUTAGE_S shortens it for a quick local run)
    outage_s = float(os.environ.get("CALLCENTER_TEST_DB_OUTAGE_S", "60"))
    down_at = time.monotonic()
    d.proxy.down()
    try:
        assert s.caller("13900000003", "断库", hold_ms=6000).run().ok
        health = wait_for(lambda: (h := s.health()) and not h["database_ok"] and h["writer_backlog_rows"] and h,
                          20, what="the daemon to report the database down with a backlog")
        assert health["journal_ok"] and health["background_failures"] == 0
        # the outage lasts; a call at its end is journaled like the first
        time.sleep(max(0.0, down_at + outage_s - 8 - time.monotonic()))
        assert s.caller("13900000004", hold_ms=4000).run().ok
        time.sleep(max(0.0, down_at + outage_s - time.monotonic()))
    finally:
        d.proxy.up()
    complete(d, "13900000003")
    complete(d, "13900000004")
    wait_for(lambda: (h := s.health())["database_ok"] and h["writer_backlog_rows"] == 0, 30,
             what="the backlog written")
    assert kpi_equals_queue_log(d, s.t0)["answered"] == 2  # type: ignore[attr-defined]


def test_journal_disk_full_while_the_database_is_down(clean_drill: Drill) -> None:
    d, s = clean_drill, clean_drill.stack
    if not d.disk_capped:
        pytest.skip("cannot mount a tmpfs here (needs root): no size-capped journal disk")
    # Never fill any other disk: the data directory must be the small tmpfs, and the journal on it.
    fs = os.statvfs(d.data_dir)
    assert os.path.ismount(d.data_dir) and fs.f_blocks * fs.f_frsize <= CAP_BYTES, "the drill's tmpfs is gone"
    assert os.stat(d.data_dir / "journal").st_dev == os.stat(d.data_dir).st_dev
    ready(s, "1001")
    filler = d.data_dir / "filler"
    d.proxy.down()
    try:
        with open(filler, "wb", buffering=0) as f:  # fill the disk to the last byte (at most its size)
            try:
                for _ in range(CAP_BYTES // 4096 + 1):
                    f.write(b"\0" * 4096)
            except OSError:
                pass
        assert s.caller("13900000005", "满盘", hold_ms=6000).run().ok
        health = wait_for(lambda: (h := s.health()) and not h["journal_ok"] and h["writer_unjournaled_rows"] and h,
                          20, what="the daemon to report the journal's disk full")
        assert str(d.data_dir / "journal") in health["journal_error"] and health["journal_dir"].startswith(
            str(d.data_dir))
        assert "space" in health["journal_error"].lower()
        assert not health["database_ok"]
        assert s.daemon is not None and s.daemon.poll() is None
    finally:
        filler.unlink(missing_ok=True)
        d.proxy.up()
    # no restart: space and the database are back, writes resume by themselves
    call = complete(d, "13900000005")
    assert call.caller_name == "满盘"
    health = wait_for(lambda: (h := s.health())["journal_ok"] and h["database_ok"] and not h["writer_backlog_rows"]
                      and h, 30, what="journal and database healthy again")
    assert health["background"]["record-writer"]["running"]
    assert kpi_equals_queue_log(d, s.t0)["answered"] == 1  # type: ignore[attr-defined]


def test_redis_down(clean_drill: Drill) -> None:
    d, s = clean_drill, clean_drill.stack
    ready(s, "1001")
    d.stop_redis()
    try:
        wait_for(lambda: s.health().get("redis_ok") is False, 20, what="the daemon to notice Redis is gone")
        assert s.caller("13900000006", hold_ms=4000).run().ok
        complete(d, "13900000006")
    finally:
        d.start_redis()
    wait_for(lambda: s.health().get("redis_ok"), 30, what="the daemon back on Redis")
    assert kpi_equals_queue_log(d, s.t0)["answered"] == 1  # type: ignore[attr-defined]


def test_asterisk_restart(clean_drill: Drill) -> None:
    d, s = clean_drill, clean_drill.stack
    ready(s, "1001")
    s.sandbox.stop()
    wait_for(lambda: s.health().get("ami_connected") is False, 15, what="the daemon to notice Asterisk is gone")
    s.sandbox.start()
    # a call as soon as the agent's phone is back (the daemon may still be reconnecting)
    s.wait_agent_reachable("1001")
    assert s.caller("13900000007", "重启", hold_ms=4000).run().ok
    wait_for(lambda: s.health().get("ami_connected"), 20, what="the daemon to reconnect")
    call = complete(d, "13900000007")
    assert call.answered_by == "1001"
    assert kpi_equals_queue_log(d, s.t0)["answered"] == 1  # type: ignore[attr-defined]
