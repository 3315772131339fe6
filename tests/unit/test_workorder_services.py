"""Work-order services on a real database: history of every change, deadlines, duplicates, merge,
visibility by role, the work list (voicemails, submissions), the front-desk on-time KPI."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from callcenter.auth.services import Actor
from callcenter.calendars import WorkingDays
from callcenter.store import migrate
from callcenter.store.db import Database
from callcenter.store.models import Voicemail
from callcenter.workorders import states as st
from callcenter.workorders.services import Conflict, NotFound, Services
from callcenter.workorders.settings import WorkOrderSettings

AGENT = Actor(1, "agent1", "agent", agent_id="1001")
AGENT2 = Actor(2, "agent2", "agent", agent_id="1002")
FUND = Actor(3, "fund1", "department", department="fund")
HOUSING = Actor(4, "housing1", "department", department="housing")
INSPECTOR = Actor(5, "qc", "quality_inspector")
LEADER = Actor(6, "lead", "team_leader")
FIELDS = {"caller_number": "13800001111", "caller_name": "王五", "district": "五华区", "address": "人民中路1号",
          "category": "housing.fund", "content": "咨询公积金提取", "title": "公积金提取"}


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@pytest.fixture
def env(db_url: str):  # type: ignore[no-untyped-def]
    migrate.upgrade(db_url)
    db = Database(db_url)
    # Tue 2025-09-30 02:00 UTC = 10:00 in Kunming, the day before the National Day holiday
    clock = Clock(datetime(2025, 9, 30, 2, 0))
    # 2025's National Day holiday (the shipped calendar is 2026's: see test_calendars)
    days = WorkingDays("test", "Asia/Shanghai", frozenset(range(5)), frozenset(date(2025, 10, d) for d in range(1, 9)),
                       frozenset())
    yield db, Services(WorkOrderSettings(), "Asia/Shanghai", clock, lambda: days), clock
    db.dispose()


def test_call_order_lifecycle_with_full_history(env) -> None:  # type: ignore[no-untyped-def]
    db, svc, clock = env
    with db.session() as s:
        o = svc.create(s, AGENT, "call", FIELDS, linkedid="1759200000.1", register=True)
        number = o.number
        assert number == "KM20250930000001"
        assert o.state == "registered" and o.agent == "1001"
    with db.session() as s:
        o = svc.get(s, number)
        clock.advance(minutes=5)
        svc.act(s, AGENT, o, "dispatch", {"department": "fund"})
        # 5 working days from Tuesday 30 Sep, skipping Oct 1-8: Oct 9, 10, 11(Sat, no make-up here)... → Oct 15
        assert o.deadline_at == datetime(2025, 10, 15, 2, 5)
    with db.session() as s:
        o = svc.get(s, number)
        with pytest.raises(st.Forbidden):
            svc.act(s, HOUSING, o, "accept", {})
        with pytest.raises(st.MissingField):
            svc.act(s, FUND, o, "return", {"reason": " "})
        clock.advance(hours=1)
        svc.act(s, FUND, o, "return", {"reason": "不属于本中心"})
    with db.session() as s:
        o = svc.get(s, number)
        svc.act(s, AGENT, o, "redispatch", {"department": "housing"})
        # the department's clock is not restarted by a return
        assert o.deadline_at == datetime(2025, 10, 15, 2, 5)
        svc.act(s, HOUSING, o, "accept", {})
        svc.act(s, HOUSING, o, "handle", {"result": "已核实并答复"})
        svc.act(s, AGENT, o, "review", {})
        svc.act(s, AGENT, o, "follow_up", {"satisfaction": "satisfied"})
        assert o.state == "closed" and o.closed_on_time is True
        with pytest.raises(st.Forbidden):
            svc.act(s, AGENT, o, "archive", {})
        svc.act(s, LEADER, o, "archive", {})
        with pytest.raises(st.IllegalTransition, match="archived"):
            svc.act(s, LEADER, o, "dispatch", {"department": "fund"})
    with db.session() as s:
        o = svc.get(s, number)
        events = svc.history(s, o)
        steps = [(e.action, e.from_state, e.to_state, e.actor) for e in events]
        assert steps == [
            ("create", None, "created", "agent1"), ("register", "created", "registered", "agent1"),
            ("dispatch", "registered", "dispatched", "agent1"), ("return", "dispatched", "returned", "fund1"),
            ("redispatch", "returned", "dispatched", "agent1"), ("accept", "dispatched", "accepted", "housing1"),
            ("handle", "accepted", "handled", "housing1"), ("review", "handled", "follow_up", "agent1"),
            ("follow_up", "follow_up", "closed", "agent1"), ("archive", "closed", "archived", "lead"),
        ]
        assert events[3].detail == {"reason": "不属于本中心"}
        assert events[4].detail == {"department": "housing", "previous_department": "fund"}
        assert [c["linkedid"] for c in svc.calls_of(s, o)] == ["1759200000.1"]


def test_edit_records_each_change_and_stale_versions_are_refused(env) -> None:  # type: ignore[no-untyped-def]
    db, svc, _clock = env
    with db.session() as s:
        o = svc.create(s, AGENT, "call", {"caller_number": "1", "content": "a"})
        version = o.version
    with db.session() as s:
        o = svc.get(s, o.number)
        changes = svc.edit(s, AGENT, o, {"content": "b", "category": "other"}, expected_version=version)
        assert changes == {"content": ["a", "b"], "category": ["", "other"]}
        with pytest.raises(Conflict):
            svc.edit(s, AGENT, o, {"content": "c"}, expected_version=version)
        with pytest.raises(st.WorkOrderError, match="unknown category"):
            svc.edit(s, AGENT, o, {"category": "nope"})
        with pytest.raises(st.WorkOrderError, match="unknown field"):
            svc.edit(s, AGENT, o, {"state": "closed"})
        assert svc.history(s, o)[-1].detail == {"changes": {"content": ["a", "b"], "category": ["", "other"]}}
        svc.act(s, AGENT, o, "register", {})
        svc.act(s, AGENT, o, "dispatch", {"department": "fund"})
        with pytest.raises(st.IllegalTransition):
            svc.edit(s, AGENT, o, {"content": "changed after dispatch"})


def test_register_needs_category_and_content(env) -> None:  # type: ignore[no-untyped-def]
    db, svc, _clock = env
    with db.session() as s:
        o = svc.create(s, AGENT, "call", {"caller_number": "1"})
        with pytest.raises(st.MissingField):
            svc.act(s, AGENT, o, "register", {})
        assert o.state == "created"


def test_front_desk_modes_deadlines_and_on_time_kpi(env) -> None:  # type: ignore[no-untyped-def]
    db, svc, clock = env
    with db.session() as s:
        quick = svc.create(s, AGENT, "call", FIELDS, register=True)
        clock.advance(minutes=30)
        svc.act(s, AGENT, quick, "close_immediately", {"result": "已当场答复"})
        assert quick.handling_mode == "immediate" and quick.closed_on_time is True
        assert quick.closed_at == clock.now
        slow = svc.create(s, AGENT, "call", {**FIELDS, "caller_number": "2"}, register=True)
        svc.act(s, AGENT, slow, "coordinate", {})
        # 1 working day from Tuesday 30 Sep over the holiday: Thursday 9 Oct, same clock time
        assert slow.deadline_at == datetime(2025, 10, 9, 2, 30)
        assert svc.due(slow) == "on_time"
        clock.now = datetime(2025, 10, 8, 23, 0)
        assert svc.due(slow) == "due_soon"
        assert [o.number for o in svc.list_orders(s, AGENT, due="due_soon")] == [slow.number]
        clock.now = datetime(2025, 10, 9, 3, 0)
        assert svc.due(slow) == "overdue"
        assert [o.number for o in svc.list_orders(s, AGENT, due="overdue")] == [slow.number]
        svc.act(s, AGENT, slow, "close_coordinated", {"result": "协调后答复"})
        assert slow.closed_on_time is False
        assert svc.due(slow) == "none"
        kpi = svc.front_desk_on_time(s, None, None)
        assert kpi == {"orders": 2, "closed_on_time": 1, "rate": 50.0,
                       "modes": {"immediate": {"orders": 1, "closed_on_time": 1},
                                 "coordinated": {"orders": 1, "closed_on_time": 0}}}


def test_duplicates_and_merge(env) -> None:  # type: ignore[no-untyped-def]
    db, svc, clock = env
    with db.session() as s:
        first = svc.create(s, AGENT, "call", FIELDS, linkedid="L1", register=True)
        same_address = svc.create(s, AGENT, "online", {**FIELDS, "caller_number": "13999999999"})
        other = svc.create(s, AGENT, "call", {**FIELDS, "caller_number": "1", "address": "别处"})
        dups = svc.duplicates(s, "13800001111", "人民中路1号", "housing.fund")
        assert {o.number for o in dups} == {first.number, same_address.number}
        assert other.number not in {o.number for o in dups}
        again = svc.create(s, AGENT, "call", FIELDS, linkedid="L2", register=True)
        assert first.number in {o.number for o in svc.duplicates(s, again.caller_number, "", "", exclude=again.id)}
        svc.act(s, AGENT, again, "merge", {"target": first.number})
        assert again.state == "merged" and again.merged_into == first.number
        assert [c["linkedid"] for c in svc.calls_of(s, first)] == ["L1", "L2"]
        assert svc.history(s, first)[-1].action == "merged_from"
        # merged orders are not duplicates any more; outside the window neither
        assert again.number not in {o.number for o in svc.duplicates(s, "13800001111", "", "")}
        clock.advance(days=31)
        assert svc.duplicates(s, "13800001111", "", "") == []


def test_visibility_by_role(env) -> None:  # type: ignore[no-untyped-def]
    db, svc, _clock = env
    with db.session() as s:
        o = svc.create(s, AGENT, "call", FIELDS, register=True)
        svc.act(s, AGENT, o, "dispatch", {"department": "fund"})
        assert svc.get_for(s, INSPECTOR, o.number).id == o.id
        assert svc.get_for(s, FUND, o.number).id == o.id
        with pytest.raises(NotFound):
            svc.get_for(s, HOUSING, o.number)
        assert [x.number for x in svc.list_orders(s, FUND)] == [o.number]
        assert svc.list_orders(s, HOUSING) == []
        with pytest.raises(st.Forbidden):
            svc.create(s, INSPECTOR, "call", FIELDS)


def test_work_list_voicemail_and_submission(env) -> None:  # type: ignore[no-untyped-def]
    db, svc, clock = env
    with db.session() as s:
        s.add(Voicemail(id="vm1", linkedid="L9", mailbox="12345", path="/tmp/x.wav", created_at=clock.now,
                        caller_number="13700000000", caller_name="留言", hotline="12345", reason="after-hours"))
        web = svc.create(s, Actor(0, "public", "public"), "online", {"content": "路灯坏了", "contact": "137"})
        assert web.agent is None
    with db.session() as s:
        wl = svc.work_list(s)
        assert [o.number for o in wl["submissions"]] == [web.number]
        assert [v.id for v in wl["voicemails"]] == ["vm1"]
        order = svc.take_voicemail(s, AGENT, "vm1")
        assert order.source == "voicemail" and order.caller_number == "13700000000"
        assert [c["linkedid"] for c in svc.calls_of(s, order)] == ["L9"]
        with pytest.raises(Conflict):
            svc.take_voicemail(s, AGENT2, "vm1")
        svc.take_submission(s, AGENT, svc.get(s, web.number))
        with pytest.raises(Conflict):
            svc.take_submission(s, AGENT2, svc.get(s, web.number))
        svc.edit(s, AGENT, order, {"category": "other", "content": "留言内容"})
        svc.act(s, AGENT, order, "register", {})
    with db.session() as s:
        assert s.get(Voicemail, "vm1").status == "converted"
        wl = svc.work_list(s)
        assert wl["submissions"] == [] and wl["voicemails"] == []
        actions = [e.action for e in svc.history(s, svc.get(s, web.number))]
        assert actions == ["create", "take"]
        assert s.scalar(select(Voicemail.status).where(Voicemail.id == "vm1")) == "converted"
