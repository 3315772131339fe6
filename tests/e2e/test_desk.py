"""The agent desktop with a real call: SIPp caller through the IVR, SIPp agent, Chromium on the desk.

The screen-pop shows the caller and IVR path, the agent registers the order while talking, dispatches
it, a department returns it, the agent redispatches; the history shows every step. Also: every web
and API route refuses strangers and wrong roles; online submissions and voicemails reach the work list.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from callcenter.store.models import AgentPause, AgentSession
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
    s.agent_phone("1001", ring_ms=3000, talk_ms=30000)
    s.wait_agent_reachable("1001")
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
                      dtmf_first_wait_ms=int(SHORT * 1000) + 1200, hold_ms=40000).start()
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
        assert "category=consultation" in page.inner_text("#pop-tags")
        # the new order is pre-filled from the call
        assert page.input_value("#f-caller_number") == "13912345678"
        assert page.input_value("#f-caller_name") == HTML_NAME
        linkedid = page.input_value("#f-linkedid")
        assert linkedid
        page.wait_for_function("document.getElementById('pop-phase').textContent === '已接通'", timeout=20000)
        assert _live_agent(s, "1001")["state"] == "talking"

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
    wait_for(lambda: ("wrap-up", True) in s.query(lambda db: [(p.reason, p.ended_at is not None) for p in db.scalars(
        select(AgentPause).where(AgentPause.agent == "1001", AgentPause.started_at >= _utc(s.t0)))]),
        10, what="the wrap-up pause recorded and closed")

    # the order: registered, linked to the call, dispatched to the fund centre
    page.click("#saved-order")
    page.wait_for_selector("#order-state")
    assert page.get_attribute("#order-state", "data-state") == "registered"
    assert page.locator("#order-calls li").count() == 1
    page.select_option("#act-dispatch-department", "fund")
    page.click("#act-dispatch-go")
    page.wait_for_selector("#done")
    assert page.get_attribute("#order-state", "data-state") == "dispatched"

    # the department returns it, with a reason
    dept = browser_login(browser, s, "fund1")
    assert dept.url.endswith("/app/orders")
    assert dept.locator(f"#orders-table a:text('{number}')").count() == 1
    dept.click(f"#orders-table a:text('{number}')")
    dept.fill("#act-return-reason", "不属于本中心职责，应由住建局办理")
    dept.click("#act-return-go")
    dept.wait_for_selector("#done")
    assert dept.get_attribute("#order-state", "data-state") == "returned"
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
    assert history == [("create", "", "created"), ("register", "created", "registered"),
                       ("dispatch", "registered", "dispatched"), ("return", "dispatched", "returned"),
                       ("redispatch", "returned", "dispatched")], history
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
    assert code == 403 and b"CSRF" in body
    code, _h, _ = agent.request("POST", "/app/logout", form={})
    assert code == 403

    # five wrong passwords lock the name: then even the right one is refused for a while
    guesser = WebClient(base)
    assert [guesser.login("lockme", "wrong-guess-1") for _ in range(5)] == [401] * 5
    assert guesser.login("lockme") == 401
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
    assert "not accepted" in citizen.inner_text("#submit-error")
    good = tmp_path / "lamp.png"
    good.write_bytes(PNG)
    citizen.set_input_files("input[name=attachments]", str(good))
    citizen.click("#submit-go")
    web_number = citizen.inner_text("#submission-number")
    ctx.close()

    # a platform sends one through the API; bad requests get a 4xx with a reason
    token = api_token(s)
    code, body = s.http("/api/v1/submissions", token=token, method="POST",
                        body={"content": "12345省平台转来：噪音扰民", "contact": "13600006666",
                              "attachments": [{"filename": "a.txt", "data": base64.b64encode(b"note").decode()}]})
    assert code == 201, body
    api_number = body["number"]
    assert s.http("/api/v1/submissions", token=token, method="POST", body={"contact": "1"}) == (
        422, {"error": "content is required"})
    code, body = s.http("/api/v1/submissions", token=token, method="POST", body={"content": "x", "contact": "1",
                                                                               "colour": "red"})
    assert code == 400 and "colour" in body["error"]

    # a voicemail left through the IVR (key 9)
    result = s.caller("13500005555", "留言人", did="12346", dtmf="9", dtmf_first_wait_ms=int(SHORT * 1000) + 1200,
                      hold_ms=int(SHORT * 1000) + 6000).run()
    assert result.ok, result.errors
    wait_for(lambda: s.http(f"/api/v1/orders/{api_number}", token=token)[0] == 200, 5, what="API reads its order")

    page = browser_login(browser, s, "agent1002")
    wait_for(lambda: page.reload() or page.locator("#worklist li.wl-vm").count() >= 1, 30,
             what="the voicemail in the work list")
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
    page.locator("#worklist li.wl-vm").first.locator("button").click()
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
    assert code == 422 and b"at least" in body
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
    # illegal moves are refused with the reason, nothing changes
    code, body = s.http(f"/api/v1/orders/{number}/actions", token=token, method="POST",
                        body={"action": "handle", "result": "x"})
    assert code == 409 and "cannot handle an order that is dispatched" in body["error"]
    code, body = s.http(f"/api/v1/orders/{number}/actions", token=token, method="POST",
                        body={"action": "accept", "state": "closed"})
    assert code == 400 and "unknown fields: state" in body["error"]
    code, body = s.http(f"/api/v1/orders/{number}/actions", token=token, method="POST", body={"action": "fly"})
    assert code == 400 and "unknown action" in body["error"]
    code, body = s.http(f"/api/v1/orders/{number}/actions", token=token, method="POST",
                        body={"action": "accept", "version": 1})
    assert code == 409 and "changed by someone else" in body["error"]
    version = order["version"]
    assert s.http(f"/api/v1/orders/{number}/actions", token=token, method="POST",
                  body={"action": "accept", "version": version})[0] == 200
    code, body = s.http(f"/api/v1/orders/{number}/actions", token=token, method="POST",
                        body={"action": "handle", "result": "已解冻并电话告知市民"})
    assert (code, body["state"]) == (200, "handled")
    code, order = s.http(f"/api/v1/orders/{number}", token=token)
    assert [(e["action"], e["actor"]) for e in order["history"]][-2:] == [("accept", "platform"),
                                                                            ("handle", "platform")]
    assert s.http("/api/v1/kb/search?q=", token=token)[0] == 400
