"""The desk's workflow around calls, with real calls (SIPp caller and agent) and a real Chromium.

After-call work: each call ends in a timed ``wrap-up`` pause shown with a countdown, extendable once
(a second extension refused), ended by "ready" or by its timer; recorded as after-call work apart
from breaks. Order drafts: a second call during a half-typed order keeps the draft (listed,
resumable, still the first caller's) and pops a clean form; a double save makes one order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import select

from callcenter.acw.report import pause_time
from callcenter.store.models import AgentPause, Call, utc
from callcenter.workorders.drafts import OrderDraft
from callcenter.workorders.models import WorkOrder, WorkOrderCall
from tests.harness.checks import wait_call_ended
from tests.harness.ivr import prompt_seconds
from tests.harness.stack import Stack, dump, wait_for
from tests.harness.web import WebClient, browser_login, chromium, ensure_users

pytestmark = pytest.mark.e2e

ACW_S, EXTEND_S = 12, 20
CALLER_A, CALLER_B = "13900000001", "13900000002"


@pytest.fixture(scope="module")
def browser(stack: Stack) -> Iterator[Any]:
    ensure_users(stack)
    with chromium() as b:
        yield b


@pytest.fixture
def acw_stack(clean: Stack) -> Iterator[Stack]:
    """The stack's daemon restarted with after-call work on (the harness runs with it off)."""
    ensure_users(clean)
    # drafts other tests of the session left (the input fuzz posts to the draft routes) are not this test's
    from sqlalchemy import delete

    from callcenter.workorders.drafts import OrderDraft

    clean.query(lambda db: db.execute(delete(OrderDraft)))
    path = clean.sandbox.config_file
    original = path.read_text()
    data = yaml.safe_load(original)
    data.setdefault("desk", {})["after_call_work"] = {"seconds": ACW_S, "extend_seconds": EXTEND_S}
    clean.stop_daemon()
    dump(path, data)
    clean.start_daemon()
    try:
        yield clean
    finally:
        clean.stop_daemon()
        path.write_text(original)
        clean.start_daemon()


def _live_agent(s: Stack, agent: str) -> dict[str, Any]:
    return s.live()["agents"].get(agent, {"state": "logged_out", "queues": [], "pause_reason": ""})


def _fetch(page: Any, method: str, url: str) -> dict[str, Any]:
    """A request from the page with its session and CSRF token (what a second click would send)."""
    return page.evaluate("""([method, url]) => {
        const boot = JSON.parse(document.getElementById('boot').textContent);
        const body = method === 'POST' ? new URLSearchParams() : undefined;
        return fetch(url, {method, credentials: 'same-origin', body,
                           headers: {'X-CSRF-Token': boot.csrf, 'Accept': 'application/json'}})
          .then(r => r.json().then(j => ({status: r.status, body: j})));
    }""", [method, url])


def test_after_call_work_and_a_draft_no_call_can_overwrite(acw_stack: Stack, browser: Any) -> None:
    s = acw_stack
    s.agent_phone("1001", ring_ms=1000, talk_ms=60000)
    s.wait_agent_reachable("1001")
    page = browser_login(browser, s, "agent1001")
    page.wait_for_selector("body[data-stream=open]")
    page.click("#btn-login")
    wait_for(lambda: "main" in _live_agent(s, "1001")["queues"], 10, what="agent 1001 in queue main")
    page.wait_for_function("document.getElementById('agent-state').dataset.state === 'ready'")
    assert page.is_hidden("#acw")

    # call A: the agent starts an order and is interrupted (the caller hangs up)
    caller = s.caller(CALLER_A, "张三", did="12345", hold_ms=9000).start()
    try:
        page.wait_for_function(f"document.getElementById('pop-number').textContent === '{CALLER_A}'", timeout=40000)
        linked_a = page.input_value("#f-linkedid")
        assert linked_a and page.input_value("#f-contact") == CALLER_A
        page.fill("#f-title", "路灯不亮")
        page.fill("#f-content", "市民反映小区门口路灯不亮，尚未说完")
        wait_for(lambda: s.query(lambda db: db.scalar(select(OrderDraft.fields).where(
            OrderDraft.linkedid == linked_a))) is not None, 10, what="call A's draft on the server")
    finally:
        assert caller.wait().ok
    wait_call_ended(s, CALLER_A)

    # after-call work starts by itself: wrap-up pause, countdown on the desk
    wait_for(lambda: _live_agent(s, "1001")["pause_reason"] == "wrap-up", 10, what="automatic wrap-up pause")
    page.wait_for_selector("#acw[data-active=true]")
    assert page.get_attribute("#acw", "data-linkedid") == linked_a
    before = int(page.inner_text("#acw-remaining"))
    assert 0 < before <= ACW_S
    page.click("#btn-acw-extend")
    page.wait_for_function(f"parseInt(document.getElementById('acw-remaining').textContent) > {ACW_S}")
    assert page.is_disabled("#btn-acw-extend")
    refused = _fetch(page, "POST", "/app/desk/acw/extend")  # extendable once
    assert refused["status"] == 409 and refused["body"]["error"] == "话后处理只能延长一次", refused
    page.click("#btn-ready")  # "ready" ends it at once
    wait_for(lambda: _live_agent(s, "1001")["state"] == "ready", 10, what="agent ready after after-call work")
    page.wait_for_selector("#acw[data-active=false]", state="attached")
    assert page.is_hidden("#acw")
    refused = _fetch(page, "POST", "/app/desk/acw/extend")
    assert refused["status"] == 409 and refused["body"]["error_id"] == "acw_not_active", refused

    # caller B rang before (an abandoned call an hour ago): the pop lists it with its time
    earlier = f"e2e-acw-earlier-{int(s.t0 * 1000)}"
    s.query(lambda db: db.add(Call(linkedid=earlier, started_at=utc(s.t0 - 3600), ended_at=utc(s.t0 - 3590),
                                   caller_number=CALLER_B, did="12345", hotline="12345", disposition="abandoned")))
    # call B pops a clean form; call A's half-typed order is listed as its draft, still caller A's
    caller = s.caller(CALLER_B, "李四", did="12345", hold_ms=12000).start()
    try:
        page.wait_for_function(f"document.getElementById('pop-number').textContent === '{CALLER_B}'", timeout=40000)
        linked_b = page.input_value("#f-linkedid")
        assert linked_b and linked_b != linked_a
        assert page.input_value("#f-content") == "" and page.input_value("#f-title") == ""
        assert page.input_value("#f-caller_number") == CALLER_B
        draft_a = page.locator(f'#drafts li.draft[data-linkedid="{linked_a}"]')
        draft_a.wait_for()
        assert CALLER_A in draft_a.inner_text() and "路灯不亮" in draft_a.inner_text()
        # the caller's earlier call shows its local time (it showed "Invalid Date")
        shown = page.locator(f'#pop-calls li[data-linkedid="{earlier}"]').inner_text()
        assert re.match(r"\d{4}/\d{1,2}/\d{1,2} \d{1,2}:\d{2}:\d{2} ", shown) and "Invalid" not in shown, shown

        # order B: a complaint, dispatched; the department is suggested from the category, never pre-selected
        page.select_option("#f-category", "housing.fund")
        page.select_option("#f-request_type", "complaint")
        page.fill("#f-title", "公积金提取被拒")
        page.fill("#f-content", "市民投诉公积金提取申请被拒，要求说明理由。")
        page.check("#h-dispatch")
        assert page.input_value("#f-department") == ""
        page.wait_for_selector("#dept-suggest:not([hidden])")
        assert page.inner_text("#dept-suggest-name") == "市住房公积金管理中心"
        page.click("#order-save")  # no lead department: refused, nothing saved
        page.wait_for_selector("#save-result.error")
        assert "承办单位" in page.inner_text("#save-result"), page.inner_text("#save-result")
        assert s.query(lambda db: db.scalar(select(WorkOrderCall.id).where(WorkOrderCall.linkedid == linked_b))) is None
        page.click("#dept-suggest-use")
        assert page.input_value("#f-department") == "fund"
        page.select_option("#f-assist", ["housing"])
        page.fill("#f-note", "请核实拒绝原因并答复市民")
        # saved with a double click: one order
        page.dblclick("#order-save")
        page.wait_for_selector("#saved-order")
        number_b = page.inner_text("#saved-order")
        token_b = page.input_value("#f-draft")
        again = _fetch(page, "POST", f"/app/drafts/{token_b}/order")  # a retry of the same save
        assert again["status"] == 200 and again["body"]["number"] == number_b and again["body"]["existing"], again
    finally:
        assert caller.wait().ok
    orders_b = s.query(lambda db: list(db.scalars(select(WorkOrder.number).join(
        WorkOrderCall, WorkOrderCall.order_id == WorkOrder.id).where(WorkOrderCall.linkedid == linked_b))))
    assert orders_b == [number_b]
    shown = s.cli_json("order", "show", number_b)
    assert (shown["state"], shown["department"]) == ("dispatched", "fund"), shown
    stored_b = s.query(lambda db: db.scalar(select(WorkOrder).where(WorkOrder.number == number_b)))
    assert (stored_b.request_type, stored_b.assist_departments, stored_b.contact) == ("complaint", "housing", CALLER_B)
    dispatch = next(e for e in shown["history"] if e["action"] == "dispatch")
    assert dispatch["detail"]["note"] == "请核实拒绝原因并答复市民", dispatch

    # after call B, after-call work runs out by itself: the agent is ready again without a click
    page.wait_for_selector("#acw[data-active=true]")
    wait_for(lambda: _live_agent(s, "1001")["state"] == "ready", ACW_S + 15, what="after-call work timed out")
    page.wait_for_selector("#acw[data-active=false]", state="attached")

    # resume call A's draft: its own call and caller, whatever call came since
    draft_a.locator("button.draft-resume").click()
    page.wait_for_function("document.getElementById('f-content').value === '市民反映小区门口路灯不亮，尚未说完'")
    assert page.input_value("#f-linkedid") == linked_a
    page.fill("#f-content", "市民反映小区门口路灯不亮，已记录，转城管处理。")
    page.select_option("#f-category", "housing.fund")
    page.check("#h-immediate")  # answered on the phone: 直接办结 with the answer given
    page.fill("#f-answer", "已告知市民路灯报修渠道")
    page.click("#order-save")
    page.wait_for_function("document.getElementById('saved-order')"
                           f" && document.getElementById('saved-order').textContent !== '{number_b}'")
    number_a = page.inner_text("#saved-order")
    stored = s.query(lambda db: db.scalar(select(WorkOrder).where(WorkOrder.number == number_a)))
    assert stored.caller_number == CALLER_A and stored.title == "路灯不亮"
    assert (stored.state, stored.handling_mode, stored.result) == ("closed", "immediate", "已告知市民路灯报修渠道")
    assert s.query(lambda db: list(db.scalars(select(WorkOrderCall.linkedid).where(
        WorkOrderCall.order_id == stored.id)))) == [linked_a]
    page.wait_for_selector("#drafts-empty")

    # recorded as after-call work (reason wrap-up), reported apart from breaks
    since = datetime.fromtimestamp(s.t0, UTC).replace(tzinfo=None)
    now = datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=1)
    wait_for(lambda: all(p.ended_at for p in s.query(lambda db: list(db.scalars(select(AgentPause).where(
        AgentPause.agent == "1001", AgentPause.started_at >= since)))))
        and s.query(lambda db: pause_time(db, since, now, now)), 10, what="the wrap-up pauses closed")
    report = {r["agent"]: r for r in s.query(lambda db: pause_time(db, since, now, now))}
    assert report["1001"]["acw_count"] == 2 and report["1001"]["acw_s"] > 0, report
    assert report["1001"]["break_s"] == 0, report
    page.context.close()


def test_pop_speaks_chinese_and_shows_the_order_a_progress_enquiry_asks_about(clean: Stack, browser: Any) -> None:
    """The shipped 12345 flow (DID 12310): key 3, the receipt's digits, then an agent; the pop names the
    steps and tags with the flow file's labels and shows the order keyed in, with its state and deadline."""
    s = clean
    ensure_users(s)
    base = f"http://127.0.0.1:{s.ports.web}"
    colleague = WebClient(base)
    assert colleague.login("agent1002") == 303
    code, body = colleague.json("POST", "/app/orders", headers={"X-CSRF-Token": colleague.csrf}, form={
        "_csrf": colleague.csrf, "caller_number": "13900000003", "category": "housing.fund",
        "title": "公积金提取进度", "content": "市民申请提取公积金，要求告知进度。"})
    assert code == 201, body
    number = body["number"]
    code, body = colleague.json("POST", f"/app/orders/{number}/act", headers={"X-CSRF-Token": colleague.csrf},
                                form={"_csrf": colleague.csrf, "action": "dispatch", "department": "fund"})
    assert code == 200 and body["state"] == "dispatched", body
    digits = "".join(c for c in number if c.isdigit())

    s.agent_phone("1001", ring_ms=1000, talk_ms=60000)
    s.wait_agent_reachable("1001")
    page = browser_login(browser, s, "agent1001")
    page.wait_for_selector("body[data-stream=open]")
    page.click("#btn-login")
    page.wait_for_function("document.getElementById('agent-state').dataset.state === 'ready'")
    first = int((prompt_seconds("zh/welcome-12345") + prompt_seconds("zh/main-menu")) * 1000) + 1200
    caller = s.caller("13900000003", did="12310", dtmf="3" + digits + "#", audio=False, dtmf_first_wait_ms=first,
                      dtmf_gap_ms=350, hold_ms=12000).start()
    try:
        page.wait_for_function("document.getElementById('pop-number').textContent === '13900000003'", timeout=40000)
        menu = page.locator('#pop-ivr li[data-node="main-menu"]')
        assert menu.inner_text() == "主菜单 → 工单进度查询"
        assert page.locator('#pop-ivr li[data-node="order-tag"]').inner_text() == "进度查询 → 来电类别：进度查询"
        tags = page.inner_text("#pop-tags")
        assert "来电类别：进度查询" in tags and "热线：12345" in tags and f"查询的工单编号：{digits}" in tags, tags
        page.wait_for_selector(f'#pop-asked[data-number="{number}"]')
        asked = page.inner_text("#pop-asked")
        assert "已交办" in asked and "办理时限" in asked and "Invalid" not in asked, asked
        # the caller's earlier order is listed with its state and deadline
        listed = page.locator(f'#pop-orders li[data-number="{number}"]').inner_text()
        assert "已交办" in listed and "办理时限" in listed, listed
    finally:
        assert caller.wait().ok
    page.context.close()


def test_inbox_badge_reaches_the_department_and_clears_when_acted_on(clean: Stack, browser: Any) -> None:
    s = clean
    ensure_users(s)
    base = f"http://127.0.0.1:{s.ports.web}"
    dept = browser_login(browser, s, "fund1")
    dept.wait_for_selector("body[data-inbox=open]")
    dept.wait_for_function("document.getElementById('inbox-count').dataset.count !== ''")
    before = int(dept.get_attribute("#inbox-count", "data-count"))

    agent = WebClient(base)
    assert agent.login("agent1002") == 303
    code, body = agent.json("POST", "/app/orders", headers={"X-CSRF-Token": agent.csrf}, form={
        "_csrf": agent.csrf, "caller_number": "13900000004", "category": "housing.fund",
        "title": "公积金贷款咨询", "content": "市民咨询公积金贷款额度。"})
    assert code == 201, body
    number = body["number"]
    code, body = agent.json("POST", f"/app/orders/{number}/act", headers={"X-CSRF-Token": agent.csrf},
                            form={"_csrf": agent.csrf, "action": "dispatch", "department": "fund"})
    assert code == 200, body
    # pushed: the badge on the department's open page counts the new order without a reload
    dept.wait_for_function(f"document.getElementById('inbox-count').dataset.count === '{before + 1}'")
    assert dept.is_visible("#inbox-count")
    dept.click("#nav-inbox")
    row = dept.locator(f'#inbox-to_accept tr[data-number="{number}"]')
    assert "已交办" in row.inner_text()
    # another department does not see it
    housing = WebClient(base)
    assert housing.login("housing1") == 303
    code, box = housing.json("GET", "/app/inbox.json")
    assert code == 200 and number not in json.dumps(box), box
    # accepting it clears it from the inbox and the badge
    row.locator("a").click()
    dept.click("#act-accept-go")
    dept.wait_for_selector("#done")
    dept.wait_for_function(f"document.getElementById('inbox-count').dataset.count === '{before}'")
    dept.goto(f"{base}/app/inbox")
    assert dept.locator(f'tr[data-number="{number}"]').count() == 0
    # the agent's own inbox: the department returns it, it comes back to the agent who registered it
    dept.goto(f"{base}/app/orders/{number}")
    dept.fill("#act-return-reason", "非本单位职责")
    dept.click("#act-return-go")
    dept.wait_for_selector("#done")
    code, box = agent.json("GET", "/app/inbox.json")
    assert [o["number"] for o in box["sections"]["returned"]] == [number], box

    # 催办 and 撤回: the front desk presses the department, then takes the order back before acceptance
    def act(action: str, **args: str) -> tuple[int, dict[str, Any]]:
        return agent.json("POST", f"/app/orders/{number}/act", headers={"X-CSRF-Token": agent.csrf},
                          form={"_csrf": agent.csrf, "action": action, **args})

    assert act("redispatch", department="fund")[0] == 200
    dept.goto(f"{base}/app/orders")
    dept.wait_for_function(f"document.getElementById('inbox-count').dataset.count === '{before + 1}'")
    code, body = act("remind", reason="市民再次来电催问，请尽快办理")
    assert (code, body["state"]) == (200, "dispatched"), body
    code, body = act("recall", reason="交办单位有误，撤回重新研判")
    assert (code, body["state"]) == (200, "registered"), body
    dept.wait_for_function(f"document.getElementById('inbox-count').dataset.count === '{before}'")
    code, body = act("recall", reason="again")
    assert code == 409 and body["error_id"] == "illegal_transition", body
    shown = s.cli_json("order", "show", number)
    assert shown["department"] is None
    assert [e["action"] for e in shown["history"]][-3:] == ["redispatch", "remind", "recall"]
    assert shown["history"][-2]["detail"]["reason"] == "市民再次来电催问，请尽快办理"
    assert shown["history"][-1]["detail"]["previous_department"] == "fund"

    # order search in the browser: caller's last digits + keyword + department + state + today
    page = browser_login(browser, s, "agent1002")
    page.click("#nav-search")
    page.fill("#s-caller_number", "00000004")
    page.fill("#s-keyword", "贷款额度")
    page.select_option("#s-state", "registered")
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    page.fill("#s-since", today)
    page.fill("#s-until", today)
    page.click("#search-go")
    page.wait_for_selector("#search-results")
    rows = page.locator("#search-results tbody tr[data-number]")
    assert [rows.nth(i).get_attribute("data-number") for i in range(rows.count())] == [number]
    page.select_option("#s-state", "closed")
    page.click("#search-go")
    page.wait_for_selector("#search-none")
    # a department searches its own orders only
    code, found = housing.json("GET", "/app/orders/search?keyword=" + quote("贷款额度"))
    assert code == 200 and found == [], found
    page.context.close()
    dept.context.close()
