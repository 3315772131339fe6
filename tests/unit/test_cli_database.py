"""Database commands: one clear line instead of a traceback; ``db dead-letters`` lists and retries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import insert, select

from callcenter.cli.main import cli
from callcenter.store import migrate
from callcenter.store.db import make_engine
from callcenter.store.models import Call, DeadLetter


def _config(tmp_path: Path, **values: str) -> str:
    path = tmp_path / "callcenter.yaml"
    path.write_text("".join(f"{k}: {v}\n" for k, v in values.items()))
    return str(path)


@pytest.mark.parametrize("args", [["db", "current"], ["db", "dead-letters"], ["kpi", "service-level"],
                                  ["db", "downgrade", "base"]])
def test_missing_data_directory_is_one_line(tmp_path: Path, args: list[str]) -> None:
    config = _config(tmp_path, data_dir=str(tmp_path / "missing" / "data"))
    result = CliRunner().invoke(cli, ["--config", config, *args])
    assert result.exit_code == 1
    assert "Traceback" not in result.output and result.exception.__class__ is SystemExit
    assert f"the data directory {tmp_path / 'missing' / 'data'} does not exist" in result.output
    assert "callcenter db upgrade" in result.output


def test_unreachable_server_is_one_line(tmp_path: Path) -> None:
    config = _config(tmp_path, database_url="postgresql://postgres:pw@127.0.0.1:1/x")
    result = CliRunner().invoke(cli, ["--config", config, "db", "current"])
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert "cannot use the database at postgresql://postgres:***@127.0.0.1:1/x" in result.output


def test_upgrade_creates_the_data_directory(tmp_path: Path) -> None:
    config = _config(tmp_path, data_dir=str(tmp_path / "new" / "data"))
    result = CliRunner().invoke(cli, ["--config", config, "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "new" / "data" / "callcenter.sqlite").exists()


def test_dead_letters_list_and_retry(db_url: str, tmp_path: Path) -> None:
    migrate.upgrade(db_url)
    config = _config(tmp_path, database_url=db_url, data_dir=str(tmp_path))
    good = {"linkedid": "cc-1", "started_at": 1_800_000_000.0, "caller_number": "1" * 79, "disposition": "answered"}
    bad = {"linkedid": "cc-2", "started_at": 1e13}
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(insert(DeadLetter.__table__), [
            {"table_name": "calls", "row_key": "cc-1", "payload": json.dumps(good), "error": "DataError: too long"}])
    (tmp_path / "dead-letters.jsonl").write_text(json.dumps(
        {"at": 1.0, "table_name": "calls", "row_key": "cc-2", "payload": json.dumps(bad), "error": "x"}) + "\n")
    listed = CliRunner().invoke(cli, ["--config", config, "db", "dead-letters", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [json.loads(line)["row_key"] for line in listed.output.splitlines()] == ["cc-1", "cc-2"]
    retried = CliRunner().invoke(cli, ["--config", config, "db", "dead-letters", "--retry"])
    assert retried.exit_code == 0, retried.output
    assert retried.output.startswith("1 written, 1 still refused")
    with engine.connect() as conn:
        assert conn.execute(select(Call.linkedid)).scalars().all() == ["cc-1"]
        assert conn.execute(select(DeadLetter.id)).all() == []
    engine.dispose()
    assert "cc-2" in (tmp_path / "dead-letters.jsonl").read_text()
