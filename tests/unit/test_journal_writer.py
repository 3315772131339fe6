"""The journal and the record writer: nothing is lost when the database is away or the process dies."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import select

from callcenter.calls import records as r
from callcenter.store import migrate
from callcenter.store.db import Database
from callcenter.store.journal import Journal
from callcenter.store.models import Call, QueueEntry, epoch
from callcenter.store.writer import RecordWriter
from tests.harness.tcpproxy import TcpProxy

T = 1_800_000_000.5


def _call(n: int, disposition: str = "in-progress") -> r.CallRecord:
    return r.CallRecord(linkedid=f"cc-{n}", started_at=T + n, caller_number=f"1380000{n:04d}", caller_name="张三",
                        disposition=disposition)


def _writer(db: Database, journal_dir: Path) -> RecordWriter:
    w = RecordWriter(db, Journal(journal_dir), retry_min_s=0.05, retry_max_s=0.2)
    w._thread = threading.Thread(target=w._run, daemon=True)  # no reactor needed: flush by hand
    w._thread.start()
    return w


def _calls(db: Database) -> dict[str, str]:
    with db.session() as s:
        return {c.linkedid: c.disposition for c in s.scalars(select(Call))}


def test_changes_are_coalesced_and_upserted(db_url: str, tmp_path: Path) -> None:
    migrate.upgrade(db_url)
    db = Database(db_url)
    w = _writer(db, tmp_path / "journal")
    call = _call(1)
    w.put(call)
    call.disposition = "answered"
    w.put(call)
    entry = r.QueueEntryRecord(id="cc-1@1", linkedid="cc-1", uniqueid="cc-1", queue="main", entered_at=T, position=1)
    w.put(entry)
    w.flush()
    assert w.wait_idle(10)
    assert _calls(db) == {"cc-1": "answered"}
    call.disposition = "transferred"
    w.put(call)
    w.flush()
    assert w.wait_idle(10)
    assert _calls(db) == {"cc-1": "transferred"}
    with db.session() as s:
        [row] = s.scalars(select(QueueEntry)).all()
        assert epoch(row.entered_at) == T  # microseconds survive the round trip
    w.stop()
    assert w.journal.backlog == 0
    assert list((tmp_path / "journal").glob("segment-*")) == []
    db.dispose()


def test_database_away_then_back(pg_url: str, tmp_path: Path) -> None:
    migrate.upgrade(pg_url)
    host_port = pg_url.split("@", 1)[1].split("/", 1)[0]
    host, port = host_port.split(":")
    proxy = TcpProxy((host, int(port))).up()
    db = Database(pg_url.replace(host_port, f"127.0.0.1:{proxy.port}"))
    w = _writer(db, tmp_path / "journal")
    w.put(_call(1))
    w.flush()
    assert w.wait_idle(10)
    proxy.down()
    for n in range(2, 50):
        w.put(_call(n))
    w.flush()
    assert not w.wait_idle(1.0)
    assert w.db_ok is False and w.backlog == 48
    proxy.up()
    assert w.wait_idle(20)
    assert w.db_ok is True
    assert len(_calls(Database(pg_url))) == 49
    w.stop()
    proxy.down()
    db.dispose()


def test_a_crash_with_the_database_down_loses_nothing(db_url: str, tmp_path: Path) -> None:
    migrate.upgrade(db_url)
    dead = Database("postgresql://nobody@127.0.0.1:1/none")  # nothing listens on port 1
    w = _writer(dead, tmp_path / "journal")
    for n in range(10):
        w.put(_call(n, "answered"))
    w.flush()
    assert not w.wait_idle(0.5)
    assert Journal(tmp_path / "journal").backlog == 10
    # the process "dies" here: no stop(), the thread is abandoned
    db = Database(db_url)
    w2 = _writer(db, tmp_path / "journal")
    assert w2.wait_idle(10)
    assert _calls(db) == {f"cc-{n}": "answered" for n in range(10)}
    w2.stop()
    db.dispose()


def test_a_torn_last_line_is_ignored(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    j.append([("calls", "cc-1", {"linkedid": "cc-1"}), ("calls", "cc-2", {"linkedid": "cc-2"})])
    j.close()
    seg = next(tmp_path.glob("segment-*"))
    seg.write_bytes(seg.read_bytes() + b'{"s": 3, "t": "calls", "k": "cc-3", "v": {"linke')
    reopened = Journal(tmp_path)
    assert [row[1] for _seq, row in reopened.pending()] == ["cc-1", "cc-2"]
    assert reopened.seq == 2


def test_commit_keeps_what_is_not_yet_written(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    j.append([("calls", f"cc-{n}", {"linkedid": f"cc-{n}"}) for n in range(5)])
    j.commit(3)
    assert [seq for seq, _row in Journal(tmp_path).pending()] == [4, 5]
    j.commit(5)
    assert list(Journal(tmp_path).pending()) == []
