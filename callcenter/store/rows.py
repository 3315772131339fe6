"""Domain records ↔ table rows, and batched idempotent upserts (SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from callcenter.calls import records as r
from callcenter.store import models as m

# record type → (table, primary key attribute, columns holding epoch seconds)
_MAPPING: dict[type, tuple[Table, str, frozenset[str]]] = {
    r.CallRecord: (m.Call.__table__, "linkedid", frozenset(
        {"started_at", "ended_at", "first_queued_at", "answered_at"})),
    r.QueueEntryRecord: (m.QueueEntry.__table__, "id", frozenset(
        {"entered_at", "left_at", "connected_at", "completed_at"})),
    r.RecordingRecord: (m.Recording.__table__, "path", frozenset({"started_at", "ended_at"})),
    r.AgentSessionRecord: (m.AgentSession.__table__, "id", frozenset({"login_at", "logout_at"})),
    r.AgentPauseRecord: (m.AgentPause.__table__, "id", frozenset({"started_at", "ended_at"})),
    r.VoicemailRecord: (m.Voicemail.__table__, "id", frozenset({"created_at"})),
}
TABLES: dict[str, tuple[Table, str, frozenset[str]]] = {t.name: (t, k, ts) for t, k, ts in _MAPPING.values()}


def register(record_type: type, table: Table, key: str, time_columns: Iterable[str] = ()) -> None:
    """Let another package persist its own records through the journal and writer."""
    _MAPPING[record_type] = (table, key, frozenset(time_columns))
    TABLES[table.name] = (table, key, frozenset(time_columns))


def to_row(record: Any) -> tuple[str, str, dict[str, Any]]:
    """(table name, key, column values) of a record; times stay epoch floats (JSON-friendly)."""
    table, key, _ = _MAPPING[type(record)]
    columns = table.columns.keys()
    values = {c: getattr(record, c) for c in columns if hasattr(record, c)}
    return table.name, values[key], values


def _to_db(table_name: str, values: dict[str, Any]) -> dict[str, Any]:
    _table, _key, times = TABLES[table_name]
    return {c: (m.utc(v) if c in times else v) for c, v in values.items()}


def _insert_for(conn: Connection) -> Callable[[Table], Any]:
    name = conn.dialect.name
    if name == "sqlite":
        return sqlite.insert
    if name == "postgresql":
        return postgresql.insert
    raise RuntimeError(f"unsupported database dialect {name}")


def upsert_rows(conn: Connection, table_name: str, rows: list[dict[str, Any]], chunk: int = 500) -> None:
    """Insert rows, replacing every column of rows whose key already exists (idempotent)."""
    if not rows:
        return
    table, key, _ = TABLES[table_name]
    insert = _insert_for(conn)
    # Rows of one statement must share their columns.
    by_shape: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        by_shape.setdefault(tuple(sorted(row)), []).append(_to_db(table_name, row))
    for columns, shaped in by_shape.items():
        for i in range(0, len(shaped), chunk):
            stmt = insert(table)
            stmt = stmt.on_conflict_do_update(
                index_elements=[table.c[key]],
                set_={c: stmt.excluded[c] for c in columns if c != key},
            )
            conn.execute(stmt, shaped[i:i + chunk])


def record_from_row(record_type: type, row: Any) -> Any:
    """Rebuild a domain record from an ORM row (times back to epoch seconds)."""
    _table, _key, times = _MAPPING[record_type]
    kwargs = {}
    for f in dataclasses.fields(record_type):
        if f.name == "entries":
            continue
        value = getattr(row, f.name, None)
        kwargs[f.name] = m.epoch(value) if f.name in times else value
    return record_type(**kwargs)
