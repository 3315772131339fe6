"""Staffing: Erlang B/C against the closed formulas and published table values, Erlang A against a seeded
simulation of the same queue, the forecast's day kinds, and the whole plan from a real database."""

from __future__ import annotations

import heapq
import json
import math
import random
from datetime import date, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner

from callcenter.calls.records import QueueEntryRecord
from callcenter.cli.main import cli
from callcenter.staffing.erlang import erlang_a, erlang_b, erlang_c, required_agents, service_level_c
from callcenter.staffing.forecast import SLOTS_PER_DAY, forecast_calls, plan
from callcenter.store import migrate
from callcenter.store.db import Database
from callcenter.store.models import Call
from callcenter.store.rows import to_row, upsert_rows


def _erlang_c_closed(n: int, a: float) -> float:
    """The textbook formula in exact rational arithmetic (no overflow, no rounding)."""
    x = Fraction(str(a))
    top = x ** n / math.factorial(n) * n / (n - x)
    return float(top / (sum(x ** k / math.factorial(k) for k in range(n)) + top))


@pytest.mark.parametrize(("n", "a", "published"), [(10, 5.0, 0.01838), (5, 2.0, 0.03670), (20, 15.0, 0.04560)])
def test_erlang_b_matches_published_tables(n: int, a: float, published: float) -> None:
    assert erlang_b(n, a) == pytest.approx(published, abs=6e-5)


@pytest.mark.parametrize(("n", "a"), [(3, 2.0), (11, 10.0), (30, 25.5), (150, 133.3)])
def test_erlang_c_equals_the_closed_formula(n: int, a: float) -> None:
    assert erlang_c(n, a) == pytest.approx(_erlang_c_closed(n, a), rel=1e-9)
    assert erlang_c(3, 2.0) == pytest.approx(4 / 9)
    assert erlang_c(2, 2.0) == 1.0 and service_level_c(2, 2.0, 180, 15) == 0.0


def _simulate(agents: int, calls_per_s: float, aht_s: float, patience_s: float, t_s: float,
              calls: int = 120_000, seed: int = 7) -> tuple[float, float]:
    """FCFS M/M/N+M by the agents' next-free times: (answered within t ÷ offered, abandoned ÷ offered)."""
    rnd = random.Random(seed)
    free = [0.0] * agents
    now = 0.0
    within = abandoned = 0
    for _ in range(calls):
        now += rnd.expovariate(calls_per_s)
        start = max(now, free[0])
        if start - now > rnd.expovariate(1 / patience_s):
            abandoned += 1
            continue
        heapq.heapreplace(free, start + rnd.expovariate(1 / aht_s))
        within += start - now <= t_s
    return within / calls, abandoned / calls


@pytest.mark.parametrize(("agents", "patience"), [(8, 60.0), (10, 60.0), (9, 180.0)])
def test_erlang_a_matches_a_simulation_of_the_same_queue(agents: int, patience: float) -> None:
    figures = erlang_a(agents, 1 / 30, 240, patience, 15)
    sl, ab = _simulate(agents, 1 / 30, 240, patience, 15)
    assert figures.service_level == pytest.approx(sl, abs=0.01)
    assert figures.abandon_rate == pytest.approx(ab, abs=0.01)


def test_erlang_a_without_abandonment_is_erlang_c_and_patience_helps() -> None:
    c = erlang_a(150, 0.55, 240, None, 15)
    assert c.service_level == pytest.approx(service_level_c(150, 0.55 * 240, 240, 15))
    assert erlang_a(150, 0.55, 240, 1e7, 15).service_level == pytest.approx(c.service_level, abs=1e-4)
    assert erlang_a(150, 0.55, 240, 90, 15).service_level > c.service_level


@pytest.mark.parametrize("patience", [None, 90.0])
def test_required_agents_is_the_fewest_that_reach_the_target(patience: float | None) -> None:
    rate = 2000 / 3600
    n = required_agents(rate, 240, 0.95, 15, patience)
    assert erlang_a(n, rate, 240, patience, 15).service_level >= 0.95
    assert erlang_a(n - 1, rate, 240, patience, 15).service_level < 0.95
    assert required_agents(0, 240) == 0


def test_forecast_uses_the_same_weekday_of_the_same_day_kind() -> None:
    # three Mondays (one a holiday) and the days between, 2026-11-02 … 2026-11-22
    holiday = date(2026, 11, 16)
    first, last = date(2026, 11, 2), date(2026, 11, 22)
    counts = {date(2026, 11, 2): [2] * SLOTS_PER_DAY, date(2026, 11, 9): [4] * SLOTS_PER_DAY,
              holiday: [10] * SLOTS_PER_DAY, date(2026, 11, 14): [1] * SLOTS_PER_DAY}

    def working(d: date) -> bool:
        return d != holiday and d.weekday() < 5

    out = forecast_calls(counts, [date(2026, 11, 23), date(2026, 11, 28), date(2026, 12, 25)], first, last, working)
    assert out[date(2026, 11, 23)][0] == 3.0  # mean of the two working Mondays; the holiday is left out
    assert out[date(2026, 11, 28)][5] == pytest.approx(1 / 3)  # Saturdays 7th (0), 14th (1), 21st (0)
    assert len(out[date(2026, 12, 25)]) == SLOTS_PER_DAY


def test_plan_from_the_database_and_the_cli(db_url: str, tmp_path: Path) -> None:
    migrate.upgrade(db_url)
    db = Database(db_url)
    # four Tuesdays with 30 calls each between 10:00 and 10:30 local (02:00-02:30 UTC)
    rows, stays = [], []
    for week in range(4):
        day = datetime(2026, 11, 3, 2, 0) + timedelta(weeks=week)
        for i in range(30):
            at = day + timedelta(seconds=60 * i)
            rows.append({"linkedid": f"{week}.{i}", "started_at": at, "first_queued_at": at, "channel": "x"})
            e = QueueEntryRecord(id=f"{week}.{i}", linkedid=f"{week}.{i}", uniqueid="u", queue="main",
                                 entered_at=at.timestamp() + 8 * 0, position=1)
            e.hold_s = 10
            if i % 10 == 0:
                e.abandon_hold_s = 10
            else:
                e.connected_at, e.talk_s = e.entered_at + 10, 200
            stays.append(to_row(e)[2])
    with db.session() as s:
        s.add_all(Call(**r) for r in rows)
        s.commit()
    with db.engine.begin() as conn:
        upsert_rows(conn, "queue_entries", stays)
    with db.session() as s:
        data = plan(s, date(2026, 12, 1), 1, timezone="Asia/Shanghai", is_working_day=lambda d: d.weekday() < 5,
                    target=0.95, within_s=15, shrinkage=0.3, history_weeks=8, measure_days=60,
                    default_aht_s=240, after_call_s=20)
    db.dispose()
    assert data["handling"]["aht_s"] == 220.0 and data["handling"]["abandoned"] == 12
    assert data["handling"]["patience_s"] == pytest.approx(120 * 10 / 12)
    day = data["days"][0]
    slot = next(x for x in day["slots"] if x["start"].endswith("10:00"))
    assert slot["calls"] == 30.0 and day["calls"] == 30.0
    assert slot["agents"] == required_agents(30 / 1800, 220, 0.95, 15, 100.0)
    assert slot["staff"] == math.ceil(slot["agents"] / 0.7)
    assert all(x["agents"] == 0 for x in day["slots"] if x is not slot)

    cfg = tmp_path / "callcenter.yaml"
    cfg.write_text(f"database_url: {db_url}\ndata_dir: {tmp_path}\nstaffing: {{after_call_s: 20, measure_days: 60}}\n")
    out = CliRunner().invoke(cli, ["--config", str(cfg), "staffing", "forecast", "--from", "2026-12-01", "--days",
                                   "2", "--json"])
    assert out.exit_code == 0, out.output
    got = json.loads(out.output)
    assert got["days"][0]["slots"] == data["days"][0]["slots"] and len(got["days"]) == 2
    bad = CliRunner().invoke(cli, ["--config", str(cfg), "staffing", "forecast", "--from", "1.12."])
    assert bad.exit_code == 2 and "not a date" in bad.output


def test_intraday_need_and_logged_in_agents() -> None:
    from callcenter.staffing.plugin import logged_in, need_now

    view = {"agents": {"1001": {"queues": ["main"]}, "1002": {"queues": []}, "1003": {"queues": ["main", "x"]}}}
    assert logged_in(view) == 2
    slots = [{"start": f"2026-12-01T{h:02d}:{mm:02d}", "agents": h * 10 + mm // 30} for h in range(24)
             for mm in (0, 30)]
    plan_data = {"days": [{"slots": slots}]}
    # 10:40 → the 10:30, 11:00 and 11:30 half hours (up to 11:40): the most is 11:30's
    assert need_now(plan_data, datetime(2026, 12, 1, 10, 40)) == 111
    assert need_now(plan_data, datetime(2026, 12, 1, 23, 50)) == 231
