"""The answer-rate definition and app_queue's ServicelevelPerf/Perf2, on hand-made queue entries."""

from __future__ import annotations

import pytest

from callcenter.calls.records import QueueEntryRecord
from callcenter.kpi.service_level import app_queue_perf, compute, in_window

T0 = 1_800_000_000.25


def entry(linkedid: str, queue: str = "main", at: float = 0.0, hold: int | None = None, connected: bool = False,
          completed: bool = False, abandoned_hold: int | None = None) -> QueueEntryRecord:
    e = QueueEntryRecord(id=f"{linkedid}@{at}", linkedid=linkedid, uniqueid=linkedid, queue=queue,
                         entered_at=T0 + at, position=1)
    e.hold_s = hold
    if connected:
        e.connected_at = T0 + at + (hold or 0)
    if completed:
        e.completed_at = T0 + at + (hold or 0) + 30
    e.abandon_hold_s = abandoned_hold
    return e


def test_nothing_offered_gives_a_null_rate() -> None:
    report = compute([])
    assert report.as_json() == {"threshold_s": 15, "offered": 0, "answered": 0, "answered_within_threshold": 0,
                                "abandoned": 0, "rate": None, "queues": {}}


def test_the_threshold_is_inclusive() -> None:
    entries = [entry("a", hold=15, connected=True, completed=True), entry("b", at=1, hold=16, connected=True)]
    report = compute(entries)
    assert (report.offered, report.answered, report.answered_within_threshold) == (2, 2, 1)
    assert report.rate == 50.0


def test_abandons_timeouts_and_exits_count_in_the_denominator() -> None:
    entries = [
        entry("a", hold=3, connected=True, completed=True),
        entry("b", hold=5, abandoned_hold=5),  # hung up
        entry("c", hold=60, abandoned_hold=60),  # timed out (app_queue counts it as abandoned)
        entry("d", hold=2),  # exit with key: not an app_queue abandon
    ]
    data = compute(entries).as_json()
    assert (data["offered"], data["answered"], data["abandoned"], data["rate"]) == (4, 1, 3, 25.0)
    assert data["queues"]["main"] == {"offered": 4, "answered": 1, "abandoned": 3,
                                      "servicelevel_perf": 100.0, "servicelevel_perf2": 66.67}


def test_a_caller_moved_between_queues_counts_once_from_the_first_entry() -> None:
    # 10 s in 'main' (timeout), then answered after 8 s in 'complaints': 18 s from first entry
    entries = [entry("a", "main", at=0, hold=10, abandoned_hold=10),
               entry("a", "complaints", at=10, hold=8, connected=True, completed=True)]
    report = compute(entries)
    assert (report.offered, report.answered, report.answered_within_threshold) == (1, 1, 0)
    assert report.queues["main"].offered == 1 and report.queues["complaints"].answered == 1
    # ...while app_queue's per-queue view sees an 8-second answer in 'complaints'
    assert report.queues["complaints"].servicelevel_perf == 100.0


def test_whole_seconds_between_entries_use_the_entry_timestamps() -> None:
    # entered at .25 and (11 s later) at 11.25 → 11 whole seconds + 4 s hold = 15: within
    entries = [entry("a", "main", at=0, hold=11, abandoned_hold=11),
               entry("a", "complaints", at=11, hold=4, connected=True)]
    assert compute(entries).answered_within_threshold == 1


def test_short_abandon_grace_drops_quick_hangups_only() -> None:
    entries = [entry("a", hold=2, abandoned_hold=2), entry("b", hold=9, abandoned_hold=9),
               entry("c", hold=1, connected=True)]
    report = compute(entries, grace_s=3)
    assert (report.offered, report.answered, report.excluded_short_abandons) == (2, 1, 1)
    assert report.rate == 50.0


def test_servicelevel_is_per_queue() -> None:
    entries = [entry("a", "main", hold=20, connected=True, completed=True),
               entry("b", "vip", hold=20, connected=True, completed=True)]
    report = compute(entries, servicelevels={"vip": 30})
    assert report.queues["main"].servicelevel_perf == 0.0
    assert report.queues["vip"].servicelevel_perf == 100.0


@pytest.mark.parametrize(("in_sl", "total", "printed"), [
    (2, 3, "66.7"), (1, 3, "33.3"), (1, 16, "6.2"), (5, 8, "62.5"), (0, 0, "0.0"), (7, 7, "100.0"),
    (1, 7, "14.3"), (999, 1000, "99.9"),
])
def test_app_queue_perf_prints_like_app_queue(in_sl: int, total: int, printed: str) -> None:
    # app_queue: sl = 100 * ((float)in_sl / (float)total); printf("%2.1f", sl)
    assert f"{app_queue_perf(in_sl, total):2.1f}" == printed


def test_window_selects_callers_by_their_first_entry() -> None:
    entries = [entry("a", at=0), entry("a", "complaints", at=100), entry("b", at=50)]
    assert {e.linkedid for e in in_window(entries, T0 + 10, None)} == {"b"}
    assert len(in_window(entries, None, T0 + 10)) == 2
