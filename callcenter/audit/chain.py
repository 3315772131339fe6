"""The hash chain: canonical JSON, appending entries, and the session hooks that audit every change.

Services need no change: :func:`install` listens to the ORM (``after_flush`` for objects, ``do_orm_execute``
for bulk UPDATE/DELETE statements) and appends one entry per changed row of an audited table, on the same
connection, so the entry commits or rolls back with the change. Each stream is one chain: an entry's
hash is SHA-256 over the canonical JSON of its fields and the previous entry's hash. Writers of a stream
are serialised (PostgreSQL: a transaction-level advisory lock; SQLite: its single writer).
"""

from __future__ import annotations

import contextvars
import getpass
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from callcenter.audit.models import AuditEntry
from callcenter.store.models import now_utc

GENESIS = "0" * 64
_TABLE = AuditEntry.__table__


@dataclass(frozen=True)
class Spec:
    """How one table is audited: its stream, columns never stored in clear, columns not followed."""

    stream: str
    masked: frozenset[str] = frozenset()
    ignored: frozenset[str] = frozenset()
    # False: only inserts and deletes are recorded (e.g. sessions' last-seen touches are noise)
    updates: bool = True
    # False: `audit verify` does not compare the table with its entries (rows removed by expiry ...)
    reconcile: bool = True
    # the column naming who acted (an event's actor), when the session did not say
    actor_column: str | None = None


# table name → spec. Other packages add theirs with register() (inspections, scores, ratings ...).
AUDITED: dict[str, Spec] = {
    "work_orders": Spec("orders"),
    "work_order_events": Spec("orders", actor_column="actor"),
    "work_order_calls": Spec("orders"),
    "work_order_attachments": Spec("orders"),
    "users": Spec("users", masked=frozenset({"password_hash"})),
    "api_tokens": Spec("users", masked=frozenset({"token_hash"})),
    "user_sessions": Spec("users", masked=frozenset({"id", "csrf_token"}), ignored=frozenset({"last_seen_at"}),
                          updates=False, reconcile=False),
    "kb_articles": Spec("kb", ignored=frozenset({"doc_len"})),
    "kb_article_versions": Spec("kb", actor_column="changed_by"),
    # failed sign-ins and locks per (name, address): the security events' source (rows expire: not reconciled)
    "login_throttle": Spec("users", reconcile=False),
    "legal_holds": Spec("system"),
    "recording_hashes": Spec("recordings"),
}


def register(table: str, spec: Spec) -> None:
    """Audit another table (call at import time of the package that owns it)."""
    AUDITED[table] = spec


# ---- canonical form -----------------------------------------------------------------------------
def value(v: Any) -> Any:
    """A column value in its canonical JSON form (the same whether read from an object or a row)."""
    if isinstance(v, datetime):
        return v.replace(tzinfo=None).isoformat(timespec="microseconds")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, bytes | bytearray | memoryview):
        return bytes(v).hex()
    if isinstance(v, Enum):
        return v.value
    return v


def mask(v: Any) -> str | None:
    """A secret column's stand-in: enough to see that it changed, nothing to reuse."""
    if v is None or v == "":
        return v
    return "sha256:" + hashlib.sha256(str(v).encode("utf-8")).hexdigest()[:16]


def canonical(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)


def content_digest(stream: str, at: datetime, actor: str, action: str, entity: str, entity_id: str,
                   data: str) -> str:
    """SHA-256 over the canonical JSON of an entry's own fields (computed by the writer)."""
    doc = [stream, value(at), actor, action, entity, entity_id, data]
    return hashlib.sha256(canonical(doc).encode("utf-8")).hexdigest()


def link(prev_hash: str, seq: int, digest: str) -> str:
    """The chain step: SHA-256 of ``prev:seq:digest`` (PostgreSQL's audit_append computes the same)."""
    return hashlib.sha256(f"{prev_hash}:{seq}:{digest}".encode()).hexdigest()


def entry_hash(stream: str, seq: int, at: datetime, actor: str, action: str, entity: str, entity_id: str,
               data: str, prev_hash: str) -> str:
    """An entry's hash: its content digest chained to the previous entry's hash and its sequence number."""
    return link(prev_hash, seq, content_digest(stream, at, actor, action, entity, entity_id, data))


def row_values(spec: Spec, values: dict[str, Any]) -> dict[str, Any]:
    """The audited form of a row (``{column: value}``): ignored columns left out, secrets masked."""
    out = {}
    for name, v in values.items():
        if name in spec.ignored:
            continue
        out[name] = mask(v) if name in spec.masked else value(v)
    return out


# ---- appending ----------------------------------------------------------------------------------
@dataclass
class Pending:
    stream: str
    action: str
    entity: str = ""
    entity_id: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    actor: str | None = None


def _sql(conn: Connection, sql: str) -> str:
    """Driver-level SQL with ``:name`` parameters in the driver's own style (the hot path skips compiling)."""
    if conn.dialect.paramstyle in ("format", "pyformat"):
        return re.sub(r":(\w+)", r"%(\1)s", sql)
    return sql


_HEAD = "SELECT seq, hash FROM audit_log WHERE stream = :stream ORDER BY seq DESC LIMIT 1"
_INSERT = ("INSERT INTO audit_log (stream, seq, at, actor, action, entity, entity_id, data, prev_hash, hash) "
           "VALUES (:stream, :seq, :at, :actor, :action, :entity, :entity_id, :data, :prev_hash, :hash)")


def head(conn: Connection, stream: str) -> tuple[int, str]:
    """(seq, hash) of a stream's last entry, (0, GENESIS) when empty."""
    cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.execute(_sql(conn, _HEAD), {"stream": stream})
        row = cur.fetchone()
    finally:
        cur.close()
    return (0, GENESIS) if row is None else (row[0], row[1])


def append(conn: Connection, pending: Iterable[Pending], actor: str | None = None) -> int:
    """Chain ``pending`` onto their streams' heads, on ``conn`` (inside the caller's transaction).

    PostgreSQL: one call of ``audit_append`` per stream (it takes the stream's advisory lock, reads the
    head and links the entries: one round trip). SQLite: read the head and insert here (its single
    writer serialises appends; the change's own writes already hold the lock).
    """
    by_stream: dict[str, list[Pending]] = {}
    for p in pending:
        by_stream.setdefault(p.stream, []).append(p)
    at = now_utc()
    who_default = actor or default_actor()
    n = 0
    # streams in a fixed order: two transactions never wait on each other's locks crosswise
    for stream in sorted(by_stream):
        rows = []
        for p in by_stream[stream]:
            who = (p.actor or who_default)[:64]
            data = canonical(p.data)
            eid = p.entity_id[:512]  # the longest key of an audited table (a recording path)
            rows.append({"actor": who, "action": p.action, "entity": p.entity, "entity_id": eid, "data": data,
                         "digest": content_digest(stream, at, who, p.action, p.entity, eid, data)})
        n += len(rows)
        # the DB-API cursor directly: this runs on every audited flush, SQLAlchemy's statement layer is
        # a measurable share of it (same connection, same transaction)
        cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        if conn.dialect.name == "postgresql":
            try:
                cur.execute("SELECT audit_append(%(stream)s, %(at)s, %(rows)s::jsonb)",
                            {"stream": stream, "at": at, "rows": json.dumps(rows, ensure_ascii=False)})
            finally:
                cur.close()
            continue
        seq, prev = head(conn, stream)
        stamp = at.strftime("%Y-%m-%d %H:%M:%S.%f")  # the text form SQLAlchemy's SQLite DateTime uses
        out = []
        for r in rows:
            seq += 1
            h = link(prev, seq, r.pop("digest"))
            out.append({**r, "stream": stream, "seq": seq, "at": stamp, "prev_hash": prev, "hash": h})
            prev = h
        try:
            cur.executemany(_INSERT, out)
        finally:
            cur.close()
    return n


def record(session: Session, stream: str, action: str, data: dict[str, Any], entity: str = "",
           entity_id: str = "", actor: str | None = None) -> None:
    """Append one operation entry (purge, hold, backup ...) in ``session``'s transaction."""
    append(session.connection(), [Pending(stream, action, entity, entity_id, data, actor)],
           actor or session.info.get("audit_actor") or CURRENT_ACTOR.get())


# ---- who acts -----------------------------------------------------------------------------------
_default = {"actor": ""}
# The signed-in person a web request acts for (set by the web guard; Database.run carries it into the
# pool thread), recorded when the session does not name an actor.
CURRENT_ACTOR: contextvars.ContextVar[str | None] = contextvars.ContextVar("audit_actor", default=None)


def set_current_actor(name: str | None) -> None:
    """Record ``name`` as the actor of the changes made from here on in this context (a web request)."""
    CURRENT_ACTOR.set(name)


def set_default_actor(name: str) -> None:
    """The actor recorded when neither the session nor the change names one (``daemon``, ``cli:root``)."""
    _default["actor"] = name


def default_actor() -> str:
    if not _default["actor"]:
        try:
            _default["actor"] = f"proc:{getpass.getuser()}"
        except Exception:  # no passwd entry in a container
            _default["actor"] = "proc:unknown"
    return _default["actor"]


# ---- the session hooks ----------------------------------------------------------------------------
def entity_id(identity: Iterable[Any] | None) -> str:
    return "/".join(str(value(v)) for v in (identity or ()))


_COLUMNS: dict[Any, tuple[tuple[str, str], ...]] = {}


def _columns(mapper: Any) -> tuple[tuple[str, str], ...]:
    """(attribute key, column name) of a mapper's columns, computed once."""
    cols = _COLUMNS.get(mapper)
    if cols is None:
        cols = _COLUMNS[mapper] = tuple((a.key, a.columns[0].name) for a in mapper.column_attrs)
    return cols


def _after_flush(session: Session, _ctx: Any) -> None:
    pending: list[Pending] = []
    actor = session.info.get("audit_actor") or CURRENT_ACTOR.get()
    for obj in session.new:
        state = inspect(obj)
        name = state.mapper.local_table.name
        spec = AUDITED.get(name)
        if spec is None:
            continue
        d = state.dict
        values = {col: d.get(key) for key, col in _columns(state.mapper)}
        if spec.actor_column and not actor:
            actor = values.get(spec.actor_column) or None
        pk = state.mapper.primary_key_from_instance(obj)
        pending.append(Pending(spec.stream, "insert", name, entity_id(pk), row_values(spec, values)))
    for obj in session.dirty:
        state = inspect(obj)
        name = state.mapper.local_table.name
        spec = AUDITED.get(name)
        if spec is None or not spec.updates or obj in session.deleted:
            continue
        # committed_state holds the old value of every attribute set since the last flush
        old, d = state.committed_state, state.dict
        version = state.mapper.version_id_col
        changed = {}
        for key, col in _columns(state.mapper):
            if key in old and old[key] != d.get(key):
                changed[col] = d.get(key)
            elif version is not None and col == version.name:
                changed[col] = d.get(key)
        values = row_values(spec, changed)
        if not values or (version is not None and values.keys() == {version.name}):
            continue
        pending.append(Pending(spec.stream, "update", name, entity_id(state.identity), values))
    for obj in session.deleted:
        state = inspect(obj)
        name = state.mapper.local_table.name
        spec = AUDITED.get(name)
        if spec is None:
            continue
        pending.append(Pending(spec.stream, "delete", name, entity_id(state.identity)))
    if pending:
        append(session.connection(), pending, actor)


def _orm_execute(orm_state: Any) -> Any:
    """Bulk UPDATE/DELETE on an audited table: note the rows it touches, run it, record them."""
    if not (orm_state.is_update or orm_state.is_delete):
        return None
    stmt = orm_state.statement
    table = getattr(stmt, "table", None)
    spec = AUDITED.get(getattr(table, "name", ""))
    if spec is None or (orm_state.is_update and not spec.updates):
        return None
    session: Session = orm_state.session
    conn = session.connection()
    pk = list(table.primary_key.columns)
    sel = select(*pk)
    if stmt.whereclause is not None:
        sel = sel.where(stmt.whereclause)
    if conn.dialect.name == "postgresql":
        sel = sel.with_for_update()
    keys = [tuple(r) for r in conn.execute(sel, orm_state.parameters or {})]
    result = orm_state.invoke_statement()
    if not keys:
        return result
    pending = []
    if orm_state.is_delete:
        pending = [Pending(spec.stream, "delete", table.name, entity_id(k)) for k in keys]
    else:
        cols = [c for c in table.columns if c.name not in spec.ignored]
        for k in keys:
            row = conn.execute(select(*cols).where(*[c == v for c, v in zip(pk, k, strict=True)])).first()
            if row is not None:
                pending.append(Pending(spec.stream, "update", table.name, entity_id(k),
                                       row_values(spec, dict(row._mapping))))
    append(conn, pending, session.info.get("audit_actor") or CURRENT_ACTOR.get())
    return result


_installed: set[int] = set()


def install(target: Any = Session) -> None:
    """Audit every session made by ``target`` (a sessionmaker, or the Session class: all sessions)."""
    if id(target) in _installed:
        return
    _installed.add(id(target))
    event.listen(target, "after_flush", _after_flush)
    event.listen(target, "do_orm_execute", _orm_execute)
