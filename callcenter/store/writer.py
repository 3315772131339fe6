"""The record writer: coalesce record changes, journal them, upsert them in batches, off the reactor.

Domain code calls :meth:`RecordWriter.put` with a record (call, queue entry, ...) whenever it
changes. Every ``interval`` seconds the latest state of each changed record becomes a row; the
rows go to a single writer thread that appends them to the :class:`Journal` (fsync) and then
upserts them. If the database is down, rows stay journaled and in memory and are retried with
backoff; nothing is dropped.

A row the database refuses for its *content* (too long, NUL byte, constraint) must not block every
later write: the batch is bisected to find the refused rows, which go to the ``dead_letters`` table
(or, if even that fails, ``dead-letters.jsonl`` next to the journal) with their error; the rest is
written. ``callcenter db dead-letters --retry`` tries them again.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError, StatementError

from callcenter.store.db import Database
from callcenter.store.journal import Journal, Row
from callcenter.store.rows import to_row, upsert_rows

log = logging.getLogger(__name__)

_STOP = object()
Item = tuple[tuple[str, Any], tuple[int | None, Row]]  # ((table, key), (journal seq, row))


def is_content_error(exc: BaseException) -> bool:
    """True when the database (or the driver) refused the rows themselves, not the connection."""
    if isinstance(exc, DataError | IntegrityError):
        return True
    if isinstance(exc, StatementError) and not isinstance(exc, DBAPIError):
        return True  # the driver could not adapt a value
    return isinstance(exc, ValueError | TypeError | OverflowError | UnicodeError)


def _dead_letter_row(row: Row, error: BaseException) -> dict[str, Any]:
    table, key, values = row
    orig = getattr(error, "orig", None) or error
    return {"table_name": str(table)[:64], "row_key": str(key)[:200],
            "payload": json.dumps(values, ensure_ascii=False, default=str),
            "error": f"{error.__class__.__name__}: {orig}"[:2000]}


class RecordWriter:
    def __init__(
        self,
        db: Database,
        journal: Journal,
        interval: float = 0.05,
        retry_min_s: float = 0.5,
        retry_max_s: float = 15.0,
        on_error: Callable[[Exception], None] | None = None,
        dead_letter_file: str | os.PathLike[str] | None = None,
    ) -> None:
        self.db = db
        self.journal = journal
        self.interval = interval
        self.retry_min_s, self.retry_max_s = retry_min_s, retry_max_s
        self.on_error = on_error
        self._changed: dict[tuple[type, int], Any] = {}
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._loop: Any = None
        # batches handed to the thread and not yet in the database
        self._outstanding = 0
        self._cond = threading.Condition()
        # state of the writer thread
        # (table, key) → (journal sequence, or None while the journal cannot be written; row)
        self._unwritten: dict[tuple[str, Any], tuple[int | None, Row]] = {}
        self.db_ok = True
        self.journal_ok = True
        self.journal_error: str | None = None
        self.rows_written = 0
        self.batches = 0
        # rows the database refused for their content (see _isolate)
        default_file = journal.dir.parent / "dead-letters.jsonl"
        self.dead_letter_file = Path(dead_letter_file) if dead_letter_file else default_file
        self.dead_letters_since_start = 0
        self.dead_letter_rows_at_start: int | None = None
        self._alerted = False
        self.on_dead_letter: Callable[[int], None] | None = None
        # Rows a previous run journaled but never committed (crash, dead database): written first.
        for seq, row in self.journal.pending():
            self._unwritten[(row[0], row[1])] = (seq, row)
        if self._unwritten:
            log.info("%d journaled rows from a previous run will be written", len(self._unwritten))

    # ---- reactor side ---------------------------------------------------------------------------
    def put(self, record: Any) -> None:
        """Note that ``record`` changed; its latest state is written at the next flush."""
        self._changed[(type(record), id(record))] = record

    def flush(self) -> None:
        """Serialise changed records and hand them to the writer thread (non-blocking)."""
        if not self._changed:
            return
        changed, self._changed = self._changed, {}
        rows = []
        for rec in changed.values():
            try:
                rows.append(to_row(rec))
            except Exception:
                # A record that cannot become a row (a bug) must not block the others at every flush.
                log.exception("record %s %r cannot be written; skipped", type(rec).__name__,
                              getattr(rec, "linkedid", None) or getattr(rec, "id", None))
        if not rows:
            return
        with self._cond:
            self._outstanding += 1
        self._queue.put(rows)

    def start(self, supervisor: Any = None) -> None:
        """Start the writer thread (replays the journal first) and the periodic flush, supervised."""
        from callcenter.supervise import Supervisor

        supervisor = supervisor or Supervisor()
        self._thread = supervisor.thread("record-writer", self._run)
        self._loop = supervisor.looping("record-flush", self.flush, self.interval, now=False)

    def stop(self, timeout: float = 30.0) -> None:
        """Flush what is left, wait for the thread to write it (or give up after ``timeout``)."""
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self.flush()
        self._queue.put(_STOP)
        if self._thread is not None:
            self._thread.join(timeout)
        self.journal.close()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every row handed over so far is in the database (tests, shutdown)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._outstanding == 0 and not self._unwritten, timeout)

    @property
    def backlog(self) -> int:
        """Rows journaled but not yet in the database."""
        return len(self._unwritten)

    # ---- writer thread ------------------------------------------------------------------------------
    @property
    def dead_letter_rows(self) -> int | None:
        """Dead letters kept (table and file), as counted at start plus those since; None if unknown."""
        if self.dead_letter_rows_at_start is None:
            return None
        return self.dead_letter_rows_at_start + self.dead_letters_since_start

    def _count_dead_letters(self) -> None:
        from callcenter.store.models import DeadLetter

        n = 0
        try:
            with self.db.engine.connect() as conn:
                n = conn.execute(select(func.count()).select_from(DeadLetter.__table__)).scalar_one()
        except SQLAlchemyError:
            return  # database away: unknown until the next start
        try:
            with open(self.dead_letter_file, "rb") as f:
                n += sum(1 for _ in f)
        except OSError:
            pass
        self.dead_letter_rows_at_start = n

    def _run(self) -> None:
        """The writer thread (run under a supervisor: if it raises, it is started again)."""
        if self.dead_letter_rows_at_start is None:
            self._count_dead_letters()
        if self._unwritten:
            self._journal_pending()
            self._write_once()
            with self._cond:
                self._cond.notify_all()
        delay = self.retry_min_s
        while True:
            try:
                items = [self._queue.get(timeout=delay if self._unwritten else None)]
            except queue.Empty:
                items = []
            while True:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stopping = False
            taken = 0
            try:
                for item in items:
                    if item is _STOP:
                        stopping = True
                    else:
                        # In memory first: whatever fails next, the rows are not lost.
                        for row in item:
                            self._unwritten[(row[0], row[1])] = (None, row)
                        taken += 1
                self._journal_pending()
                ok = self._write_once()
                delay = self.retry_min_s if ok else min(delay * 2, self.retry_max_s)
            finally:
                with self._cond:
                    self._outstanding -= taken
                    self._cond.notify_all()
            if stopping:
                self._write_until_done()
                return

    @property
    def unjournaled(self) -> int:
        """Rows held only in memory because the journal could not be written (disk full)."""
        # list() copies in one step (safe while the writer thread changes the dict)
        return sum(1 for seq, _row in list(self._unwritten.values()) if seq is None)

    def _journal_pending(self) -> None:
        """Journal the rows not journaled yet; on a disk error keep them in memory and say so."""
        todo = [(key, row) for key, (seq, row) in self._unwritten.items() if seq is None]
        if not todo:
            return
        try:
            last = self.journal.append([row for _key, row in todo])
        except OSError as exc:
            if self.journal_ok:
                log.error("journal write failed in %s (%s); %d row(s) kept in memory, retrying",
                          self.journal.dir, exc.strerror or exc.__class__.__name__, len(todo))
            self.journal_ok = False
            self.journal_error = f"{exc.strerror or exc.__class__.__name__} ({self.journal.dir})"
            return
        first = last - len(todo) + 1
        for i, (key, row) in enumerate(todo):
            self._unwritten[key] = (first + i, row)
        if not self.journal_ok:
            log.info("journal writable again in %s", self.journal.dir)
        self.journal_ok, self.journal_error = True, None

    def _write_once(self) -> bool:
        if not self._unwritten:
            return True
        batch = self._unwritten
        top = self.journal.seq
        try:
            try:
                self._write_items(list(batch.items()))
            except Exception as exc:
                if not is_content_error(exc):
                    raise
                self._isolate(list(batch.items()))
        except (SQLAlchemyError, OSError) as exc:
            if self.db_ok:
                log.error("database write failed (%s); %d rows kept in the journal, retrying",
                          exc.__class__.__name__, len(batch))
            self.db_ok = False
            if self.on_error is not None:
                self.on_error(exc)
            return False
        if not self.db_ok:
            log.info("database is back; journal backlog written")
        self.db_ok = True
        self.rows_written += len(batch)
        self.batches += 1
        # Everything journaled up to `top` is now in the database (rows journaled later by this
        # thread cannot exist: only this thread appends).
        self._unwritten = {}
        try:
            self.journal.commit(top)
        except OSError as exc:
            # The rows are in the database; a checkpoint not moved only means a harmless replay.
            log.warning("journal checkpoint not written (%s)", exc.strerror or exc.__class__.__name__)
        return True

    def _write_items(self, items: list[Item]) -> None:
        by_table: dict[str, list[dict[str, Any]]] = {}
        for (table, _key), (_seq, row) in items:
            by_table.setdefault(table, []).append(row[2])
        with self.db.engine.begin() as conn:
            for table, rows in by_table.items():
                upsert_rows(conn, table, rows)

    def _isolate(self, items: list[Item]) -> None:
        """Bisect a refused batch: write every part the database takes, dead-letter the rows it refuses.

        A connection error on the way propagates (the caller retries everything later; upserts are
        idempotent, so parts already written are harmless).
        """
        refused: list[tuple[Row, BaseException]] = []
        parts = [items]
        while parts:
            part = parts.pop()
            try:
                self._write_items(part)
            except Exception as exc:
                if not is_content_error(exc):
                    raise
                if len(part) == 1:
                    refused.append((part[0][1][1], exc))
                else:
                    mid = len(part) // 2
                    parts += [part[mid:], part[:mid]]
        if refused:
            self._dead_letter(refused)

    def _dead_letter(self, refused: list[tuple[Row, BaseException]]) -> None:
        from callcenter.store.models import DeadLetter

        letters = [_dead_letter_row(row, exc) for row, exc in refused]
        where = "the dead_letters table"
        try:
            with self.db.engine.begin() as conn:
                conn.execute(insert(DeadLetter.__table__), letters)
        except SQLAlchemyError as exc:
            # Even the dead letters are refused (or the table is missing): keep them in a file.
            where = str(self.dead_letter_file)
            log.error("dead letters could not go to the database (%s); writing them to %s",
                      exc.__class__.__name__, where)
            at = time.time()
            with open(self.dead_letter_file, "a", encoding="utf-8") as f:  # OSError: retried by the caller
                for letter in letters:
                    f.write(json.dumps({"at": at, **letter}, ensure_ascii=False) + "\n")
                f.flush()
                os.fsync(f.fileno())
        self.dead_letters_since_start += len(letters)
        tables = sorted({letter["table_name"] for letter in letters})
        if not self._alerted:
            self._alerted = True
            log.error("ALERT: the database refused %d row(s) of %s for their content; they were set aside in "
                      "%s and every other row was written. See 'callcenter db dead-letters'.",
                      len(letters), ", ".join(tables), where)
        else:
            log.warning("%d more row(s) of %s set aside in %s", len(letters), ", ".join(tables), where)
        if self.on_dead_letter is not None:
            self.on_dead_letter(len(letters))

    def _write_until_done(self, budget_s: float = 30.0) -> None:
        """On shutdown: keep trying for a while; what is left stays in the journal for next start."""
        delay = self.retry_min_s
        deadline = time.monotonic() + budget_s
        while self._unwritten and time.monotonic() < deadline:
            if self._write_once():
                return
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, self.retry_max_s)
