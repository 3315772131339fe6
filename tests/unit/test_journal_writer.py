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


# ---- rows the database refuses for their content (issue 7, item 2b) ---------------------------------

def test_a_refused_row_is_dead_lettered_and_the_rest_written(db_url: str, tmp_path: Path) -> None:
    from callcenter.store import rows
    from callcenter.store.models import DeadLetter

    migrate.upgrade(db_url)
    db = Database(db_url)
    w = _writer(db, tmp_path / "journal")
    # A value no fitting can save: a time the database cannot store (year 10000+).
    bad = _call(7)
    bad.started_at = 1e13
    for n in range(1, 20):
        w.put(bad if n == 7 else _call(n))
    w.flush()
    assert w.wait_idle(10)
    assert sorted(_calls(db)) == sorted(f"cc-{n}" for n in range(1, 20) if n != 7)
    with db.session() as s:
        [letter] = s.scalars(select(DeadLetter)).all()
    assert (letter.table_name, letter.row_key) == ("calls", "cc-7")
    assert '"linkedid": "cc-7"' in letter.payload and letter.error
    assert w.dead_letters_since_start == 1 and w.dead_letter_rows == 1 and w.db_ok
    # Later rows are written too (nothing blocked), and the journal is fully committed.
    w.put(_call(42))
    w.flush()
    assert w.wait_idle(10) and "cc-42" in _calls(db)
    w.stop()
    assert w.journal.backlog == 0
    db.dispose()
    assert rows.TABLES["calls"]


def test_worst_case_values_are_written(db_url: str, tmp_path: Path) -> None:
    # 79-character numbers, 4-byte UTF-8, NUL bytes, lone surrogates, long names: all written, fitted.
    migrate.upgrade(db_url)
    db = Database(db_url)
    w = _writer(db, tmp_path / "journal")
    number = "1" * 79
    call = r.CallRecord(linkedid="cc-worst\x00", started_at=T, caller_number=number + "9" * 40,
                        caller_name="😀" * 200 + "\x00", did="\ud800" + "2" * 90, channel="PJSIP/\x00x" * 40,
                        transferred_to="3" * 79, disposition="answered", tags={"k": "v\x00"},
                        ivr_path=[{"node": "n\x00", "result": "😀"}])
    entry = r.QueueEntryRecord(id="cc-worst@1", linkedid="cc-worst", uniqueid="cc-worst", queue="q" * 100,
                               entered_at=T, position=1, caller_number=number, caller_name="O'Brien\x00",
                               complete_reason="x" * 40)
    vm = r.VoicemailRecord(id="vm-1", linkedid="cc-worst", mailbox="m", path="/p" * 400, created_at=T,
                           caller_number=number, caller_name="名" * 300)
    for rec in (call, entry, vm):
        w.put(rec)
    w.flush()
    assert w.wait_idle(10)
    assert w.dead_letters_since_start == 0
    with db.session() as s:
        row = s.get(Call, "cc-worst")
        assert row is not None
        assert row.caller_number == number + "9"
        assert row.caller_name == "😀" * 128
        assert row.did == "2" * 80 and row.tags == {"k": "v"} and row.ivr_path[0]["node"] == "n"
        [e] = s.scalars(select(QueueEntry)).all()
        assert e.caller_number == number and e.caller_name == "O'Brien" and len(e.queue) == 64
    w.stop()
    db.dispose()


def test_sql_parameters_never_reach_error_messages(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.sqlite'}")
    from sqlalchemy import text

    try:
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO nowhere VALUES (:n)"), {"n": "13800138000"})
    except Exception as exc:
        assert "13800138000" not in str(exc)
    else:
        raise AssertionError("the insert should fail")
    db.dispose()


# ---- a full disk (issue 7, item 3) --------------------------------------------------------------------

class _DiskFull:
    """Makes os.write fail with ENOSPC while ``full`` is set (after writing a few bytes: a torn write)."""

    def __init__(self, monkeypatch) -> None:  # type: ignore[no-untyped-def]
        import errno
        import os

        self.full = False
        real = os.write

        def write(fd: int, data) -> int:  # type: ignore[no-untyped-def]
            if self.full:
                real(fd, bytes(data[:7]))
                raise OSError(errno.ENOSPC, "No space left on device")
            return real(fd, data)

        monkeypatch.setattr("callcenter.store.journal.os.write", write)


def test_journal_sequence_advances_only_after_a_durable_write(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import pytest

    disk = _DiskFull(monkeypatch)
    j = Journal(tmp_path)
    j.append([("calls", "a", {"n": 1})])
    disk.full = True
    with pytest.raises(OSError):
        j.append([("calls", "b", {"n": 2})])
    assert j.seq == 1
    disk.full = False
    assert j.append([("calls", "c", {"n": 3})]) == 2
    j.close()
    assert [(seq, row[1]) for seq, row in Journal(tmp_path).pending()] == [(1, "a"), (2, "c")]


def test_torn_write_that_cannot_be_cut_is_ended_by_the_next_write(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import pytest

    disk = _DiskFull(monkeypatch)
    monkeypatch.setattr("callcenter.store.journal.os.ftruncate", lambda fd, n: (_ for _ in ()).throw(OSError(5, "EIO")))
    j = Journal(tmp_path)
    j.append([("calls", "a", {"n": 1})])
    disk.full = True
    with pytest.raises(OSError):
        j.append([("calls", "b", {"n": 2})])
    disk.full = False
    j.append([("calls", "c", {"n": 3})])
    j.close()
    assert [row[1] for _seq, row in Journal(tmp_path).pending()] == ["a", "c"]


def test_writer_survives_a_full_journal_disk_and_resumes_by_itself(pg_url: str, tmp_path: Path,
                                                                   monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # PostgreSQL away and the journal's disk full: rows stay in memory, health names the disk; when
    # both come back, everything is journaled and written without a restart.
    migrate.upgrade(pg_url)
    host_port = pg_url.split("@", 1)[1].split("/", 1)[0]
    host, port = host_port.split(":")
    proxy = TcpProxy((host, int(port))).up()
    db = Database(pg_url.replace(host_port, f"127.0.0.1:{proxy.port}"))
    disk = _DiskFull(monkeypatch)
    w = _writer(db, tmp_path / "journal")
    w.put(_call(1))
    w.flush()
    assert w.wait_idle(10)
    proxy.down()
    disk.full = True
    for n in range(2, 12):
        w.put(_call(n))
    w.flush()
    assert not w.wait_idle(1.0)
    assert w.journal_ok is False and "No space left" in (w.journal_error or "")
    assert str(tmp_path / "journal") in (w.journal_error or "")
    assert w.unjournaled == 10 and w.backlog == 10 and w._thread is not None and w._thread.is_alive()
    disk.full = False  # space is back: the rows get journaled while the database is still away
    w.put(_call(12))
    w.flush()
    for _ in range(100):
        if w.journal_ok and w.unjournaled == 0:
            break
        threading.Event().wait(0.05)
    assert w.journal_ok and w.unjournaled == 0 and Journal(tmp_path / "journal").backlog == 11
    proxy.up()
    assert w.wait_idle(15)
    assert sorted(_calls(db)) == sorted(f"cc-{n}" for n in range(1, 13))
    w.stop()
    proxy.down()
    db.dispose()


def test_writer_thread_restarts_after_an_unexpected_error(db_url: str, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from callcenter.supervise import Supervisor

    migrate.upgrade(db_url)
    db = Database(db_url)
    w = RecordWriter(db, Journal(tmp_path / "journal"), retry_min_s=0.05, retry_max_s=0.2)
    sup = Supervisor(min_backoff_s=0.05)
    real = w._write_once
    failures = []

    def flaky() -> bool:
        if not failures:
            failures.append(1)
            raise RuntimeError("unexpected")
        return real()

    monkeypatch.setattr(w, "_write_once", flaky)
    w._thread = sup.thread("record-writer", w._run)
    w.put(_call(1))
    w.flush()
    w.put(_call(2))
    w.flush()
    assert w.wait_idle(10)
    assert sorted(_calls(db)) == ["cc-1", "cc-2"] and sup.failures == 1
    w.stop()
    db.dispose()


def test_an_adopted_call_keeps_what_its_row_already_holds(db_url: str, tmp_path: Path) -> None:
    # After a restart mid-call the daemon learns of the call from its queue join: what the row
    # already holds (flow, IVR path, DID, hotline, start) must survive that record's writes.
    migrate.upgrade(db_url)
    db = Database(db_url)
    w = _writer(db, tmp_path / "journal")
    before = r.CallRecord(linkedid="cc-5", started_at=T, caller_number="13800000005", caller_name="张三",
                          did="12310", hotline="12345", flow="12345", ivr_path=[{"node": "menu"}],
                          tags={"topic": "gas"})
    w.put(before)
    w.flush()
    assert w.wait_idle(10)
    adopted = r.CallRecord(linkedid="cc-5", started_at=T + 20, caller_number="13800000005", adopted=True,
                           first_queued_at=T + 20, first_queue="main", disposition="answered", answered_by="1001")
    fresh = r.CallRecord(linkedid="cc-6", started_at=T + 30, caller_number="1", adopted=True)
    w.put(adopted)
    w.put(fresh)
    w.flush()
    assert w.wait_idle(10)
    with db.session() as s:
        row = s.get(Call, "cc-5")
        new = s.get(Call, "cc-6")
    assert (row.flow, row.did, row.hotline, row.caller_name, row.tags) == ("12345", "12310", "12345", "张三",
                                                                           {"topic": "gas"})
    assert row.ivr_path == [{"node": "menu"}] and epoch(row.started_at) == T
    assert (row.disposition, row.answered_by, row.first_queue) == ("answered", "1001", "main")
    assert epoch(new.started_at) == T + 30 and new.ivr_path == [] and new.did == ""
    w.stop()
    db.dispose()
