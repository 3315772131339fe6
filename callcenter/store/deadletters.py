"""Rows the writer set aside because the database refused them: list them, write them again."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from callcenter.store.db import make_engine
from callcenter.store.models import DeadLetter
from callcenter.store.rows import TABLES, upsert_rows


def _from_file(file: Path) -> list[dict[str, Any]]:
    out = []
    try:
        with open(file, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                try:
                    item = json.loads(line)
                except ValueError:
                    continue  # a torn last line
                out.append({"id": f"file:{n}", "at": item.get("at"), "table_name": item["table_name"],
                            "row_key": item["row_key"], "payload": item["payload"], "error": item["error"],
                            "source": str(file)})
    except FileNotFoundError:
        pass
    return out


def load(url: str, file: Path) -> list[dict[str, Any]]:
    """Every dead letter, from the table then the file, oldest first."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(DeadLetter.__table__).order_by(DeadLetter.id)).mappings().all()
    finally:
        engine.dispose()
    table = [{"id": r["id"], "at": r["at"].isoformat(sep=" ", timespec="seconds"), "table_name": r["table_name"],
              "row_key": r["row_key"], "payload": r["payload"], "error": r["error"], "source": "table"}
             for r in rows]
    return table + _from_file(file)


def retry_all(url: str, file: Path) -> tuple[int, list[dict[str, Any]]]:
    """Write every dead letter again; returns (how many went in, the ones still refused)."""
    letters = load(url, file)
    engine = make_engine(url)
    done = 0
    left: list[dict[str, Any]] = []
    kept_lines: list[dict[str, Any]] = []
    try:
        for letter in letters:
            ok = False
            if letter["table_name"] in TABLES:
                try:
                    with engine.begin() as conn:
                        upsert_rows(conn, letter["table_name"], [json.loads(letter["payload"])])
                        if letter["source"] == "table":
                            conn.execute(delete(DeadLetter.__table__).where(DeadLetter.id == letter["id"]))
                    ok = True
                except Exception as exc:
                    letter = {**letter, "error": f"{exc.__class__.__name__}: {getattr(exc, 'orig', exc)}"[:2000]}
            if ok:
                done += 1
            else:
                left.append(letter)
                if letter["source"] != "table":
                    kept_lines.append(letter)
        if any(letter["source"] != "table" for letter in letters):
            _rewrite_file(file, kept_lines)
    finally:
        engine.dispose()
    return done, left


def _rewrite_file(file: Path, letters: list[dict[str, Any]]) -> None:
    if not letters:
        file.unlink(missing_ok=True)
        return
    tmp = file.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for letter in letters:
            f.write(json.dumps({k: letter[k] for k in ("at", "table_name", "row_key", "payload", "error")},
                               ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, file)
