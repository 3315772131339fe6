"""The agent desktop with a real call: SIPp caller through the IVR, SIPp agent, Chromium on the desk.

The screen-pop shows the caller and IVR path, the agent registers the order while talking, dispatches
it, a department returns it, the agent redispatches; the history shows every step. Also: every web
and API route refuses strangers and wrong roles; online submissions and voicemails reach the work list.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from callcenter.store.models import AgentPause, AgentSession, Call
from callcenter.workorders.models import WorkOrder, WorkOrderCall
from tests.harness import ivr
from tests.harness.checks import wait_call_ended
from tests.harness.stack import Stack, wait_for
from tests.harness.web import USERS, WebClient, api_token, browser_login, chromium, ensure_users

pytestmark = pytest.mark.e2e

# A Wednesday morning in Kunming: the IVR's office hours are open.
OPEN = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
SHORT = ivr.prompt_seconds("zh/short")
KB_FIXTURE = Path(__file__).parents[1] / "fixtures" / "kb_corpus.yaml"
# A caller ID with markup: the desk must show it as text, never build elements from it.
HTML_NAME = "<b id=xss>李雷</b>"


@pytest.fixture(scope="module")
def browser(stack: Stack) -> Iterator[Any]:
    ensure_users(stack)
    with chromium() as b:
        yield b


@pytest.fixture
def desk(clean: Stack) -> Iterator[Stack]:
    ensure_users(clean)
    ivr.set_clock(clean, OPEN)
    yield clean
    if clean.daemon is not None and clean.daemon.poll() is None:
        ivr.set_clock(clean, None)


def _live_agent(s: Stack, agent: str) -> dict[str, Any]:
    return s.live()["agents"].get(agent, {"state": "logged_out", "queues": [], "pause_reason": ""})


def test_call_screen_pop_order_dispatch_return_redispatch(desk: Stack, browser: Any) -> None:
    s = desk
    s.cli("kb", "import", str(KB_FIXTURE), "--publish")
    s.agent_phone("1001", ring_ms=3000, talk_ms=20000)
    s.wait_agent_reachable("1001")
    base = f"http://127.0.0.1:{s.ports.web}"
    # the caller has rung before: an abandoned call an hour ago, and an order still open from another day
    earlier_call = f"e2e-earlier-{int(s.t0 * 1000)}"
    s.query(lambda db: db.add(Call(linkedid=earlier_call, started_at=_utc(s.t0 - 3600), ended_at=_utc(s.t0 - 3580),
                                   caller_number="13912345678", did="12345", hotline="12345",
                                   disposition="abandoned")))
    colleague = WebClient(base)
    assert colleague.login("agent1002") == 303
    code, body = colleague.json("POST", "/app/orders", headers={"X-CSRF-Token": colleague.csrf}, form={
        "_csrf": colleague.csrf, "caller_number": "13912345678", "category": "housing.fund",
        "title": "公积金账户余额查询", "content": "市民询问公积金账户余额，要求中心回电。"})
    assert code == 201, body
    earlier = body["number"]

    page = browser_login(browser, s, "agent1001")
    assert page.url.endswith("/app/desk")
    page.wait_for_selector("body[data-stream=open]")
    assert page.inner_text("#agent-state") == "未签入"

    # log in to the queues from the page: the same AMI commands as `callcenter agent login`
    page.click("#btn-login")
    wait_for(lambda: "main" in _live_agent(s, "1001")["queues"], 10, what="agent 1001 in queue main")
    page.wait_for_function("document.getElementById('agent-state').dataset.state === 'ready'")

    # a call through the IVR: menu key 1 (consultation) → queue main → agent 1001
    caller = s.caller("13912345678", HTML_NAME, did="12346", dtmf="1",
                      dtmf_first_wait_ms=int(SHORT * 1000) + 1200, hold_ms=30000).start()
    try:
        page.wait_for_function("document.getElementById('pop-number').textContent === '13912345678'",
                               timeout=40000)
        # the caller's markup is text, not elements
        assert page.inner_text("#pop-name") == HTML_NAME
        assert page.locator("#xss").count() == 0
        assert "e2e" in page.inner_text("#pop-hotline")
        steps = page.locator("#pop-ivr li.ivr-step")
        nodes = [steps.nth(i).get_attribute("data-node") for i in range(steps.count())]
        assert "menu" in nodes and "queue-main" in nodes, nodes
        assert page.locator('#pop-ivr li[data-node="menu"]').inner_text() == "menu → 1"
        # tags in the words the flow files give them (the shipped flows label category/consultation)
        assert "来电类别：咨询" in page.inner_text("#pop-tags")
        # the new order is pre-filled from the call
        assert page.input_value("#f-caller_number") == "13912345678"
        assert page.input_value("#f-caller_name") == HTML_NAME
        linkedid = page.input_value("#f-linkedid")
        assert linkedid
        page.wait_for_function("document.getElementById('pop-phase').textContent === '已接通'", timeout=20000)
        assert _live_agent(s, "1001")["state"] == "talking"
        # the caller's earlier calls and orders; the open order is offered as a possible duplicate
        page.wait_for_selector(f"#pop-orders a:text('{earlier}')")
        assert "放弃" in page.inner_text(f'#pop-calls li[data-linkedid="{earlier_call}"]')
        assert page.is_visible("#dups")
        dup = page.locator(f'#dups-list li[data-number="{earlier}"]')
        # the caller is asking about it again: link this call to it (the order itself is new, below)
        dup.locator("button.link-call").click()
        dup.locator(".linked").wait_for()
        assert dup.inner_text().endswith("已关联本次来电")

        # while talking: search the knowledge base, fill and save the order
        page.fill("#kb-q", "公积金提取")
        page.click("#kb-go")
        page.wait_for_selector("#kb-results li a")
        assert page.locator("#kb-results li a").first.inner_text() == "住房公积金提取条件及办理流程"
        page.select_option("#f-category", "housing.fund")
        page.select_option("#f-district", "五华区")
        page.fill("#f-address", "五华区人民中路1号")
        page.fill("#f-title", "咨询公积金提取")
        page.fill("#f-content", "市民来电咨询购房后如何提取住房公积金，已告知所需材料，市民要求中心核实其账户。")
        page.click("#order-save")
        page.wait_for_selector("#saved-order")
        page.screenshot(path=str(s.workdir / "desk-screen-pop.png"))  # for people looking into a failure
        number = page.inner_text("#saved-order")
        assert re.fullmatch(r"KM\d{8}\d{6}", number), number
    finally:
        result = caller.wait()
    assert result.ok, result.errors
    call = wait_call_ended(s, "13912345678")
    assert call.linkedid == linkedid and call.caller_name == HTML_NAME
    assert ("e2e", "menu", "1") in [(p["flow"], p["node"], p["result"]) for p in call.ivr_path]

    # wrap-up, then ready, from the page: recorded as an agent pause like the CLI's
    page.click("#btn-wrapup")
    wait_for(lambda: _live_agent(s, "1001")["pause_reason"] == "wrap-up", 10, what="wrap-up pause")
    page.wait_for_function("document.getElementById('agent-state').dataset.state === 'paused'")
    page.click("#btn-ready")
    wait_for(lambda: _live_agent(s, "1001")["state"] == "ready", 10, what="agent ready again")
    # a pause with a reason, from the page
    page.select_option("#pause-reason", "meal")
    page.click("#btn-pause")
    wait_for(lambda: _live_agent(s, "1001")["pause_reason"] == "meal", 10, what="paused for a meal")
    page.wait_for_function("document.getElementById('agent-reason').textContent === '(用餐)'")
    page.click("#btn-ready")
    wait_for(lambda: _live_agent(s, "1001")["state"] == "ready", 10, what="agent ready after the meal")
    wait_for(lambda: {("wrap-up", True), ("meal", True)} <= set(s.query(lambda db: [
        (p.reason, p.ended_at is not None) for p in db.scalars(
            select(AgentPause).where(AgentPause.agent == "1001", AgentPause.started_at >= _utc(s.t0)))])),
        10, what="the wrap-up and meal pauses recorded and closed")

    # the order: registered, linked to the call, dispatched to the fund centre
    page.click("#saved-order")
    page.wait_for_selector("#order-state")
    assert page.get_attribute("#order-state", "data-state") == "registered"
    assert page.locator("#order-calls li").count() == 1
    # the call's recording plays from the order
    recording = page.locator(f'#order-calls a[href="/app/calls/{linkedid}/recording"]')
    assert recording.count() == 1
    audio = page.request.get(base + f"/app/calls/{linkedid}/recording")
    assert audio.status == 200 and audio.headers["content-type"].startswith("audio/") and len(audio.body()) > 8000
    # the order from the caller's earlier request is listed as a possible duplicate here too
    assert page.locator(f"#order-dups a:text('{earlier}')").count() == 1
    page.select_option("#act-dispatch-department", "fund")
    page.click("#act-dispatch-go")
    page.wait_for_selector("#done")
    assert page.get_attribute("#order-state", "data-state") == "dispatched"

    # the department returns it, with a reason
    dept = browser_login(browser, s, "fund1")
    assert dept.url.endswith("/app/orders")
    assert dept.locator(f"#orders-table a:text('{number}')").count() == 1
    dept.click(f"#orders-table a:text('{number}')")
    stale = dept.context.new_page()  # the same order in a second tab, still showing "accept"
    stale.goto(dept.url)
    dept.fill("#act-return-reason", "不属于本中心职责，应由住建局办理")
    dept.click("#act-return-go")
    dept.wait_for_selector("#done")
    assert dept.get_attribute("#order-state", "data-state") == "returned"
    # accepting from the stale tab is refused, in Chinese, naming what is possible; nothing changes
    stale.click("#act-accept-go")
    stale.wait_for_selector("#error-message")
    assert stale.inner_text("#error-message") == "工单当前为“已回退”，不能“签收”；现在可以：重新交办"
    # the same refusal in English with ?lang=en (page and JSON), for the same person
    fund = WebClient(base)
    assert fund.login("fund1") == 303
    code, _h, raw = fund.request("POST", f"/app/orders/{number}/act?lang=en", headers={"Accept": "text/html"},
                                 form={"_csrf": fund.csrf, "action": "accept"})
    shown_en = re.search(r'id="error-message">([^<]*)<', raw.decode())
    assert code == 409 and shown_en, raw[:2000]
    assert html.unescape(shown_en.group(1)) == (
        'the order is returned: "Accept" is not possible now; possible: Redispatch')
    code, body = fund.json("POST", f"/app/orders/{number}/act?lang=en", form={"_csrf": fund.csrf, "action": "accept"})
    assert (code, body["error_id"]) == (409, "illegal_transition") and body["error"].startswith("the order is")
    # the department may need to call the citizen back: it sees the number
    assert dept.inner_text("#o-caller-number") == "13912345678"

    # the agent redispatches to housing
    page.reload()
    page.select_option("#act-redispatch-department", "housing")
    page.click("#act-redispatch-go")
    page.wait_for_selector("#done")
    assert page.get_attribute("#order-state", "data-state") == "dispatched"

    # the history shows each step: who, what, from which state to which
    rows = page.locator("#history tr.event")
    history = [(rows.nth(i).get_attribute("data-action"), rows.nth(i).get_attribute("data-from"),
                rows.nth(i).get_attribute("data-to")) for i in range(rows.count())]
    # the SMS receipt sent after registration is on the history too (queued, then sent)
    sms = [h for h in history if h[0] == "sms"]
    assert sms and all(h[1:] == ("registered", "registered") for h in sms), history
    assert [h for h in history if h[0] != "sms"] == [
        ("create", "", "created"), ("register", "created", "registered"), ("dispatch", "registered", "dispatched"),
        ("return", "dispatched", "returned"), ("redispatch", "returned", "dispatched")], history
    page.screenshot(path=str(s.workdir / "order-history.png"), full_page=True)
    text = page.inner_text("#history")
    assert "原因: 不属于本中心职责" in text and "来电编号: " + linkedid in text
    assert "agent1001" in text and "fund1" in text
    assert "市住房公积金管理中心" in text and "市住房和城乡建设局" in text
    assert page.locator("#xss").count() == 0

    # the CLI tells the same story; the department that returned it no longer sees it
    shown = s.cli_json("order", "show", number)
    assert [e["action"] for e in shown["history"]] == [h[0] for h in history]
    assert shown["department"] == "housing" and shown["calls"] == [linkedid]
    dept.goto(f"http://127.0.0.1:{s.ports.web}/app/orders/{number}")
    assert dept.locator("#error-message").count() == 1, dept.content()[:3000]
    stored = s.query(lambda db: db.scalar(select(WorkOrder).where(WorkOrder.number == number)))
    assert stored.deadline_at is not None and stored.dispatched_at is not None
    assert s.query(lambda db: db.scalar(select(WorkOrderCall.linkedid).where(
        WorkOrderCall.order_id == stored.id))) == linkedid
    sessions = s.query(lambda db: list(db.scalars(select(AgentSession).where(AgentSession.agent == "1001"))))
    assert sessions, "logging in from the desk was recorded as an agent session"

    # the earlier order was the same request: merge it into the new one from its page
    page.goto(f"{base}/app/orders/{earlier}")
    assert page.locator("#order-calls li").count() == 1  # the call linked from the screen-pop
    page.click(f"#merge-into-{number}")
    page.wait_for_selector("#done")
    assert page.get_attribute("#order-state", "data-state") == "merged"
    rows = page.locator("#history tr.event")
    actions = [rows.nth(i).get_attribute("data-action") for i in range(rows.count())]
    assert "sms" in actions and [a for a in actions if a != "sms"] == ["create", "register", "link_call", "merge"]
    last = s.cli_json("order", "show", number)["history"][-1]
    assert (last["action"], last["detail"], last["actor"]) == ("merged_from", {"order": earlier}, "agent1001")
    page.context.close()
    dept.context.close()


def _utc(ts: float) -> Any:
    from callcenter.store.models import utc

    return utc(ts)


# ---- every route refuses strangers and wrong roles ------------------------------------------------------

def _routes() -> list[tuple[str, str, str, str]]:
    """(app prefix, method, example path, endpoint) of every route of the three desk apps."""
    from callcenter.desk.api import ApiWeb
    from callcenter.desk.pages import PeopleWeb
    from callcenter.desk.public import PublicWeb

    out = []
    for prefix, cls in (("/app", PeopleWeb), ("/api", ApiWeb), ("/submit", PublicWeb)):
        for rule in cls.app.url_map.iter_rules():
            path = re.sub(r"<int:[^>]+>", "1", rule.rule)
            path = re.sub(r"<path:[^>]+>", "style.css", path)
            path = re.sub(r"<(string:)?[^>]+>", "KM20000101000001", path)
            methods = sorted((rule.methods or {"GET"}) - {"HEAD", "OPTIONS"})
            for method in methods:
                out.append((prefix, method, prefix + path, f"{cls.__name__}.{rule.endpoint}"))
    return out


def test_every_route_refuses_strangers_and_wrong_roles(desk: Stack) -> None:
    from callcenter.auth.roles import Perm, has
    from callcenter.desk.http import PUBLIC, ROUTE_RULES

    s = desk
    base = f"http://127.0.0.1:{s.ports.web}"
    routes = _routes()
    assert len(routes) > 30
    # every route declares what it needs
    for _prefix, method, path, endpoint in routes:
        assert endpoint in ROUTE_RULES, f"{method} {path} ({endpoint}) has no guard"
    public = {(m, p) for pre, m, p, e in routes if ROUTE_RULES[e].perm == PUBLIC}
    assert public == {("GET", "/app/login"), ("POST", "/app/login"), ("GET", "/app/static/"),
                      ("GET", "/app/static/style.css"), ("GET", "/submit/"), ("POST", "/submit/")}, public

    stranger = WebClient(base)
    # no such page or method: refused in Chinese too (JSON under /api)
    code, _h, body = stranger.request("GET", "/app/no-such-page")
    assert code == 404 and "没有这个页面" in body.decode()
    code, _h, body = stranger.request("GET", "/api/v1/nothing")
    assert (code, json.loads(body)["error_id"]) == (404, "page_not_found")
    code, _h, body = stranger.request("DELETE", "/app/orders")
    assert (code, json.loads(body)["error_id"]) == (405, "method_not_allowed")
    for prefix, method, path, endpoint in routes:
        rule = ROUTE_RULES[endpoint]
        if rule.perm == PUBLIC:
            continue
        code, headers, _ = stranger.request(method, path, form={} if method == "POST" else None)
        if prefix == "/api" or method != "GET" or path.endswith(".json"):
            assert code == 401, (method, path, code)
        else:  # a page: to the sign-in form
            assert code == 303 and headers["location"].startswith("/app/login"), (method, path, code)
        # a made-up session cookie or token is a stranger too
        code, _h, _ = stranger.request(method, path, headers={"Cookie": "cc_session=forged",
                                                              "Authorization": "Bearer cc_forged"})
        assert code in (401, 303), (method, path, code)

    # people with a role that lacks the permission get 403 on session routes
    clients: dict[str, WebClient] = {}
    for name, (role, _agent, _dept) in USERS.items():
        if role == "api_client" or name == "lockme":
            continue
        c = WebClient(base)
        assert c.login(name) == 303, name
        clients[role] = c
    checked = 0
    for prefix, method, path, endpoint in routes:
        rule = ROUTE_RULES[endpoint]
        if rule.perm == PUBLIC or prefix != "/app":
            continue
        for role, c in clients.items():
            if has(role, Perm(rule.perm)):
                continue
            form = {"_csrf": c.csrf} if method == "POST" else None
            code, _h, _ = c.request(method, path, form=form, headers={"Accept": "application/json"})
            assert code == 403, (role, method, path, code)
            checked += 1
    assert checked > 40
    # a session is not a token: the API refuses people, and POSTs without the CSRF token are refused
    agent = clients["agent"]
    code, _h, _ = agent.request("GET", "/api/v1/orders")
    assert code == 401
    code, _h, body = agent.request("POST", "/app/orders", form={"content": "x", "category": "other"})
    assert code == 403 and json.loads(body) == {"error": "页面已过期（安全校验未通过），请刷新页面后重试",
                                                "error_id": "csrf"}
    code, _h, _ = agent.request("POST", "/app/logout", form={})
    assert code == 403

    # five wrong passwords lock the name: then even the right one is refused for a while
    guesser = WebClient(base)
    assert [guesser.login("lockme", "wrong-guess-1") for _ in range(5)] == [401] * 5
    assert guesser.login("lockme") == 401
    _c, _h, form = guesser.request("GET", "/app/login")
    token_match = re.search(rb'name="_csrf" value="([^"]+)"', form)
    assert token_match
    code, _h, body = guesser.request("POST", "/app/login", {"_csrf": token_match.group(1).decode(),
                                                           "username": "lockme", "password": "whatever-1"})
    # locked reads exactly like a wrong password (no username enumeration)
    assert code == 401 and "登录失败：用户名或密码错误，或此地址尝试次数过多" in body.decode()
    assert guesser.login("platform", "") == 401  # platforms never sign in with a password

    # platforms: a token of an api_client reaches only the API, and only what its role allows
    token = api_token(s)
    auth = {"Authorization": f"Bearer {token}"}
    for prefix, method, path, endpoint in routes:
        rule = ROUTE_RULES[endpoint]
        if prefix == "/api" and not has("api_client", Perm(rule.perm)):
            code, _h, _ = stranger.request(method, path, headers=auth)
            assert code == 403, (method, path, code)
    code, _h, _ = stranger.request("GET", "/app/orders", headers={**auth, "Accept": "application/json"})
    assert code == 401


# ---- online submissions, the API, the work list, voicemails -------------------------------------------

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


def test_online_submission_api_and_voicemail_reach_the_work_list(desk: Stack, browser: Any, tmp_path: Path) -> None:
    s = desk
    base = f"http://127.0.0.1:{s.ports.web}"
    # an agent's desk is open: what arrives is pushed to its work list, no reload
    page = browser_login(browser, s, "agent1002")
    page.wait_for_selector("body[data-stream=open]")
    # a citizen's web form with an attachment; a disguised executable is refused
    ctx = browser.new_context(locale="zh-CN")
    citizen = ctx.new_page()
    citizen.goto(base + "/submit/")
    bad = tmp_path / "photo.png"
    bad.write_bytes(b"MZ\x90\x00" + bytes(range(256)) * 4)
    citizen.fill("textarea[name=content]", "小区门口路灯坏了一个月，晚上出行不安全。")
    citizen.fill("input[name=contact]", "13700007777")
    citizen.fill("input[name=address]", "盘龙区北京路100号")
    citizen.set_input_files("input[name=attachments]", str(bad))
    citizen.click("#submit-go")
    assert citizen.inner_text("#submit-error").startswith("“photo.png”的文件类型（application/octet-stream）不被接受")
    good = tmp_path / "lamp.png"
    good.write_bytes(PNG)
    citizen.set_input_files("input[name=attachments]", str(good))
    citizen.click("#submit-go")
    web_number = citizen.inner_text("#submission-number")
    ctx.close()
    page.wait_for_selector(f"#worklist li.wl-sub:has-text('{web_number}')")

    # a platform sends one through the API; bad requests get a 4xx with a reason
    token = api_token(s)
    code, body = s.http("/api/v1/submissions", token=token, method="POST",
                        body={"content": "12345省平台转来：噪音扰民", "contact": "13600006666",
                              "attachments": [{"filename": "a.txt", "data": base64.b64encode(b"note").decode()}]})
    assert code == 201, body
    api_number = body["number"]
    assert s.http("/api/v1/submissions", token=token, method="POST", body={"contact": "1"}) == (
        422, {"error": "请提供诉求内容（content）", "error_id": "content_required"})
    assert s.http("/api/v1/submissions", token=token, method="POST", body={"contact": "1"},
                  headers={"Accept-Language": "en"}) == (422, {"error": "content is required",
                                                             "error_id": "content_required"})
    code, body = s.http("/api/v1/submissions", token=token, method="POST", body={"content": "x", "contact": "1",
                                                                               "colour": "red"})
    assert code == 400 and "colour" in body["error"]
    # attachment limits: how many, how big, and the request as a whole (desk.max_body_bytes)
    tiny = {"filename": "a.txt", "data": base64.b64encode(b"note").decode()}
    code, body = s.http("/api/v1/submissions", token=token, method="POST",
                        body={"content": "x", "contact": "1", "attachments": [tiny] * 4})
    assert (code, body) == (422, {"error": "附件最多3个", "error_id": "too_many_attachments"})
    big = {"filename": "big.txt", "data": base64.b64encode(b"a" * (5 * 1024 * 1024 + 1)).decode()}
    code, body = s.http("/api/v1/submissions", token=token, method="POST",
                        body={"content": "x", "contact": "1", "attachments": [big]})
    assert (code, body) == (422, {"error": "“big.txt”超过5MB", "error_id": "attachment_too_big"})
    code, body = s.http("/api/v1/submissions", token=token, method="POST",
                        body={"content": "x", "contact": "1", "attachments": [big] * 3})
    assert (code, body) == (413, {"error": "提交的内容太大", "error_id": "too_large"})

    page.wait_for_selector(f"#worklist li.wl-sub:has-text('{api_number}')")

    # a voicemail left through the IVR (key 9)
    result = s.caller("13500005555", "留言人", did="12346", dtmf="9", dtmf_first_wait_ms=int(SHORT * 1000) + 1200,
                      hold_ms=int(SHORT * 1000) + 6000).run()
    assert result.ok, result.errors
    wait_for(lambda: s.http(f"/api/v1/orders/{api_number}", token=token)[0] == 200, 5, what="API reads its order")
    page.wait_for_selector("#worklist li.wl-vm:has-text('135****5555')", timeout=30000)
    items = page.inner_text("#worklist")
    assert web_number in items and api_number in items
    # take the web submission, complete and register it
    page.locator("#worklist li.wl-sub", has_text=web_number).locator("button").click()
    page.wait_for_selector("#order-state")
    assert page.get_attribute("#order-state", "data-state") == "created"
    assert page.locator("a", has_text="lamp.png").count() == 1
    page.select_option("#edit-form select[name=category]", "public.power")
    page.click("#edit-save")
    page.wait_for_selector("#done")
    page.click("#act-register-go")
    page.wait_for_selector("#done")
    assert page.get_attribute("#order-state", "data-state") == "registered"
    # the voicemail becomes an order linked to its call
    page.goto(base + "/app/desk")
    page.locator("#worklist li.wl-vm", has_text="135****5555").first.locator("button").click()
    page.wait_for_selector("#order-state")
    assert page.get_attribute("#order-state", "data-state") == "created"
    assert page.locator("#order-calls li").count() == 1
    page.context.close()


# ---- editors keep the knowledge base on its pages; admins manage users; English is there too ------------

def test_editor_pages_admin_pages_and_english(desk: Stack, browser: Any) -> None:
    s = desk
    base = f"http://127.0.0.1:{s.ports.web}"
    editor = browser_login(browser, s, "leader")
    editor.goto(base + "/app/kb/new")
    editor.fill("#kb-edit-form input[name=title]", "新能源汽车充电桩安装咨询")
    editor.fill("#kb-edit-form textarea[name=body]", "业主在小区自有车位安装充电桩，需向物业提出申请并由供电公司勘查。")
    editor.select_option("#kb-edit-form select[name=category]", "public.power")
    editor.click("#kb-edit-form button[type=submit]")
    editor.wait_for_selector("#kb-title")
    article_url = editor.url
    # a draft: agents do not find it yet
    agent = WebClient(base)
    assert agent.login("agent1002") == 303
    code, hits = agent.json("GET", "/app/kb/search.json?q=" + quote("充电桩安装"))
    assert code == 200 and hits == []
    editor.click("#kb-publish")
    editor.wait_for_selector("#kb-unpublish")
    code, hits = agent.json("GET", "/app/kb/search.json?q=" + quote("充电桩安装"))
    assert [h["title"] for h in hits][:1] == ["新能源汽车充电桩安装咨询"]
    # an edit is a new version; the old text stays in the versions
    editor.goto(article_url + "/edit")
    editor.fill("#kb-edit-form textarea[name=body]", "充电桩安装需物业同意，并向供电公司报装。")
    editor.fill("#kb-edit-form input[name=note]", "更新报装流程")
    editor.click("#kb-edit-form button[type=submit]")
    editor.wait_for_selector("#kb-title")
    assert "向供电公司报装" in editor.inner_text("#kb-body")
    versions = editor.inner_text("table")
    assert "更新报装流程" in versions and "leader" in versions
    # agents cannot edit
    code, _h, _b = agent.request("GET", article_url.replace(base, "") + "/edit")
    assert code == 403

    def found() -> bool:
        code, hits = agent.json("GET", "/app/kb/search.json?q=" + quote("充电桩安装"))
        assert code == 200
        return "新能源汽车充电桩安装咨询" in [h["title"] for h in hits]

    # unpublished, agents no longer find it; published again, they do
    editor.goto(article_url)
    editor.click("#kb-unpublish")
    editor.wait_for_selector("#kb-publish")
    assert not found()
    editor.click("#kb-publish")
    editor.wait_for_selector("#kb-unpublish")
    assert found()
    # validity dates: expired yesterday (the hotline's date), it is not offered any more
    yesterday = (datetime.now(ZoneInfo(s.config.timezone)).date() - timedelta(days=1)).isoformat()
    editor.goto(article_url + "/edit")
    editor.fill("#kb-edit-form input[name=valid_until]", yesterday)
    editor.fill("#kb-edit-form input[name=note]", "政策到期")
    editor.click("#kb-edit-form button[type=submit]")
    editor.wait_for_selector("#kb-title")
    assert not found()
    # editors' other tool: the CLI extends it, and the versions tell who did what
    article_id = article_url.rsplit("/", 1)[1]
    s.cli("kb", "edit", article_id, "--valid-until", "", "--note", "政策延续", "--by", "leader")
    assert found()
    shown = s.cli_json("kb", "show", article_id)
    assert shown["valid_until"] is None and shown["status"] == "published"
    assert [(v["note"], v["changed_by"]) for v in shown["versions"]][:3] == [
        ("政策延续", "leader"), ("政策到期", "leader"), ("published", "leader")]
    editor.reload()
    versions = editor.inner_text("table")  # the services' own notes in the reader's language
    assert "政策延续" in versions and "发布" in versions and "新建" in versions and "published" not in versions
    editor.context.close()

    # an admin adds a user on the page; the new user signs in; a weak password is refused with a reason
    admin = WebClient(base)
    assert admin.login("admin1") == 303
    code, _h, _b = admin.request("POST", "/app/admin/users", form={
        "_csrf": admin.csrf, "username": "newagent", "role": "agent", "display_name": "新坐席",
        "agent_id": "1003", "password": "Brand-New-Pass-1"})
    assert code == 303
    assert WebClient(base).login("newagent", "Brand-New-Pass-1") == 303
    code, _h, body = admin.request("POST", "/app/admin/users", headers={"Accept": "application/json"}, form={
        "_csrf": admin.csrf, "username": "weak", "role": "agent", "password": "123"})
    assert code == 422 and json.loads(body)["error"] == "密码至少需要8个字符"
    users = s.cli_json("user", "list")
    assert {"username": "newagent", "role": "agent", "agent_id": "1003"}.items() <= next(
        u for u in users if u["username"] == "newagent").items()

    # English on request, remembered in a cookie
    code, _h, page = agent.request("GET", "/app/desk?lang=en")
    assert code == 200 and b"Agent desk" in page and "坐席工作台".encode() not in page
    code, _h, page = agent.request("GET", "/app/orders")
    assert b"Work orders" in page


def test_platform_moves_its_departments_orders_through_the_api(desk: Stack) -> None:
    s = desk
    base = f"http://127.0.0.1:{s.ports.web}"
    agent = WebClient(base)
    assert agent.login("agent1001") == 303
    code, body = agent.json("POST", "/app/orders", form={
        "_csrf": agent.csrf, "caller_number": "13300003333", "category": "housing.fund", "content": "公积金账户冻结"},
        headers={"X-CSRF-Token": agent.csrf})
    assert code == 201, body
    number = body["number"]
    token = api_token(s)  # the platform acts for the fund centre
    # not dispatched yet: invisible to the department's platform
    assert s.http(f"/api/v1/orders/{number}", token=token)[0] == 404
    code, body = agent.json("POST", f"/app/orders/{number}/act", form={"action": "dispatch", "department": "fund"},
                            headers={"X-CSRF-Token": agent.csrf})
    assert (code, body["state"]) == (200, "dispatched"), body
    code, order = s.http(f"/api/v1/orders/{number}", token=token)
    assert code == 200 and order["state"] == "dispatched" and order["department"] == "fund"
    # illegal moves are refused with the reason (Chinese by default, English on request), nothing changes
    act = f"/api/v1/orders/{number}/actions"
    code, body = s.http(act, token=token, method="POST", body={"action": "handle", "result": "x"})
    assert (code, body) == (409, {"error": "工单当前为“已交办”，不能“办复”；现在可以：签收、回退、撤回、催办",
                                  "error_id": "illegal_transition"})
    code, body = s.http(act, token=token, method="POST", body={"action": "handle", "result": "x"},
                        headers={"Accept-Language": "en-US,en;q=0.9"})
    assert body["error"] == ('the order is dispatched: "Report handled" is not possible now; '
                             'possible: Accept, Return, Recall, Remind')
    code, body = s.http(act, token=token, method="POST", body={"action": "accept", "state": "closed"})
    assert (code, body["error_id"]) == (400, "unknown_fields") and body["error"].startswith("未知字段：state")
    code, body = s.http(act, token=token, method="POST", body={"action": "fly"})
    assert (code, body["error_id"]) == (400, "unknown_action") and "“fly”" in body["error"]
    code, body = s.http(act, token=token, method="POST", body={"action": "accept", "version": 1})
    assert (code, body["error_id"]) == (409, "order_changed") and "已被他人修改" in body["error"]
    version = order["version"]
    assert s.http(act, token=token, method="POST", body={"action": "accept", "version": version})[0] == 200
    code, body = s.http(act, token=token, method="POST", body={"action": "handle", "result": "已解冻并电话告知市民"})
    assert (code, body["state"]) == (200, "handled")
    code, order = s.http(f"/api/v1/orders/{number}", token=token)
    assert [(e["action"], e["actor"]) for e in order["history"]][-2:] == [("accept", "platform"),
                                                                            ("handle", "platform")]
    assert s.http("/api/v1/kb/search?q=", token=token)[0] == 400

    # the rest of the lifecycle from the desk: review, follow-up visit, archive (team leader)
    def move(client: WebClient, n: str, action: str, **args: str) -> str:
        code, body = client.json("POST", f"/app/orders/{n}/act", form={"action": action, **args},
                                 headers={"X-CSRF-Token": client.csrf})
        assert code == 200, (action, body)
        return str(body["state"])

    leader = WebClient(base)
    assert leader.login("leader") == 303
    assert move(agent, number, "review") == "follow_up"
    assert move(agent, number, "follow_up", satisfaction="satisfied") == "closed"
    code, body = agent.json("POST", f"/app/orders/{number}/act", form={"action": "archive"},
                            headers={"X-CSRF-Token": agent.csrf})
    assert (code, body["error_id"]) == (403, "role_may_not_act")
    assert body["error"] == "“话务员”不能“归档”，只有管理员、班长可以"
    assert move(leader, number, "archive") == "archived"

    def new_order(**fields: str) -> str:
        code, body = agent.json("POST", "/app/orders", headers={"X-CSRF-Token": agent.csrf}, form={
            "_csrf": agent.csrf, "caller_number": "13300004444", "category": "public.water", "content": "停水咨询",
            **fields})
        assert code == 201, body
        return str(body["number"])

    # front-desk handling: closed on the spot, and coordinated then closed
    quick, coordinated = new_order(), new_order(address="西山区滇池路1号")
    assert move(agent, quick, "close_immediately", result="已告知恢复供水时间") == "closed"
    assert move(agent, coordinated, "coordinate") == "coordinating"
    assert move(agent, coordinated, "close_coordinated", result="协调自来水公司后答复") == "closed"
    # deadlines: one order past its limit, one near it (their limits moved, as days passing would)
    late, soon = new_order(address="官渡区关上1号"), new_order(address="五华区翠湖1号")
    assert move(agent, late, "coordinate") == "coordinating"
    assert move(agent, soon, "dispatch", department="utilities") == "dispatched"
    now = datetime.now(UTC).replace(tzinfo=None)  # naive UTC, like the database

    def set_deadlines(db: Any) -> None:
        for n, at in ((late, now - timedelta(hours=1)), (soon, now + timedelta(hours=1))):
            db.scalar(select(WorkOrder).where(WorkOrder.number == n)).deadline_at = at

    s.query(set_deadlines)
    code, rows = agent.json("GET", "/app/orders?due=flagged")
    assert code == 200 and {r["number"]: r["due"] for r in rows if r["number"] in (late, soon)} == {
        late: "overdue", soon: "due_soon"}
    code, _h, raw = agent.request("GET", "/app/orders?due=flagged")
    page = raw.decode()
    row = r"</a>(?:(?!</tr>).)*?"  # from an order's number to the end of its row
    assert re.search(late + row + '"flag flag-overdue">超期<', page, re.S)
    assert re.search(soon + row + '"flag flag-due_soon">临期<', page, re.S)
    flagged = {r["number"]: r["due"] for r in s.cli_json("order", "list", "--due", "flagged")}
    assert flagged[late] == "overdue" and flagged[soon] == "due_soon"

    # the team leader's view: the on-time closure figure the CLI gives, and the flagged orders
    today = datetime.now(ZoneInfo(s.config.timezone)).date()
    code, view = leader.json("GET", f"/app/supervisor?since={today}&until={today}")
    assert code == 200, view
    kpi = {k["window"]: k for k in view["kpi"]}
    cli = s.cli_json("order", "kpi", "--since", today.isoformat(), "--until", (today + timedelta(days=1)).isoformat())
    assert {k: kpi["range"][k] for k in ("orders", "closed_on_time", "rate", "modes")} == cli
    assert kpi["today"]["orders"] == kpi["range"]["orders"] >= 3 and kpi["range"]["closed_on_time"] >= 2
    assert {o["number"]: o["due"] for o in view["flagged"]}.items() >= {late: "overdue", soon: "due_soon"}.items()
    code, _h, raw = leader.request("GET", "/app/supervisor")
    page = raw.decode()
    assert code == 200 and "前台按时办结率" in page and f'data-number="{late}"' in page
    assert re.search(r'data-window="today">.*?class="rate">(\d+\.\d\d%|-)<', page, re.S)
    assert agent.request("GET", "/app/supervisor")[0] == 403
