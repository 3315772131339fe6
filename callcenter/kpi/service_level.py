"""The 15-second answer rate, and app_queue's ServicelevelPerf/ServicelevelPerf2 for reconciliation.

Definition (DESIGN.md, KPI 1): requests for a human answered by an agent within the threshold of
first entering the human queue ÷ all requests for a human. Counted per caller (linkedid) from the
first queue entry, so a caller moved between queues counts once; abandons, timeouts and exits count
in the denominator. An optional grace drops callers who gave up within it without being answered.

The same function serves the database (``kpi service-level``), a recorded AMI stream and a queue_log
file (``kpi replay``): every source is turned into queue-entry facts first.
"""

from __future__ import annotations

import itertools
import struct
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


class EntryFact(Protocol):
    """What the KPI needs to know about one stay of one caller in one queue."""

    linkedid: str
    queue: str
    entered_at: float
    hold_s: int | None
    connected_at: float | None
    completed_at: float | None
    abandon_hold_s: int | None


def _f32(x: float) -> float:
    """Round to IEEE single precision, as app_queue's ``float`` arithmetic does."""
    return struct.unpack("f", struct.pack("f", x))[0]


def app_queue_perf(in_sl: int, total: int) -> float:
    """``100 * ((float)in_sl / (float)total)`` computed the way app_queue does, 0 when total is 0."""
    if total <= 0:
        return 0.0
    return _f32(100 * _f32(_f32(float(in_sl)) / _f32(float(total))))


@dataclass
class QueueFigures:
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    # app_queue's counters (reset when Asterisk restarts; ours cover the selected period)
    completed: int = 0
    completed_in_sl: int = 0
    abandoned_app: int = 0
    abandoned_in_sl: int = 0

    @property
    def servicelevel_perf(self) -> float:
        return app_queue_perf(self.completed_in_sl, self.completed)

    @property
    def servicelevel_perf2(self) -> float:
        return app_queue_perf(self.completed_in_sl + self.abandoned_in_sl, self.completed + self.abandoned_app)

    def as_json(self) -> dict[str, Any]:
        return {
            "offered": self.offered,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "servicelevel_perf": round(self.servicelevel_perf, 2),
            "servicelevel_perf2": round(self.servicelevel_perf2, 2),
        }


@dataclass
class ServiceLevelReport:
    threshold_s: int
    offered: int = 0
    answered: int = 0
    answered_within_threshold: int = 0
    excluded_short_abandons: int = 0
    queues: dict[str, QueueFigures] = field(default_factory=dict)

    @property
    def abandoned(self) -> int:
        return self.offered - self.answered

    @property
    def rate(self) -> float | None:
        if self.offered == 0:
            return None
        return round(100.0 * self.answered_within_threshold / self.offered, 2)

    def as_json(self) -> dict[str, Any]:
        """The CLI contract: ``callcenter kpi ... --json`` prints exactly this object."""
        return {
            "threshold_s": self.threshold_s,
            "offered": self.offered,
            "answered": self.answered,
            "answered_within_threshold": self.answered_within_threshold,
            "abandoned": self.abandoned,
            "rate": self.rate,
            "queues": {name: q.as_json() for name, q in sorted(self.queues.items())},
        }


def caller_wait_s(stays: list[EntryFact], stay: EntryFact) -> int:
    """Whole seconds from a caller's first queue entry to the end of ``stay``'s hold."""
    return int(stay.entered_at) - int(stays[0].entered_at) + (stay.hold_s or 0)


def caller_outcome(stays: list[EntryFact], threshold_s: int, grace_s: int = 0) -> str:
    """One caller's part in the answer rate (stays in entry order): 'within' the threshold, answered 'late',
    'unanswered', or 'excluded' (gave up within the short-abandon grace: not counted at all)."""
    connected = next((s for s in stays if s.connected_at is not None), None)
    if connected is None:
        if grace_s > 0 and caller_wait_s(stays, stays[-1]) <= grace_s:
            return "excluded"
        return "unanswered"
    return "within" if caller_wait_s(stays, connected) <= threshold_s else "late"


def in_window(entries: Iterable[EntryFact], since: float | None, until: float | None) -> list[EntryFact]:
    """The entries of callers whose first queue entry is in [since, until) (epoch seconds)."""
    entries = list(entries)
    if since is None and until is None:
        return entries
    first: dict[str, float] = {}
    for e in entries:
        if e.linkedid not in first or e.entered_at < first[e.linkedid]:
            first[e.linkedid] = e.entered_at
    return [e for e in entries
            if (since is None or first[e.linkedid] >= since) and (until is None or first[e.linkedid] < until)]


def compute(
    entries: Iterable[EntryFact],
    threshold_s: int = 15,
    grace_s: int = 0,
    servicelevels: Mapping[str, int] | None = None,
    default_servicelevel: int = 15,
    grouped: bool = False,
) -> ServiceLevelReport:
    """The report for a set of queue entries (all entries of each caller should be included).

    ``grouped``: the entries come grouped by caller (each caller's stays together, in entry order), as
    ``calls.queries.stay_facts`` streams them; then only one caller is held in memory at a time.
    """
    servicelevels = servicelevels or {}
    report = ServiceLevelReport(threshold_s=threshold_s)

    def count_stay(entry: EntryFact) -> None:
        q = report.queues.get(entry.queue)
        if q is None:
            q = report.queues[entry.queue] = QueueFigures()
        q.offered += 1
        if entry.connected_at is not None:
            q.answered += 1
        else:
            q.abandoned += 1
        sl = servicelevels.get(entry.queue, default_servicelevel)
        if entry.completed_at is not None:
            q.completed += 1
            if entry.hold_s is not None and entry.hold_s <= sl:
                q.completed_in_sl += 1
        if entry.abandon_hold_s is not None:
            q.abandoned_app += 1
            if entry.abandon_hold_s <= sl:
                q.abandoned_in_sl += 1

    def count_caller(stays: list[EntryFact]) -> None:
        outcome = caller_outcome(stays, threshold_s, grace_s)
        if outcome == "excluded":
            report.excluded_short_abandons += 1
            return
        report.offered += 1
        if outcome != "unanswered":
            report.answered += 1
        if outcome == "within":
            report.answered_within_threshold += 1

    if grouped:
        for _linkedid, group in itertools.groupby(entries, key=lambda e: e.linkedid):
            stays = list(group)
            for entry in stays:
                count_stay(entry)
            stays.sort(key=lambda s: s.entered_at)
            count_caller(stays)
        return report
    by_caller: dict[str, list[EntryFact]] = defaultdict(list)
    for entry in entries:
        by_caller[entry.linkedid].append(entry)
        count_stay(entry)
    for stays in by_caller.values():
        stays.sort(key=lambda s: s.entered_at)
        count_caller(stays)
    return report
