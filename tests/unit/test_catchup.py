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
from callcenter.store.models import Call, QueueEntry
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
