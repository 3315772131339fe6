"""The service level read from the database through the window (streamed, grouped by caller) equals the
definition applied to every stay in memory, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from callcenter.calls.queries import stay_facts
from callcenter.calls.records import QueueEntryRecord
from callcenter.kpi.service_level import compute, in_window
from callcenter.store import migrate
from callcenter.store.db import Database
from callcenter.store.models import utc
from callcenter.store.rows import to_row, upsert_rows

T0 = 1_800_000_000.0


def _stays(seed: int, callers: int = 400) -> list[QueueEntryRecord]:
    rnd = random.Random(seed)
    out: list[QueueEntryRecord] = []
    for n in range(callers):
        linkedid = f"{1_800_000_000 + n}.{n}"
        at = T0 + rnd.uniform(0, 6 * 3600) + rnd.random()
        for k in range(rnd.choice([1, 1, 1, 2, 3])):  # some callers are moved between queues
            e = QueueEntryRecord(id=f"{linkedid}-{k}", linkedid=linkedid, uniqueid=linkedid,
                                 queue=rnd.choice(["main", "complaints"]), entered_at=at, position=1)
            hold = rnd.randint(0, 40)
            outcome = rnd.random()
            e.hold_s = hold
            if outcome < 0.6:
                e.connected_at = at + hold
                if outcome < 0.5:
                    e.completed_at = at + hold + 60
                out.append(e)
                break
            if outcome < 0.8:
                e.abandon_hold_s = hold
            out.append(e)
            at += hold + rnd.random() * 3
    return out


@pytest.fixture
def loaded(db_url: str) -> Iterator[tuple[Database, list[QueueEntryRecord]]]:
    migrate.upgrade(db_url)
    db = Database(db_url)
    stays = _stays(7)
    with db.engine.begin() as conn:
        upsert_rows(conn, "queue_entries", [to_row(s)[2] for s in stays])
    yield db, stays
    db.dispose()


WINDOWS = [(None, None), (T0 + 3600, T0 + 7200), (T0 + 3600, None), (None, T0 + 5000), (T0 + 9000, T0 + 9001)]


@pytest.mark.parametrize(("since", "until"), WINDOWS)
@pytest.mark.parametrize("queue", [None, "complaints"])
def test_streamed_window_equals_the_definition(loaded: tuple[Database, list[QueueEntryRecord]],
                                               since: float | None, until: float | None, queue: str | None) -> None:
    db, stays = loaded
    expected_entries = [e for e in in_window(stays, since, until) if queue is None or e.queue == queue]
    expected = compute(expected_entries, 15, 3, {"complaints": 20}).as_json()
    with db.session() as session:
        got = compute(stay_facts(session, utc(since), utc(until), queue, batch=7), 15, 3, {"complaints": 20},
                      grouped=True).as_json()
    assert got == expected
    if since is None and until is None and queue is None:
        assert got["offered"] > 100  # the fixture is not empty: the comparison means something
