"""Domain records ↔ table rows, and batched idempotent upserts (SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import JSON, String, Table, Text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from callcenter import bounds
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


# Columns an adopted call (see CallRecord.adopted) does not know: left as the row has them.
ADOPTED_UNKNOWN = frozenset({"did", "hotline", "caller_name", "flow", "ivr_path", "tags", "transferred_to"})
# A row may name columns that are written only when it is inserted, never over an existing row.
INSERT_ONLY = "__insert_only__"


def to_row(record: Any) -> tuple[str, str, dict[str, Any]]:
    """(table name, key, column values) of a record; times stay epoch floats (JSON-friendly)."""
    table, key, _ = _MAPPING[type(record)]
    columns = table.columns.keys()
    if getattr(record, "adopted", False):
        columns = [c for c in columns if c not in ADOPTED_UNKNOWN]
    # Fitted here already, so the journal (UTF-8 JSON) can hold every row the database can.
    values = fit_row(table, {c: getattr(record, c) for c in columns if hasattr(record, c)})
    if getattr(record, "adopted", False):
        values[INSERT_ONLY] = ["started_at"]  # the queue join's time is not the call's start
    return table.name, values[key], values


def column_limits(table: Table) -> dict[str, int | None]:
    """Text-like columns of ``table`` → their width (None: unbounded Text)."""
    out: dict[str, int | None] = {}
    for column in table.columns:
        if isinstance(column.type, String):  # Text is a String without a length
            out[column.name] = column.type.length
    return out


# table name → ({text column: (width or None, multi-line allowed)}, JSON columns)
_SHAPES: dict[str, tuple[dict[str, tuple[int | None, bool]], frozenset[str]]] = {}


def _shape(table: Table) -> tuple[dict[str, tuple[int | None, bool]], frozenset[str]]:
    shape = _SHAPES.get(table.name)
    if shape is None:
        texts = {name: (limit, limit is None or isinstance(table.c[name].type, Text))
                 for name, limit in column_limits(table).items()}
        shape = _SHAPES[table.name] = (texts, frozenset(c.name for c in table.columns if isinstance(c.type, JSON)))
    return shape


def _clean_json(value: Any) -> Any:
    # NUL and lone surrogates are refused inside PostgreSQL JSON too.
    if isinstance(value, str):
        return bounds.clean(value, multiline=True)
    if isinstance(value, dict):
        return {bounds.clean(k, multiline=True): _clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_json(v) for v in value]
    return value


def fit_row(table: Table, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with every string fitted to its column: control characters removed, clipped.

    Why: a value wider than its column (or with a NUL byte, refused by PostgreSQL) makes the whole
    row unwritable; clipping a caller id is better than losing the call.
    """
    texts, jsons = _shape(table)
    out = dict(values)
    for name, value in values.items():
        if value is None:
            continue
        text = texts.get(name)
        if text is not None:
            if not isinstance(value, str):
                continue
            limit, multiline = text
            if value.isprintable() and (limit is None or len(value) <= limit):
                continue  # the usual case, checked in C
            out[name] = bounds.fit(value, limit, multiline) if limit else bounds.clean(value, multiline)
        elif name in jsons and value:
            out[name] = _clean_json(value)
    return out


def _to_db(table_name: str, values: dict[str, Any]) -> dict[str, Any]:
    table, _key, times = TABLES[table_name]
    values = fit_row(table, values)
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
    by_shape: dict[tuple[tuple[str, ...], tuple[str, ...]], list[dict[str, Any]]] = {}
    for row in rows:
        row = dict(row)
        keep = tuple(sorted(row.pop(INSERT_ONLY, ()) or ()))
        by_shape.setdefault((tuple(sorted(row)), keep), []).append(_to_db(table_name, row))
    for (columns, keep), shaped in by_shape.items():
        for i in range(0, len(shaped), chunk):
            stmt = insert(table)
            stmt = stmt.on_conflict_do_update(
                index_elements=[table.c[key]],
                set_={c: stmt.excluded[c] for c in columns if c != key and c not in keep},
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
