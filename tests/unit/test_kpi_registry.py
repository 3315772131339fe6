"""The KPI registry: one definition per KPI; ``kpi all`` (CLI), ``compute_all`` and the cases listed agree
with the existing contracts (``kpi service-level``, ``order kpi``), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from callcenter.auth.services import Actor
from callcenter.calendars import WorkingDays
from callcenter.calls.records import QueueEntryRecord
from callcenter.cli.main import cli
from callcenter.config import Config
from callcenter.kpi import registry
from callcenter.kpi.registry import Window, compute_all
from callcenter.store import migrate
from callcenter.store.db import Database
from callcenter.store.rows import to_row, upsert_rows
from callcenter.workorders.services import Services
from callcenter.workorders.settings import WorkOrderSettings

AGENT = Actor(1, "agent1", "agent", agent_id="1001")
T0 = 1_759_200_000.0  # 2025-09-30 02:40 UTC


def _stay(linkedid: str, at: float, hold: int, answered: bool, queue: str = "main") -> dict:
    e = QueueEntryRecord(id=f"{linkedid}-{at}", linkedid=linkedid, uniqueid=linkedid, queue=queue, entered_at=at,
                         position=1)
    e.hold_s = hold
    if answered:
        e.connected_at, e.completed_at = at + hold, at + hold + 60
    else:
        e.abandon_hold_s = hold
    return to_row(e)[2]


@pytest.fixture
def loaded(db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    migrate.upgrade(db_url)
    db = Database(db_url)
    rows = [_stay("a", T0, 3, True), _stay("b", T0 + 10, 16, True), _stay("c", T0 + 20, 40, False),
            # moved: 10 s in main, then answered after 4 s in complaints → 14 s from the first entry
            _stay("d", T0 + 30, 10, False, "main"), _stay("d", T0 + 40, 4, True, "complaints")]
    rows[3]["abandon_hold_s"] = None
    with db.engine.begin() as conn:
        upsert_rows(conn, "queue_entries", rows)
    days = WorkingDays("test", "Asia/Shanghai", frozenset(range(5)), frozenset(), frozenset())
    svc = Services(WorkOrderSettings(), "Asia/Shanghai", lambda: datetime(2025, 9, 30, 2, 0), lambda: days)
    with db.session() as s:
        fields = {"content": "x", "category": "housing.fund", "district": "五华区", "title": "t"}
        quick = svc.create(s, AGENT, "call", {**fields, "caller_number": "13800001111", "address": "人民中路1号"},
                           register=True)
        svc.act(s, AGENT, quick, "close_immediately", {"result": "已答复"})
        slow = svc.create(s, AGENT, "call", {**fields, "caller_number": "13800002222", "address": "人民中路2号"},
                          register=True)
        svc.act(s, AGENT, slow, "coordinate", {})
        numbers = (quick.number, slow.number)
    cfg = tmp_path / "callcenter.yaml"
    cfg.write_text(f"database_url: {db_url}\ndata_dir: {tmp_path}\n")
    yield db, cfg, numbers
    db.dispose()


def test_every_kpi_is_defined_once_with_its_target() -> None:
    defs = registry.definitions()
    assert [d.id for d in defs] == list(range(1, 10))
    assert len({d.key for d in defs}) == 9
    for d in defs:
        assert d.numerator and d.denominator and d.window
        assert (d.compute is None) == bool(d.unavailable), d.key
    assert registry.get("answer_rate_15s").id == 1 and registry.get(5).key == "front_desk_on_time"
    with pytest.raises(ValueError):
        registry.register(registry.get(1))


def test_kpi_all_agrees_with_the_existing_contracts_and_its_cases(loaded) -> None:  # type: ignore[no-untyped-def]
    db, cfg, (_quick, slow) = loaded
    with db.session() as s:
        data = compute_all(s, Window(None, None), Config())
    by_id = {k["id"]: k for k in data["kpis"]}
    # a within 3 s, b late (16 s), c unanswered, d within (14 s from its first entry)
    assert (by_id[1]["numerator"], by_id[1]["denominator"], by_id[1]["value"], by_id[1]["met"]) == (2, 4, 50.0, False)
    assert (by_id[5]["numerator"], by_id[5]["denominator"], by_id[5]["value"]) == (1, 2, 50.0)
    assert {k["status"] for i, k in by_id.items() if i not in (1, 5)} == {"unavailable"}
    assert all(k["value"] is None and k["reason"] for i, k in by_id.items() if i not in (1, 5))

    runner = CliRunner()
    out = runner.invoke(cli, ["--config", str(cfg), "kpi", "all", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == data
    sl = json.loads(runner.invoke(cli, ["--config", str(cfg), "kpi", "service-level", "--json"]).output)
    assert (sl["answered_within_threshold"], sl["offered"], sl["rate"]) == (2, 4, by_id[1]["value"])
    ok = json.loads(runner.invoke(cli, ["--config", str(cfg), "order", "kpi", "--json"]).output)
    assert (ok["closed_on_time"], ok["orders"], ok["rate"]) == (1, 2, by_id[5]["value"])

    cases = runner.invoke(cli, ["--config", str(cfg), "kpi", "cases", "1", "--json"])
    got = [json.loads(line) for line in cases.output.splitlines()]
    assert sorted((c["id"], c["ok"], c["note"]) for c in got) == [
        ("a", True, "within"), ("b", False, "late"), ("c", False, "unanswered"), ("d", True, "within")]
    failed = runner.invoke(cli, ["--config", str(cfg), "kpi", "cases", "front_desk_on_time", "--failed", "--json"])
    assert [json.loads(line)["id"] for line in failed.output.splitlines()] == [slow]
    assert "not measured" in runner.invoke(cli, ["--config", str(cfg), "kpi", "cases", "7"]).output
    assert runner.invoke(cli, ["--config", str(cfg), "kpi", "cases", "nope"]).exit_code == 2


def test_windows_select_by_each_kpis_basis(loaded) -> None:  # type: ignore[no-untyped-def]
    db, _cfg, _numbers = loaded
    since = datetime(2025, 9, 30, 2, 40, 15)  # after a and b entered
    with db.session() as s:
        data = compute_all(s, Window(since, since + timedelta(hours=1)), Config())
    by_id = {k["id"]: k for k in data["kpis"]}
    assert (by_id[1]["numerator"], by_id[1]["denominator"]) == (1, 2)  # c, d
    assert by_id[5]["denominator"] == 0 and by_id[5]["status"] == "no_data" and by_id[5]["met"] is None
    assert data["since"] == "2025-09-30T02:40:15Z"
