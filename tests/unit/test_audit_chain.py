"""The audit chain on a real database (SQLite and PostgreSQL): every change of an order, a user, a KB
article is chained in the same transaction; the database refuses UPDATE/DELETE; tampering by raw SQL
(triggers dropped first, as an attacker with database access would) is found by ``verify``."""

from __future__ import annotations

import itertools
import json
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from callcenter.audit import anchors, chain
from callcenter.audit.models import AuditEntry
from callcenter.audit.verify import verify
from callcenter.auth import services as auth
from callcenter.auth.services import Actor
from callcenter.kb import services as kb
from callcenter.store import migrate
from callcenter.store.db import Database
from callcenter.workorders.services import Services
from callcenter.workorders.settings import WorkOrderSettings

AGENT = Actor(1, "agent1", "agent", agent_id="1001")
FIELDS = {"caller_number": "13800001111", "caller_name": "王五", "district": "五华区", "address": "人民中路1号",
          "category": "housing.fund", "content": "咨询公积金提取", "title": "公积金提取"}


@pytest.fixture
def db(db_url: str):  # type: ignore[no-untyped-def]
    migrate.upgrade(db_url)
    d = Database(db_url)
    yield d
    d.dispose()


def _traffic(db: Database) -> str:
    svc = Services(WorkOrderSettings(), "Asia/Shanghai", lambda: datetime(2025, 9, 30, 2, 0))
    with db.session() as s:
        o = svc.create(s, AGENT, "call", FIELDS, linkedid="1759200000.1", register=True)
        number = o.number
    with db.session() as s:
        o = svc.get(s, number)
        svc.edit(s, AGENT, o, {"address": "人民中路2号"})
    with db.session() as s:
        auth.create_user(s, "lead1", "team_leader", "Lead-pass-2025")
    with db.session() as s:
        auth.set_password(s, "lead1", "Other-pass-2026")
    with db.session() as s:
        a = kb.create_article(s, Actor(2, "lead1", "team_leader"), "公积金提取", "带身份证到窗口办理", "housing.fund")
        kb.set_status(s, Actor(2, "lead1", "team_leader"), a.id, "published")
    return number


def _check(db: Database, **kw):  # type: ignore[no-untyped-def]
    with db.engine.connect() as conn:
        return verify(conn, **kw)


def test_changes_are_chained_and_verify_clean(db: Database) -> None:
    number = _traffic(db)
    with db.session() as s:
        entries = s.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        orders = [e for e in entries if e.stream == "orders"]
        users = [e for e in entries if e.stream == "users"]
    assert [e.seq for e in orders] == list(range(1, len(orders) + 1))
    assert any(e.entity == "work_orders" and e.action == "insert" and number in e.data for e in orders)
    edit = [e for e in orders if e.entity == "work_orders" and e.action == "update"]
    assert edit and "人民中路2号" in edit[-1].data and edit[-1].actor == "agent1"
    # the password hash is never in the log, only a stand-in that shows it changed
    assert users and all("argon2" not in e.data for e in users)
    assert any(e.action == "update" and "password_hash" in e.data for e in users)
    for prev, cur in itertools.pairwise(orders):
        assert cur.prev_hash == prev.hash
    report = _check(db)
    assert report.ok, report.as_dict()
    assert report.entries == len(entries)


def test_rollback_leaves_no_entry(db: Database) -> None:
    svc = Services(WorkOrderSettings(), "Asia/Shanghai", lambda: datetime(2025, 9, 30, 2, 0))
    with pytest.raises(RuntimeError), db.session() as s:
        svc.create(s, AGENT, "call", FIELDS, register=True)
        s.flush()
        raise RuntimeError("abort")
    with db.session() as s:
        assert s.scalar(select(AuditEntry).limit(1)) is None


def test_database_refuses_update_and_delete(db: Database) -> None:
    _traffic(db)
    for sql in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(DatabaseError, match="append-only"), db.engine.begin() as conn:
            conn.execute(text(sql))
    with db.session() as s:
        assert s.scalar(select(AuditEntry).where(AuditEntry.actor == "x")) is None


def _drop_triggers(conn) -> None:  # type: ignore[no-untyped-def]
    if conn.dialect.name == "postgresql":
        conn.execute(text("DROP TRIGGER audit_log_append_only ON audit_log"))
    else:
        conn.execute(text("DROP TRIGGER audit_log_no_update"))
        conn.execute(text("DROP TRIGGER audit_log_no_delete"))


def test_tampered_order_event_is_found(db: Database) -> None:
    _traffic(db)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE work_order_events SET actor = 'someone_else' WHERE id = 1"))
    report = _check(db)
    assert not report.ok
    assert {"entity": "work_order_events", "id": "1", "reason": "row differs from its audit trail",
            "columns": ["actor"]} in report.mismatches


def test_order_changed_or_inserted_by_sql_is_found(db: Database) -> None:
    number = _traffic(db)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE work_orders SET closed_on_time = :t WHERE number = :n"), {"t": True, "n": number})
        conn.execute(text("DELETE FROM work_order_calls"))
    reasons = {(m["entity"], m["reason"]) for m in _check(db).mismatches}
    assert ("work_orders", "row differs from its audit trail") in reasons
    assert ("work_order_calls", "row removed outside the product") in reasons


def test_tampered_audit_entry_names_the_first_broken_entry(db: Database) -> None:
    _traffic(db)
    with db.engine.begin() as conn:
        _drop_triggers(conn)
        conn.execute(text("UPDATE audit_log SET actor = 'nobody' WHERE stream = 'orders' AND seq = 2"))
    report = _check(db)
    assert report.broken == [{"stream": "orders", "seq": 2, "id": report.broken[0]["id"],
                              "reason": "hash does not match the entry's content"}]


def test_deleted_entry_is_a_gap(db: Database) -> None:
    _traffic(db)
    with db.engine.begin() as conn:
        _drop_triggers(conn)
        conn.execute(text("DELETE FROM audit_log WHERE stream = 'orders' AND seq = 2"))
    report = _check(db)
    assert report.broken[0]["stream"] == "orders" and report.broken[0]["seq"] == 3
    assert "gap" in report.broken[0]["reason"]


def test_whole_table_rewrite_is_caught_by_the_anchor(db: Database, tmp_path: Path) -> None:
    """An attacker rewrites an entry and recomputes every later hash: the chain is consistent again,
    but the head written to the anchor file no longer matches."""
    _traffic(db)
    anchor = tmp_path / "anchors.jsonl"
    with db.session() as s:
        anchors.write_anchor(s, anchor)
    assert anchor.stat().st_mode & 0o777 == 0o600
    assert _check(db, anchor_file=anchor).ok
    with db.engine.begin() as conn:
        _drop_triggers(conn)
        rows = conn.execute(text("SELECT id, stream, seq, at, actor, action, entity, entity_id, data "
                                 "FROM audit_log WHERE stream = 'orders' ORDER BY seq")).all()
        prev = chain.GENESIS
        for rid, stream, seq, at, actor, action, entity, eid, data in rows:
            if isinstance(at, str):
                at = datetime.fromisoformat(at)
            if seq == 1:
                data = data.replace("王五", "张三")
            h = chain.entry_hash(stream, seq, at, actor, action, entity, eid, data, prev)
            conn.execute(text("UPDATE audit_log SET data = :d, prev_hash = :p, hash = :h WHERE id = :i"),
                         {"d": data, "p": prev, "h": h, "i": rid})
            prev = h
        conn.execute(text("UPDATE work_orders SET caller_name = '张三'"))
    report = _check(db)
    assert report.ok  # the rewrite is consistent in itself ...
    report = _check(db, anchor_file=anchor)
    assert not report.ok  # ... but not with what was anchored outside the database
    assert any(b["stream"] == "orders" and "anchored entry" in b["reason"] for b in report.broken)
    line = json.loads(anchor.read_text().splitlines()[0])
    assert "orders" in line["heads"]


def test_concurrent_writers_keep_one_chain(pg_url: str) -> None:
    """Two threads changing orders at once on PostgreSQL: the stream's lock serialises the appends."""
    import threading

    migrate.upgrade(pg_url)
    db = Database(pg_url)
    svc = Services(WorkOrderSettings(), "Asia/Shanghai", lambda: datetime(2025, 9, 30, 2, 0))
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for i in range(15):
                with db.session() as s:
                    svc.create(s, AGENT, "call", {**FIELDS, "caller_number": f"1390000{k}{i:03d}"}, register=True)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    report = _check(db)
    db.dispose()
    assert report.ok, report.as_dict()
    assert report.streams["orders"]["head_seq"] == report.streams["orders"]["entries"] >= 90


def test_baseline_records_rows_older_than_the_log(db: Database) -> None:
    _traffic(db)
    with db.engine.begin() as conn:
        # a row written before the audit log existed (or by SQL): verify flags it until a baseline is taken
        conn.execute(text("INSERT INTO work_order_counters (day, last) VALUES ('20200101', 3)"))
        conn.execute(text("INSERT INTO kb_articles (title, body, category, status, version, doc_len, created_at, "
                          "updated_at, updated_by) VALUES ('旧文章', '', '', 'draft', 1, 0, :t, :t, 'x')"),
                     {"t": datetime(2020, 1, 1)})
    reasons = [(m["entity"], m["reason"]) for m in _check(db).mismatches]
    assert reasons == [("kb_articles", "row exists but no audit entry")]
    from callcenter.audit.verify import baseline

    with db.session() as s:
        assert baseline(s) == 1
    assert _check(db).ok
    with db.session() as s:
        assert baseline(s) == 0


def test_bulk_update_statements_are_audited(db: Database) -> None:
    """Taking a submission is one UPDATE ... WHERE statement (no ORM object change): still chained."""
    svc = Services(WorkOrderSettings(), "Asia/Shanghai", lambda: datetime(2025, 9, 30, 2, 0))
    with db.session() as s:
        web = svc.create(s, Actor(0, "public", "public"), "online", {"content": "路灯坏了", "contact": "137"})
        number, oid = web.number, web.id
    with db.session() as s:
        s.info["audit_actor"] = "agent1"
        svc.take_submission(s, AGENT, svc.get(s, number))
    with db.session() as s:
        updates = s.scalars(select(AuditEntry).where(AuditEntry.entity == "work_orders",
                                                     AuditEntry.entity_id == str(oid),
                                                     AuditEntry.action == "update")).all()
    assert any(json.loads(e.data).get("agent") == "1001" and e.actor == "agent1" for e in updates)
    assert _check(db).ok


def test_the_web_requests_actor_is_carried_into_the_pool_thread(db: Database) -> None:
    """The web guard sets the signed-in user; Database.run carries it to the thread that changes users."""
    from twisted.internet import defer, reactor

    from callcenter.audit.chain import CURRENT_ACTOR, set_current_actor

    async def request() -> None:
        set_current_actor("admin7")
        await db.run_session(lambda s: auth.create_user(s, "newbie", "agent", "Newbie-pass-2025"))

    # run like a request: a coroutine of its own (its own context), the work in the pool
    done: list[object] = []
    d = defer.ensureDeferred(request())
    d.addBoth(done.append)
    while not done:
        reactor.iterate(0.01)  # type: ignore[attr-defined]
    db.stop_pool()
    assert done == [None], done
    assert CURRENT_ACTOR.get() is None  # the request's context did not leak
    with db.session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.entity == "users")).one()
    assert entry.actor == "admin7"
