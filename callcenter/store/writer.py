"""The record writer: coalesce record changes, journal them, upsert them in batches, off the reactor.

Domain code calls :meth:`RecordWriter.put` with a record (call, queue entry, ...) whenever it
changes. Every ``interval`` seconds the latest state of each changed record becomes a row; the
rows go to a single writer thread that appends them to the :class:`Journal` (fsync) and then
upserts them. If the database is down, rows stay journaled and in memory and are retried with
backoff; nothing is dropped.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from callcenter.store.db import Database
from callcenter.store.journal import Journal, Row
from callcenter.store.rows import to_row, upsert_rows

log = logging.getLogger(__name__)

_STOP = object()


class RecordWriter:
    def __init__(
        self,
        db: Database,
        journal: Journal,
        interval: float = 0.05,
        retry_min_s: float = 0.5,
        retry_max_s: float = 15.0,
        on_error: Callable[[Exception], None] | None = None,
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
        self._unwritten: dict[tuple[str, Any], tuple[int, Row]] = {}
        self.db_ok = True
        self.rows_written = 0
        self.batches = 0
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
        rows = [to_row(rec) for rec in self._changed.values()]
        self._changed = {}
        with self._cond:
            self._outstanding += 1
        self._queue.put(rows)

    def start(self) -> None:
        """Start the writer thread (replays the journal first) and the periodic flush."""
        self._thread = threading.Thread(target=self._run, name="record-writer", daemon=True)
        self._thread.start()
        from twisted.internet import task

        self._loop = task.LoopingCall(self.flush)
        self._loop.start(self.interval, now=False)

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
    def _run(self) -> None:
        if self._unwritten:
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
            for item in items:
                if item is _STOP:
                    stopping = True
                else:
                    self._journal(item)
                    taken += 1
            ok = self._write_once()
            delay = self.retry_min_s if ok else min(delay * 2, self.retry_max_s)
            with self._cond:
                self._outstanding -= taken
                self._cond.notify_all()
            if stopping:
                self._write_until_done()
                return

    def _journal(self, rows: list[Row]) -> None:
        last = self.journal.append(rows)
        first = last - len(rows) + 1
        for i, row in enumerate(rows):
            self._unwritten[(row[0], row[1])] = (first + i, row)

    def _write_once(self) -> bool:
        if not self._unwritten:
            return True
        batch = self._unwritten
        by_table: dict[str, list[dict[str, Any]]] = {}
        for (table, _key), (_seq, row) in batch.items():
            by_table.setdefault(table, []).append(row[2])
        top = self.journal.seq
        try:
            with self.db.engine.begin() as conn:
                for table, rows in by_table.items():
                    upsert_rows(conn, table, rows)
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
        self.journal.commit(top)
        return True

    def _write_until_done(self, budget_s: float = 30.0) -> None:
        """On shutdown: keep trying for a while; what is left stays in the journal for next start."""
        delay = self.retry_min_s
        deadline = time.monotonic() + budget_s
        while self._unwritten and time.monotonic() < deadline:
            if self._write_once():
                return
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, self.retry_max_s)
