"""Recording and voicemail access policy (callcenter/desk/media.py) and the access log."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from callcenter.auth.models import AccessLog
from callcenter.auth.services import Actor
from callcenter.desk import media
from callcenter.store import migrate
from callcenter.store.db import Database
from callcenter.store.models import Call, QueueEntry, Recording, Voicemail
from callcenter.workorders.models import WorkOrder, WorkOrderCall

T = datetime(2026, 12, 1, 8, 0)
AGENT_A = Actor(1, "alice", "agent", agent_id="1001")
AGENT_B = Actor(2, "bob", "agent", agent_id="1002")
LEADER = Actor(3, "lead", "team_leader", agent_id="1009")
QC = Actor(4, "qc", "quality_inspector")
DEPT_FUND = Actor(5, "fund", "department", department="fund")
DEPT_WATER = Actor(6, "water", "department", department="water")
ADMIN = Actor(7, "root", "admin")


@pytest.fixture
def db(db_url):  # type: ignore[no-untyped-def]
    url = db_url  # SQLite and PostgreSQL
    migrate.upgrade(url)
    d = Database(url)
    with d.session() as s:
        s.add(Call(linkedid="100.1", started_at=T, answered_by="1001"))  # alice answered
        s.add(Call(linkedid="100.2", started_at=T, answered_by="1009"))  # transferred: bob had a stay
        s.add(QueueEntry(id="q2", linkedid="100.2", uniqueid="100.2", queue="hotline", entered_at=T, agent="1002"))
        s.add(Call(linkedid="100.3", started_at=T, answered_by="1009"))
        for lid in ("100.1", "100.2", "100.3"):
            s.add(Recording(path=f"/rec/{lid}.wav", linkedid=lid, started_at=T))
        order = WorkOrder(number="W1", state="dispatched", source="call", department="fund", agent="1009")
        s.add(order)
        s.flush()
        s.add(WorkOrderCall(order_id=order.id, linkedid="100.3"))
        s.add(Voicemail(id="vm-new", linkedid="200.1", mailbox="1", path="/vm/new", created_at=T, status="new"))
        s.add(Voicemail(id="vm-taken", linkedid="200.2", mailbox="1", path="/vm/taken", created_at=T,
                        status="converted"))
        s.add(WorkOrder(number="W2", state="created", source="voicemail", agent="1002", voicemail_id="vm-taken",
                        department="water"))
    yield d
    d.dispose()


@pytest.mark.parametrize("actor, allowed", [
    (AGENT_A, {"100.1"}),
    (AGENT_B, {"100.2"}),
    (LEADER, {"100.1", "100.2", "100.3"}),
    (QC, {"100.1", "100.2", "100.3"}),
    (ADMIN, {"100.1", "100.2", "100.3"}),
    (DEPT_FUND, {"100.3"}),
    (DEPT_WATER, set()),
    (Actor(8, "api", "api_client"), set()),
])
def test_who_hears_which_recording(db, actor: Actor, allowed: set[str]) -> None:  # type: ignore[no-untyped-def]
    with db.session() as s:
        got = {lid for lid in ("100.1", "100.2", "100.3", "999.9") if media.recording_path(s, actor, lid)}
    assert got == allowed


@pytest.mark.parametrize("actor, allowed", [
    (AGENT_A, {"vm-new"}),  # the intake list: any agent; not bob's taken one
    (AGENT_B, {"vm-new", "vm-taken"}),
    (QC, {"vm-new", "vm-taken"}),
    (DEPT_WATER, {"vm-taken"}),
    (DEPT_FUND, set()),
])
def test_who_hears_which_voicemail(db, actor: Actor, allowed: set[str]) -> None:  # type: ignore[no-untyped-def]
    with db.session() as s:
        got = {v for v in ("vm-new", "vm-taken", "nope") if media.voicemail_path(s, actor, v)}
    assert got == allowed


def test_access_log_rows(db) -> None:  # type: ignore[no-untyped-def]
    with db.session() as s:
        media.log_access(s, QC, "download", "recording", "100.3", "10.1.2.3")
    with db.session() as s:
        row = s.scalar(select(AccessLog))
        assert (row.actor, row.role, row.action, row.object_kind, row.object_id, row.address) == (
            "qc", "quality_inspector", "download", "recording", "100.3", "10.1.2.3")
        assert row.at is not None
