"""Retention with legal holds, recordings' hashes, the restore drill, the password policy and sessions,
through the CLI where an operator would use it (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from callcenter.audit import holds, recordings, retention
from callcenter.audit.models import AuditEntry, RecordingHash
from callcenter.audit.settings import PasswordPolicy, Retention
from callcenter.auth import passwords
from callcenter.auth import services as auth
from callcenter.auth.services import Actor
from callcenter.cli.main import cli
from callcenter.store import migrate
from callcenter.store.db import Database
from callcenter.store.models import Call, Recording, now_utc
from callcenter.store.rows import to_row, upsert_rows
from callcenter.workorders.models import WorkOrder
from callcenter.workorders.services import Services
from callcenter.workorders.settings import WorkOrderSettings
from tests.unit.test_service_level_sql import _stays

AGENT = Actor(1, "agent1", "agent", agent_id="1001")
FIELDS = {"caller_number": "13800001111", "caller_name": "王五", "district": "五华区", "address": "人民中路1号",
          "category": "housing.fund", "content": "咨询公积金提取", "title": "公积金提取"}


@pytest.fixture
def env(db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    migrate.upgrade(db_url)
    cfg = tmp_path / "callcenter.yaml"
    cfg.write_text(yaml.safe_dump({"database_url": db_url, "data_dir": str(tmp_path / "var"),
                                   "audit": {"anchor_file": str(tmp_path / "anchors.jsonl"),
                                             "backup_dir": str(tmp_path / "backups")}}))
    db = Database(db_url)
    yield db, cfg, tmp_path
    db.dispose()
    passwords.POLICY.update(min_length=passwords.MIN_LENGTH, min_classes=2)


def run(cfg: Path, *args: str, ok: bool = True, stdin: str | None = None) -> Any:
    res = CliRunner().invoke(cli, ["--config", str(cfg), *args], input=stdin)
    if ok:
        assert res.exit_code == 0, res.output
    return res


def _orders(db: Database, n: int, closed_days_ago: float) -> list[str]:
    """``n`` front-desk orders closed immediately, ``closed_days_ago`` days ago."""
    clock = now_utc() - timedelta(days=closed_days_ago)
    svc = Services(WorkOrderSettings(), "Asia/Shanghai", lambda: clock)
    numbers = []
    for i in range(n):
        with db.session() as s:
            o = svc.create(s, AGENT, "call", {**FIELDS, "caller_number": f"1380000{i:04d}"},
                           linkedid=f"{1_700_000_000 + i}.{i}", register=True)
            svc.act(s, AGENT, o, "close_immediately", {"result": "已答复"})
            numbers.append(o.number)
    return numbers


def _recording(db: Database, tmp: Path, linkedid: str, days_ago: float) -> Path:
    path = tmp / "rec" / f"{linkedid}.wav"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(4096))
    ended = now_utc() - timedelta(days=days_ago)
    with db.session() as s:
        s.add(Call(linkedid=linkedid, started_at=ended - timedelta(minutes=2), ended_at=ended,
                   disposition="answered", recording_path=str(path)))
        s.add(Recording(path=str(path), linkedid=linkedid, started_at=ended - timedelta(minutes=2), ended_at=ended,
                        size_bytes=4096))
    return path


def test_purge_keeps_held_items_and_is_audited(env) -> None:  # type: ignore[no-untyped-def]
    db, cfg, tmp = env
    old = _orders(db, 3, closed_days_ago=400)
    young = _orders(db, 1, closed_days_ago=10)
    rec_old = _recording(db, tmp, old[1] and "1700000001.1", 400)
    rec_held = _recording(db, tmp, "1700000099.9", 400)
    with db.session() as s:
        recordings.hash_closed(s)
    run(cfg, "hold", "add", "order", old[0], "--reason", "信访复核，法院调取")
    run(cfg, "hold", "add", "call", "1700000099.9", "--reason", "投诉取证")
    assert len(json.loads(run(cfg, "hold", "list", "--json").output)) == 2
    ret = Retention(orders_days=365, recordings_days=180, call_records_days=365)
    with db.session() as s:
        dry = retention.purge(s, ret, tmp / "att", dry_run=True)
    assert dry["deleted"] == {"orders": 2, "recordings": 1, "call_records": 1}
    assert dry["kept_by_hold"] == {"orders": 1, "recordings": 1, "call_records": 1}
    with db.session() as s:
        summary = retention.purge(s, ret, tmp / "att", actor="test")
    retention.remove_files(summary.pop("files"))
    with db.session() as s:
        left = set(s.scalars(select(WorkOrder.number)))
        purge_entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "purge")).one()
    assert left == {old[0], *young}
    assert not rec_old.exists() and rec_held.exists()
    assert json.loads(purge_entry.data)["deleted"] == dry["deleted"]
    # deletions went through the audit log, so the tables still match their trail
    assert run(cfg, "audit", "verify", "--recordings", "--json").exit_code == 0
    # releasing the hold lets the next purge take the order
    hid = json.loads(run(cfg, "hold", "list", "--json").output)[0]["id"]
    run(cfg, "hold", "remove", str(hid), "--reason", "结案")
    with db.session() as s:
        assert retention.purge(s, ret, tmp / "att", dry_run=True)["deleted"]["orders"] == 1


def test_hold_needs_reason_and_role(env) -> None:  # type: ignore[no-untyped-def]
    db, _cfg, _tmp = env
    number = _orders(db, 1, 1)[0]
    with db.session() as s, pytest.raises(holds.HoldError):
        holds.add_hold(s, "order", number, "  ", "x", "admin")
    with db.session() as s, pytest.raises(holds.HoldError):
        holds.add_hold(s, "order", number, "reason", "agent1", "agent")


def test_recording_altered_or_missing_is_found(env) -> None:  # type: ignore[no-untyped-def]
    db, cfg, tmp = env
    a = _recording(db, tmp, "1.1", 0.01)
    b = _recording(db, tmp, "2.2", 0.01)
    _recording(db, tmp, "3.3", 0.01)
    assert "3 recordings hashed" in run(cfg, "audit", "hash-recordings").output
    with db.session() as s:
        assert s.get(RecordingHash, str(a)).size_bytes == 4096
    assert run(cfg, "audit", "verify", "--recordings").exit_code == 0
    with open(a, "r+b") as f:
        f.seek(100)
        f.write(b"\x00\x01")
    b.unlink()
    res = run(cfg, "audit", "verify", "--recordings", "--json", ok=False)
    assert res.exit_code == 1
    rec = json.loads(res.output)["recordings"]
    assert rec["altered"] == [str(a)] and rec["missing"] == [str(b)] and rec["checked"] == 3


def test_restore_drill(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Traffic (queue stays and orders), back up, destroy the database, restore into an empty one:
    the audit chain verifies (anchors included) and every KPI equals its value before the loss."""
    db, cfg, tmp = env
    stays = _stays(11, callers=200)
    with db.engine.begin() as conn:
        upsert_rows(conn, "queue_entries", [to_row(s)[2] for s in stays])
    _orders(db, 4, closed_days_ago=2)
    _recording(db, tmp, "9.9", 0.01)
    run(cfg, "audit", "hash-recordings")
    run(cfg, "audit", "anchor")
    kpi_args = ("kpi", "service-level", "--since", "2020-01-01", "--json")
    sl_before = json.loads(run(cfg, *kpi_args).output)
    orders_before = json.loads(run(cfg, "order", "kpi", "--json").output)
    assert sl_before["offered"] == 200 and 0 < sl_before["answered_within_threshold"] < 200
    assert orders_before["orders"] == 4
    out = Path(run(cfg, "backup").output.strip())
    manifest = json.loads((out / "manifest.json").read_text())
    assert [f["kind"] for f in manifest["files"]] == ["recording"] and manifest["files"][0]["sha256"]
    # destroy
    url = str(yaml.safe_load(cfg.read_text())["database_url"])
    db.dispose()
    if url.startswith("sqlite"):
        for suffix in ("", "-wal", "-shm"):
            Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    else:
        with Database(url).engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    assert run(cfg, *kpi_args, ok=False).exit_code != 0
    restored = json.loads(run(cfg, "restore", str(out), "--json").output)
    assert restored["files_missing"] == []
    verified = json.loads(run(cfg, "audit", "verify", "--recordings", "--json").output)
    assert verified["ok"] and verified["anchors_checked"] > 0 and verified["entries"] > 20
    assert json.loads(run(cfg, *kpi_args).output) == sl_before
    assert json.loads(run(cfg, "order", "kpi", "--json").output) == orders_before
    # the restored database still refuses to change its audit log
    restored_db = Database(url)
    with pytest.raises(DatabaseError, match="append-only"), restored_db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log"))
    restored_db.dispose()
    # restore refuses a database that is not empty
    assert run(cfg, "restore", str(out), ok=False).exit_code != 0


def test_backup_rotation_and_altered_dump_refused(env) -> None:  # type: ignore[no-untyped-def]
    db, cfg, tmp = env
    _orders(db, 1, 1)
    made = [Path(run(cfg, "backup", "--keep", "2").output.strip()) for _ in range(3)]
    left = sorted(p.name for p in (tmp / "backups").iterdir())
    assert left == sorted(p.name for p in made[1:])
    dump = next(p for p in made[-1].iterdir() if p.name.startswith("database"))
    with open(dump, "r+b") as f:
        f.seek(200)
        f.write(b"XX")
    other = tmp / "other.yaml"
    other.write_text(yaml.safe_dump({"database_url": f"sqlite:///{tmp / 'empty.sqlite'}",
                                     "data_dir": str(tmp / "var")}))
    res = run(other, "restore", str(made[-1]), ok=False)
    assert "does not match its manifest" in res.output


def test_password_policy_sessions_and_security_events(env) -> None:  # type: ignore[no-untyped-def]
    db, cfg, _tmp = env
    res = run(cfg, "user", "add", "lead1", "--role", "team_leader", "--password-stdin", stdin="abcdefgh12\n",
              ok=False)
    assert res.exit_code != 0 and "kinds of character" in res.output
    run(cfg, "user", "add", "lead1", "--role", "team_leader", "--password-stdin", stdin="Abcdefgh-12\n")
    with db.session() as s:
        user = auth.get_user(s, "lead1")
        auth.open_session(s, user, hours=8, address="10.0.0.7")
        auth.open_session(s, user, hours=8, address="10.0.0.8")
        auth.sign_in(s, "lead1", "wrong-password")
    sessions = json.loads(run(cfg, "user", "sessions", "lead1", "--json").output)
    assert {r["address"] for r in sessions} == {"10.0.0.7", "10.0.0.8"}
    assert "1 sessions ended" in run(cfg, "user", "revoke", sessions[0]["id"]).output
    assert len(json.loads(run(cfg, "user", "sessions", "--json").output)) == 1
    events = [json.loads(line) for line in run(cfg, "user", "security-events").output.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds.count("sign_in") == 2 and "sign_in_failed" in kinds and "session_end" in kinds
    assert "user_created" in kinds
    end = next(e for e in events if e["event"] == "session_end")
    assert end["user"] == "lead1" and end["actor"].startswith("cli:")
    # expiry: a password set long ago has expired
    with db.session() as s:
        u = auth.get_user(s, "lead1")
        u.password_changed_at = now_utc() - timedelta(days=100)
    from callcenter.audit.policy import expired

    with db.session() as s:
        assert expired(auth.get_user(s, "lead1"), PasswordPolicy(max_age_days=90))
        assert not expired(auth.get_user(s, "lead1"), PasswordPolicy(max_age_days=0))
    assert json.loads(run(cfg, "user", "expired", "--json").output) == ["lead1"]


def test_daily_jobs_run_once_a_day(env) -> None:  # type: ignore[no-untyped-def]
    from callcenter.audit.plugin import AuditPlugin, config_digests, record_config
    from callcenter.config import load_config

    db, cfg, _tmp = env
    config = load_config(str(cfg))
    plugin = AuditPlugin(config)
    started: list[str] = []
    plugin.run_purge = lambda: started.append("purge")  # type: ignore[method-assign]
    plugin.run_backup = lambda: started.append("backup")  # type: ignore[method-assign]
    plugin._daily(datetime(2026, 1, 5, 2, 0))
    plugin._daily(datetime(2026, 1, 5, 2, 31))
    plugin._daily(datetime(2026, 1, 5, 3, 31))
    plugin._daily(datetime(2026, 1, 5, 23, 0))
    plugin._daily(datetime(2026, 1, 6, 4, 0))
    assert started == ["backup", "purge", "purge", "backup"]
    # configuration changes are audited in the settings stream, secrets masked
    assert "ami" in config_digests(config)
    with db.session() as s:
        assert record_config(s, config) is True
        assert record_config(s, config) is False


def test_last_daily_runs_survive_a_restart(env) -> None:  # type: ignore[no-untyped-def]
    from callcenter.audit.plugin import last_daily_runs

    db, cfg, _tmp = env
    run(cfg, "retention", "purge")
    run(cfg, "backup")
    with db.session() as s:
        days = last_daily_runs(s, "Asia/Shanghai")
    from zoneinfo import ZoneInfo

    today = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d")
    assert days == {"purge": today, "backup": today}
