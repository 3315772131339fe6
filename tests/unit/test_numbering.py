"""Order numbers: KM + local date + sequence, unique under concurrency (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import datetime

from callcenter.store import migrate
from callcenter.store.db import Database
from callcenter.workorders.numbering import format_number, next_number


def test_format() -> None:
    assert format_number("KM", "20261126", 42) == "KM20261126000042"


def test_sequences_per_day_and_unique_under_concurrency(db_url: str) -> None:
    migrate.upgrade(db_url)
    db = Database(db_url, max_threads=8)
    day = datetime(2026, 11, 26, 9, 0)
    numbers: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def worker() -> None:
        try:
            barrier.wait()
            for _ in range(25):
                with db.session() as session:
                    n = next_number(session, "KM", day)
                with lock:
                    numbers.append(n)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors, errors
        assert len(numbers) == 200
        assert sorted(numbers) == [f"KM20261126{i:06d}" for i in range(1, 201)]
        with db.session() as session:
            assert next_number(session, "KM", datetime(2026, 11, 27, 0, 1)) == "KM20261127000001"
        # a rolled-back transaction gives its number back
        try:
            with db.session() as session:
                next_number(session, "KM", day)
                raise RuntimeError("abort")
        except RuntimeError:
            pass
        with db.session() as session:
            assert next_number(session, "KM", day) == "KM20261126000201"
    finally:
        db.dispose()
