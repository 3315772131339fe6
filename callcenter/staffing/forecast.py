"""Calls per half hour for the coming days, from the hotline's own history, and the agents they need.

History: callers offered to a human queue (``calls.first_queued_at``, one per caller, as KPI 1 counts them)
per local half hour. A day is a working day or a rest day by the city's calendar (holidays are rest days,
make-up days are working days). The forecast for a slot of a day is the mean of the same slot over the
history's days of the same kind and weekday (working days that fall on a weekend, and weekdays with fewer
than two such days, use every day of the same kind); days without calls count as zero. Measured inputs:
the average handling time (talk time of completed stays, plus the configured after-call seconds) and the
callers' mean patience (the exponential estimate: abandons ÷ total seconds waited by everybody).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.staffing.erlang import erlang_a, required_agents
from callcenter.store import models as m

SLOT_MIN = 30
SLOTS_PER_DAY = 24 * 60 // SLOT_MIN


@dataclass(frozen=True)
class Handling:
    """What the staffing formulas need from history."""

    aht_s: float
    patience_s: float | None  # None: nobody abandoned (or no history)
    answered: int
    abandoned: int


@dataclass(frozen=True)
class SlotNeed:
    """One half hour of the forecast."""

    start: datetime  # local, naive
    calls: float  # forecast callers in the half hour
    agents: int  # on the phones, for the target (Erlang A with the measured patience)
    agents_erlang_c: int  # the same if nobody ever abandoned (the cautious figure)
    staff: int  # agents ÷ (1 − shrinkage), rounded up: people to schedule
    service_level: float  # expected share answered within the threshold with ``agents``

    def as_json(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(timespec="minutes"), "calls": round(self.calls, 2),
                "agents": self.agents, "agents_erlang_c": self.agents_erlang_c, "staff": self.staff,
                "service_level": round(100 * self.service_level, 2)}


def _local(dt_utc: datetime, tz: ZoneInfo) -> datetime:
    return dt_utc.replace(tzinfo=ZoneInfo("UTC")).astimezone(tz).replace(tzinfo=None)


def _utc(local: datetime, tz: ZoneInfo) -> datetime:
    return local.replace(tzinfo=tz).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def history(session: Session, start: date, end: date, tz: ZoneInfo) -> dict[date, list[int]]:
    """Callers offered per local date and half hour, for local dates in [start, end)."""
    lo = _utc(datetime.combine(start, time()), tz)
    hi = _utc(datetime.combine(end, time()), tz)
    counts: dict[date, list[int]] = {}
    stmt = (select(m.Call.first_queued_at).where(m.Call.first_queued_at >= lo, m.Call.first_queued_at < hi)
            .execution_options(yield_per=20_000))
    for (at,) in session.execute(stmt):
        local = _local(at, tz)
        slots = counts.setdefault(local.date(), [0] * SLOTS_PER_DAY)
        slots[(local.hour * 60 + local.minute) // SLOT_MIN] += 1
    return counts


def handling(session: Session, since: datetime, default_aht_s: float, after_call_s: float) -> Handling:
    """Average handling time and mean patience measured on queue stays entered since ``since`` (UTC)."""
    qe = m.QueueEntry
    talk_avg, answered = session.execute(
        select(func.avg(qe.talk_s), func.count()).where(qe.entered_at >= since, qe.connected_at.is_not(None),
                                                        qe.talk_s.is_not(None))).one()
    wait = func.coalesce(qe.hold_s, qe.abandon_hold_s)
    waited, abandoned = session.execute(
        select(func.sum(wait), func.count(qe.abandon_hold_s)).where(qe.entered_at >= since,
                                                                    wait.is_not(None))).one()
    aht = float(talk_avg) + after_call_s if answered else default_aht_s
    patience = float(waited) / abandoned if abandoned and waited else None
    return Handling(max(aht, 1.0), patience, int(answered or 0), int(abandoned or 0))


def forecast_calls(counts: dict[date, list[int]], days: list[date], first: date, last: date,
                   is_working_day: Callable[[date], bool]) -> dict[date, list[float]]:
    """Mean calls per slot for each of ``days`` from the history dates [first, last] (see the module doc)."""
    pool: dict[tuple[bool, int | None], list[date]] = defaultdict(list)
    d = first
    while d <= last:
        working = is_working_day(d)
        pool[(working, d.weekday())].append(d)
        pool[(working, None)].append(d)
        d += timedelta(days=1)
    zero = [0] * SLOTS_PER_DAY
    out: dict[date, list[float]] = {}
    for day in days:
        working = is_working_day(day)
        regular = working == (day.weekday() < 5)
        same = pool.get((working, day.weekday()), []) if regular else []
        basis = same if len(same) >= 2 else pool.get((working, None), [])
        if not basis:
            out[day] = [0.0] * SLOTS_PER_DAY
            continue
        out[day] = [sum(counts.get(b, zero)[s] for b in basis) / len(basis) for s in range(SLOTS_PER_DAY)]
    return out


def needs(calls: float, h: Handling, target: float, within_s: float, shrinkage: float) -> tuple[int, int, float]:
    """(agents, agents by Erlang C, expected service level) for ``calls`` in one half hour."""
    rate = calls / (SLOT_MIN * 60)
    if rate <= 0:
        return 0, 0, 1.0
    agents = required_agents(rate, h.aht_s, target, within_s, h.patience_s)
    agents_c = required_agents(rate, h.aht_s, target, within_s, None)
    return agents, agents_c, erlang_a(agents, rate, h.aht_s, h.patience_s, within_s).service_level


def plan(session: Session, start: date, days: int, *, timezone: str, is_working_day: Callable[[date], bool],
         target: float, within_s: float, shrinkage: float, history_weeks: int, measure_days: int,
         default_aht_s: float, after_call_s: float) -> dict[str, Any]:
    """The forecast and staffing need for ``days`` days from local date ``start``, as JSON-ready data."""
    tz = ZoneInfo(timezone)
    first = start - timedelta(weeks=history_weeks)
    counts = history(session, first, start, tz)
    if counts:
        first = max(first, min(counts))
    h = handling(session, _utc(datetime.combine(start, time()), tz) - timedelta(days=measure_days), default_aht_s,
                 after_call_s)
    targets = [start + timedelta(days=i) for i in range(days)]
    calls = forecast_calls(counts, targets, first, start - timedelta(days=1), is_working_day) if counts else {
        d: [0.0] * SLOTS_PER_DAY for d in targets}
    cache: dict[float, tuple[int, int, float]] = {}
    out_days = []
    for day in targets:
        slots = []
        for s, n in enumerate(calls[day]):
            key = round(n, 3)
            if key not in cache:
                cache[key] = needs(n, h, target, within_s, shrinkage)
            agents, agents_c, sl = cache[key]
            staff = math.ceil(agents / (1 - shrinkage) - 1e-9)
            slots.append(SlotNeed(datetime.combine(day, time()) + timedelta(minutes=s * SLOT_MIN), n, agents,
                                  agents_c, staff, sl).as_json())
        out_days.append({"date": day.isoformat(), "working_day": is_working_day(day),
                         "calls": round(sum(calls[day]), 1), "peak_agents": max(x["agents"] for x in slots),
                         "slots": slots})
    return {"target": round(100 * target, 2), "within_s": within_s, "shrinkage": shrinkage,
            "history": {"from": first.isoformat(), "until": start.isoformat(), "days_with_calls": len(counts)},
            "handling": {"aht_s": round(h.aht_s, 1),
                         "patience_s": None if h.patience_s is None else round(h.patience_s, 1),
                         "answered": h.answered, "abandoned": h.abandoned},
            "days": out_days}
