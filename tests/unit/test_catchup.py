"""Recovering from queue_log what AMI never delivered (daemon down or restarting)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from callcenter.calls import records as r
from callcenter.calls.catchup import QueueLogFollower, recover
from callcenter.calls.queries import queue_entries
from callcenter.kpi.replay import replay_queue_log
from callcenter.kpi.service_level import compute
from callcenter.store import migrate
from callcenter.store.db import Database
from callcenter.store.models import Call, QueueEntry, Recording, epoch
from callcenter.store.rows import to_row, upsert_rows

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "ami" / "asterisk22-call-path.queue_log"


def _write(db: Database, records: list) -> None:
    with db.engine.begin() as conn:
        for rec in records:
            table, _key, values = to_row(rec)
            upsert_rows(conn, table, [values])


def test_follower_reads_increments_keeps_partial_lines_and_survives_rotation(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    log.write_text("100|NONE|NONE|NONE|QUEUESTART|\n100|MANAGER|main|1001|ADDMEMBER|\n"
                   "101|c-1|main|NONE|ENTERQUEUE||13800000001|1\n102|c-1|main|1001|CONN")
    f = QueueLogFollower(str(log))
    f.read()
    assert list(f.callers) == ["c-1"]  # member and queue-wide lines are not callers
    with log.open("a") as out:
        out.write("ECT|1|c-2.1|1\n130|c-1|main|1001|COMPLETECALLER|1|28|1\n")
    f.read()
    assert f.callers["c-1"].lines[-2].endswith("CONNECT|1|c-2.1|1")
    assert f.ripe(now=150, lag=60) == {}
    assert list(f.ripe(now=200, lag=60)) == ["c-1"] and f.callers == {}
    log.write_text("300|c-9|main|NONE|ENTERQUEUE||1|1\n")  # rotated: shorter than what was read
    f.read()
    assert list(f.callers) == ["c-9"]


def test_an_empty_database_gets_every_caller_and_the_kpi_matches(db_url: str) -> None:
    migrate.upgrade(db_url)
    db = Database(db_url)
    f = QueueLogFollower(str(FIXTURE))
    f.read()
    callers = f.ripe(now=1e12, lag=0)
    with db.session() as s:
        records = recover(s, callers, 15)
    _write(db, records)
    with db.session() as s:
        from_db = compute(queue_entries(s), 15).as_json()
        calls = s.scalars(select(Call)).all()
    assert from_db == replay_queue_log(str(FIXTURE)).as_json()
    assert len(calls) == 8 and sum(c.disposition == "answered" for c in calls) == 6
    # a second pass finds nothing to do
    with db.session() as s:
        assert recover(s, callers, 15) == []
    db.dispose()


def test_a_stay_left_unfinished_gets_its_real_outcome(db_url: str) -> None:
    migrate.upgrade(db_url)
    db = Database(db_url)
    # what AMI delivered before the daemon died: the caller joined, nothing more
    call = r.CallRecord(linkedid="c-1", started_at=100.4, caller_number="13800000001", caller_name="张三",
                        did="12345", hotline="12345", first_queued_at=101.4, first_queue="main", disposition="queued")
    stay = r.QueueEntryRecord(id="c-1@101.400000", linkedid="c-1", uniqueid="c-1", queue="main", entered_at=101.4,
                              position=1, outcome=r.LEFT)
    _write(db, [call, stay])
    lines = ["101|c-1|main|NONE|ENTERQUEUE||13800000001|1", "105|c-1|main|1001|CONNECT|4|c-1.1|4",
             "150|c-1|main|1001|COMPLETECALLER|4|45|1"]
    with db.session() as s:
        _write(db, recover(s, {"c-1": lines}, 15))
    with db.session() as s:
        [row] = s.scalars(select(QueueEntry)).all()
        fixed = s.get(Call, "c-1")
    assert row.id == "c-1@101.400000" and row.outcome == "answered" and row.agent == "1001"
    assert (row.hold_s, row.talk_s) == (4, 45)
    assert fixed.disposition == "answered" and fixed.answered_by == "1001" and fixed.wait_s == 4
    assert fixed.hotline == "12345" and fixed.caller_name == "张三"  # what AMI knew stays
    db.dispose()


def test_a_talk_the_daemon_died_in_is_completed_and_its_recording_linked(db_url: str, tmp_path: Path) -> None:
    # What AMI delivered before kill -9: the caller was answered; no completion, no hang-up. The
    # recording file exists (MixMonitor went on) but the daemon never said so (issue 7, item 8).
    import time as _time

    migrate.upgrade(db_url)
    db = Database(db_url)
    t0 = 1_800_000_100.0
    call = r.CallRecord(linkedid="c-7", started_at=t0 - 1, caller_number="13800000007", did="12345",
                        hotline="12345", first_queued_at=t0, first_queue="main", answered_at=t0 + 4,
                        answered_by="1001", answered_queue="main", wait_s=4, answered_within_sl=True,
                        disposition="answered", flow="main")
    stay = r.QueueEntryRecord(id="c-7@1800000100.000000", linkedid="c-7", uniqueid="c-7", queue="main",
                              entered_at=t0, position=1, outcome=r.ANSWERED, left_at=t0 + 4, hold_s=4,
                              agent="1001", connected_at=t0 + 4, ring_s=1)
    _write(db, [call, stay])
    day = _time.strftime("%Y/%m/%d", _time.localtime(t0))
    (tmp_path / day).mkdir(parents=True)
    (tmp_path / day / "c-7.wav").write_bytes(b"RIFF" + b"\0" * 100)
    lines = ["1800000100|c-7|main|NONE|ENTERQUEUE||13800000007|1", "1800000104|c-7|main|1001|CONNECT|4|c-7.1|1",
             "1800000134|c-7|main|1001|COMPLETEAGENT|4|30|1"]
    with db.session() as s:
        _write(db, recover(s, {"c-7": lines}, 15, str(tmp_path)))
    with db.session() as s:
        [row] = s.scalars(select(QueueEntry)).all()
        fixed = s.get(Call, "c-7")
        recordings = s.scalars(select(Recording)).all()
    assert (row.talk_s, row.complete_reason, row.outcome) == (30, "agent", "answered")
    assert epoch(row.completed_at) == t0 + 34 and epoch(row.connected_at) == t0 + 4
    assert epoch(fixed.ended_at) == t0 + 34 and fixed.disposition == "answered" and fixed.flow == "main"
    assert fixed.recording_path == str(tmp_path / day / "c-7.wav")
    assert [(x.path, x.size_bytes) for x in recordings] == [(fixed.recording_path, 104)]
    # idempotent: nothing more to do
    with db.session() as s:
        assert recover(s, {"c-7": lines}, 15, str(tmp_path)) == []
    db.dispose()


def test_a_transfer_during_a_lost_talk_is_recorded_as_transferred(db_url: str) -> None:
    migrate.upgrade(db_url)
    db = Database(db_url)
    t0 = 1_800_000_200.0
    call = r.CallRecord(linkedid="c-8", started_at=t0, first_queued_at=t0, first_queue="main", answered_at=t0 + 2,
                        answered_by="1001", answered_queue="main", wait_s=2, disposition="answered")
    stay = r.QueueEntryRecord(id="c-8@x", linkedid="c-8", uniqueid="c-8", queue="main", entered_at=t0, position=1,
                              outcome=r.ANSWERED, left_at=t0 + 2, hold_s=2, agent="1001", connected_at=t0 + 2)
    _write(db, [call, stay])
    lines = ["1800000200|c-8|main|NONE|ENTERQUEUE||1|1", "1800000202|c-8|main|1001|CONNECT|2|c-8.1|1",
             "1800000222|c-8|main|1001|BLINDTRANSFER|2000|from-internal|2|20|1"]
    with db.session() as s:
        _write(db, recover(s, {"c-8": lines}, 15))
    with db.session() as s:
        [row] = s.scalars(select(QueueEntry)).all()
        fixed = s.get(Call, "c-8")
    assert (row.outcome, row.talk_s, row.complete_reason) == ("transferred", 20, "transfer")
    assert fixed.disposition == "transferred" and epoch(fixed.ended_at) == t0 + 22
    db.dispose()


def test_a_recording_started_before_the_daemon_died_gets_its_end_and_size(db_url: str, tmp_path: Path) -> None:
    migrate.upgrade(db_url)
    db = Database(db_url)
    t0 = 1_800_000_300.0
    wav = tmp_path / "c-9.wav"
    wav.write_bytes(b"\0" * 5000)
    call = r.CallRecord(linkedid="c-9", started_at=t0, first_queued_at=t0, first_queue="main", answered_at=t0 + 2,
                        answered_by="1001", answered_queue="main", wait_s=2, disposition="answered",
                        recording_path=str(wav))
    stay = r.QueueEntryRecord(id="c-9@x", linkedid="c-9", uniqueid="c-9", queue="main", entered_at=t0, position=1,
                              outcome=r.ANSWERED, left_at=t0 + 2, hold_s=2, agent="1001", connected_at=t0 + 2)
    _write(db, [call, stay, r.RecordingRecord(path=str(wav), linkedid="c-9", started_at=t0)])
    lines = ["1800000300|c-9|main|NONE|ENTERQUEUE||1|1", "1800000302|c-9|main|1001|CONNECT|2|c-9.1|1",
             "1800000312|c-9|main|1001|COMPLETECALLER|2|10|1"]
    with db.session() as s:
        _write(db, recover(s, {"c-9": lines}, 15))
    with db.session() as s:
        rec = s.get(Recording, str(wav))
    assert rec.size_bytes == 5000 and epoch(rec.ended_at) == t0 + 12
    db.dispose()
