"""Drafts (saved once, never moved to another call), the inbox per role, order search, after-call work."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from callcenter.acd import commands as acd
from callcenter.acw.service import AcwRefused, AfterCallWork
from callcenter.auth.services import Actor
from callcenter.events import AgentCompleted
from callcenter.store import migrate
from callcenter.store.db import Database
from callcenter.workorders import drafts, inbox
from callcenter.workorders import states as st
from callcenter.workorders.search import Query, search
from callcenter.workorders.services import Services
from callcenter.workorders.settings import WorkOrderSettings

AGENT = Actor(1, "agent1", "agent", agent_id="1001")
AGENT2 = Actor(2, "agent2", "agent", agent_id="1002")
FUND = Actor(3, "fund1", "department", department="fund")
HOUSING = Actor(4, "housing1", "department", department="housing")
FIELDS = {"caller_number": "13800001111", "category": "housing.fund", "content": "咨询公积金提取路灯",
          "title": "公积金"}
TOKEN = "a" * 32


@pytest.fixture
def env(db_url: str):  # type: ignore[no-untyped-def]
    migrate.upgrade(db_url)
    db = Database(db_url)
    yield db, Services(WorkOrderSettings(), "Asia/Shanghai")
    db.dispose()


def test_a_draft_belongs_to_its_call_and_saves_once(env: Any) -> None:
    db, svc = env
    with db.session() as s:
        drafts.put(s, AGENT, TOKEN, "call-A", "13800001111", {"content": "半句话"})
    with db.session() as s:
        with pytest.raises(drafts.DraftError) as err:
            drafts.put(s, AGENT, TOKEN, "call-B", "13900002222", {"content": "x"})  # another call's pop
        assert err.value.msg_id == "draft_other_call"
    with db.session() as s, pytest.raises(drafts.DraftNotFound):
        drafts.get(s, AGENT2, TOKEN)  # someone else's draft looks like none
    with db.session() as s:
        [d] = drafts.open_drafts(s, AGENT)
        assert (d.linkedid, d.caller_number, d.fields) == ("call-A", "13800001111", {"content": "半句话"})
        claimed = drafts.claim(s, AGENT, TOKEN)
        assert claimed is not None
        order = svc.create(s, AGENT, "call", FIELDS, linkedid=claimed.linkedid, register=True)
        drafts.saved(claimed, order.number)
        number = order.number
    with db.session() as s:
        assert drafts.claim(s, AGENT, TOKEN) is None  # the second save: the first order, no new one
        assert drafts.get(s, AGENT, TOKEN).order_number == number
        assert drafts.open_drafts(s, AGENT) == []
        with pytest.raises(drafts.DraftError):
            drafts.put(s, AGENT, TOKEN, "call-A", "", {"content": "more"})
    with db.session() as s, pytest.raises(Exception, match="draft token"):
        drafts.put(s, AGENT, "short", "", "", {})


def test_inbox_per_role_clears_when_acted_on(env: Any) -> None:
    db, svc = env
    with db.session() as s:
        o = svc.create(s, AGENT, "call", FIELDS, register=True)
        svc.act(s, AGENT, o, "dispatch", {"department": "fund", "assist_departments": "housing,fund,"})
        number = o.number
        assert o.assist_departments == "housing"  # the lead is not its own assistant
    with db.session() as s:
        assert [x.number for x in inbox.inbox(s, svc, FUND)["to_accept"]] == [number]
        assert inbox.count(inbox.inbox(s, svc, HOUSING)) == 0
        assert inbox.count(inbox.inbox(s, svc, AGENT)) == 0
        svc.act(s, FUND, svc.get(s, number), "return", {"reason": "不属于本单位"})
    with db.session() as s:
        assert inbox.count(inbox.inbox(s, svc, FUND)) == 0
        assert [x.number for x in inbox.inbox(s, svc, AGENT)["returned"]] == [number]
        assert inbox.count(inbox.inbox(s, svc, AGENT2)) == 0  # returned to the agent who registered it


def test_search_combines_criteria_within_what_the_reader_may_see(env: Any) -> None:
    db, svc = env
    with db.session() as s:
        a = svc.create(s, AGENT, "call", FIELDS, register=True)
        svc.act(s, AGENT, a, "dispatch", {"department": "fund"})
        b = svc.create(s, AGENT, "call", {**FIELDS, "caller_number": "13900002222", "content": "噪音扰民 100%"},
                       register=True)
        na, nb = a.number, b.number
    with db.session() as s:
        def find(actor: Actor = AGENT, **kw: Any) -> list[str]:
            return [o.number for o in search(s, actor, Query(**kw))]

        assert find(caller_number="1111") == [na]
        assert find(number=nb[-6:]) == [nb]
        assert find(keyword="噪音") == [nb] and find(keyword="100%") == [nb] and find(keyword="1%0") == []
        assert find(department="fund") == [na] and find(state="registered") == [nb]
        now = datetime.utcnow()
        assert set(find(since=now - timedelta(hours=1), until=now + timedelta(hours=1))) == {na, nb}
        assert find(until=now - timedelta(hours=1)) == []
        assert find(FUND, keyword="咨询") == [na] and find(HOUSING, keyword="咨询") == []


class FakeReactor:
    def __init__(self) -> None:
        self.calls: list[Any] = []

    def callLater(self, delay: float, fn: Any, *args: Any) -> Any:
        call = _Call(delay, fn, args)
        self.calls.append(call)
        return call


class _Call:
    def __init__(self, delay: float, fn: Any, args: Any) -> None:
        self.delay, self.fn, self.args, self.live = delay, fn, args, True

    def active(self) -> bool:
        return self.live

    def cancel(self) -> None:
        self.live = False

    def fire(self) -> None:
        self.live = False
        self.fn(*self.args)


def test_after_call_work_extends_once_and_ends_by_ready_or_timer() -> None:
    sent: list[Any] = []
    pushed: list[dict[str, Any]] = []
    now = [1000.0]
    reactor = FakeReactor()
    acw = AfterCallWork(30, 60, sent.append, lambda agent, p: pushed.append(p), lambda: now[0], reactor)
    done = AgentCompleted(ts=1000.0, queue="main", uniqueid="u", linkedid="L1", agent="1001",
                          interface="PJSIP/1001", hold_s=1, talk_s=30, reason="caller")
    acw.apply(done)
    assert sent == [acd.PauseAgent("1001", "PJSIP/1001", acd.WRAP_UP)]
    assert pushed[-1]["remaining_s"] == 30 and reactor.calls[-1].delay == 30
    # the call's own end ("ready" before the pause lands) does not end it; the confirmed pause then "ready" does
    acw.on_live("agent", {"agent": "1001", "state": "ready", "pause_reason": ""})
    assert "1001" in acw.active
    now[0] = 1010.0
    assert acw.extend("1001").until == 1090.0
    with pytest.raises(AcwRefused):
        acw.extend("1001")
    acw.on_live("agent", {"agent": "1001", "state": "paused", "pause_reason": acd.WRAP_UP})
    acw.on_live("agent", {"agent": "1001", "state": "ready", "pause_reason": ""})
    assert "1001" not in acw.active and pushed[-1] == {"active": False, "agent": "1001", "linkedid": "L1",
                                                       "ended_by": "agent"}
    with pytest.raises(AcwRefused):
        acw.extend("1001")
    # the next call's after-call work runs out: the agent is unpaused
    acw.apply(done)
    reactor.calls[-1].fire()
    assert sent[-1] == acd.UnpauseAgent("1001", "PJSIP/1001") and "1001" not in acw.active
    assert pushed[-1]["ended_by"] == "timeout"
    off = AfterCallWork(0, 60, sent.append, lambda a, p: None, lambda: 0.0, reactor)
    off.apply(done)
    assert off.active == {}


def test_remind_keeps_the_order_where_it_is_and_recall_takes_it_back(env: Any) -> None:
    db, svc = env
    with db.session() as s:
        o = svc.create(s, AGENT, "call", FIELDS, register=True)
        svc.act(s, AGENT, o, "dispatch", {"department": "fund", "assist_departments": "housing"})
        deadline = o.deadline_at
        svc.act(s, AGENT, o, "remind", {"reason": "市民催问"})
        assert (o.state, o.department) == ("dispatched", "fund")
        with pytest.raises(st.Forbidden):
            svc.act(s, FUND, o, "recall", {"reason": "x"})
        svc.act(s, AGENT, o, "recall", {"reason": "交办有误"})
        assert (o.state, o.department, o.assist_departments, o.deadline_at) == ("registered", None, "", deadline)
        assert [e.action for e in svc.history(s, o)][-2:] == ["remind", "recall"]
        assert inbox.count(inbox.inbox(s, svc, FUND)) == 0
