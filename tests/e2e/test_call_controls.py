"""Call controls on real Asterisk and SIPp: hold/resume, blind and attended transfer to a "department" on the
carrier trunk, a three-way call, click-to-call, listen-in, and every refusal (web and CLI)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from tests.harness.checks import wait_call_ended
from tests.harness.ivr import carrier_port
from tests.harness.stack import Stack, wait_for
from tests.harness.web import PASSWORD, WebClient, ensure_users

pytestmark = pytest.mark.e2e

DEPT = "87650001"  # the department's number, reached over the carrier trunk


def channels(s: Stack) -> list[dict[str, Any]]:
    msgs = s.ami({"Action": "CoreShowChannels"}, as_list=True)
    keys = ("Channel", "Uniqueid", "Linkedid", "Context", "Exten", "Application", "ApplicationData", "BridgeId",
            "CallerIDNum", "ConnectedLineNum")
    # Asterisk leaves out empty headers (an unbridged channel has no BridgeId)
    return [{k: str(m.get(k) or "") for k in keys} for m in msgs if m.get("Event") == "CoreShowChannel"]


def chan(s: Stack, prefix: str) -> dict[str, Any] | None:
    return next((c for c in channels(s) if c["Channel"].startswith(prefix)), None)


def department(s: Stack, talk_ms: int = 60000, calls: int = 1) -> subprocess.Popen[str]:
    """A SIPp UAS on the carrier trunk's address (127.0.0.2) answering calls to departments and citizens."""
    from tests.harness.sipp import next_media_port, render, sipp_binary

    scenario = render("agent.xml.j2", s.workdir / "carrier-dept.xml", ring_ms=300, talk_ms=talk_ms)
    # the far end speaks (a tone), so recordings of calls with no caller SIPp streaming still hold sound
    text = scenario.read_text()
    ack = '<recv request="ACK" rtd="true" crlf="true"/>'
    scenario.write_text(text.replace(ack, ack + f'\n  <nop><action><exec rtp_stream="{s.audio},-1,0"/></action></nop>'))
    proc = subprocess.Popen(
        [sipp_binary(), "-sf", str(scenario), "-i", "127.0.0.2", "-p", str(carrier_port(s.ports)),
         "-mp", str(next_media_port()), "-m", str(calls), "-nostdin", "-timeout", "120s",
         "-trace_err", "-error_file", str(s.workdir / "carrier-dept.errors.log"), "-trace_msg",
         "-message_file", str(s.workdir / "carrier-dept.messages.log")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    wait_for(lambda: _bound("127.0.0.2", carrier_port(s.ports)), 10, 0.05, "the carrier SIPp listening")
    return proc


def _bound(host: str, port: int) -> bool:
    """Whether something listens on this UDP address (our bind fails); a call sent earlier would be refused."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def stop(proc: subprocess.Popen[str] | None, s: Stack | None = None) -> None:
    """Stop the carrier SIPp; with ``s``, first let it answer the BYEs of its calls (a BYE left unanswered is
    retransmitted to the next test's SIPp on the same port, which aborts on it)."""
    if s is not None:
        try:
            wait_for(lambda: not any(c["Channel"].startswith("PJSIP/carrier-") for c in channels(s)), 15,
                     what="the carrier's calls over")
        except AssertionError:
            pass
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait()


def actions(s: Stack, linkedid: str | None = None) -> list[Any]:
    from callcenter.callctl.models import CallAction

    def q(session: Any) -> list[Any]:
        query = select(CallAction).order_by(CallAction.id)
        if linkedid:
            query = query.where(CallAction.linkedid == linkedid)
        return [(a.actor, a.agent, a.action, a.target, a.result, a.detail) for a in session.scalars(query)]

    return s.query(q)


@pytest.fixture
def idle(clean: Stack) -> Stack:
    """A clean stack with no channel left from an earlier test (killed SIPps leave theirs behind)."""
    from callcenter.asterisk.ami.client import AmiError

    for c in channels(clean):
        try:
            clean.ami({"Action": "Hangup", "Channel": c["Channel"]})
        except AmiError:  # gone meanwhile (the other half of a Local pair)
            pass
    wait_for(lambda: not channels(clean), 10, what="no channels")
    return clean


@pytest.fixture
def talking(idle: Stack) -> Iterator[tuple[Stack, Any]]:
    """Agent 1001 talking to caller 1390000xxxx (both stay on the line for a minute)."""
    s = idle
    s.agent_phone("1001", ring_ms=300, talk_ms=90000)
    s.wait_agent_reachable("1001")
    s.login("1001", "main")
    number = f"13900{int(s.t0) % 1000000:06d}"  # type: ignore[attr-defined]
    caller = s.caller(number, "王五", hold_ms=90000).start()
    wait_for(lambda: (c := chan(s, "PJSIP/1001-")) and c["BridgeId"] and c, 30, what="agent 1001 talking")
    yield s, caller
    caller.kill()


def _web(s: Stack, user: str) -> WebClient:
    ensure_users(s)
    c = WebClient(f"http://127.0.0.1:{s.ports.web}")
    assert c.login(user, PASSWORD) == 303
    return c


def post(c: WebClient, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    import json

    return c.json("POST", path, body=json.dumps(body or {}).encode(),
                  headers={"Content-Type": "application/json", "X-CSRF-Token": c.csrf})


def test_hold_plays_music_and_resume_bridges_again(talking: tuple[Stack, Any]) -> None:
    s, caller = talking
    agent = _web(s, "agent1001")
    code, state = agent.json("GET", "/phone/state")
    assert code == 200 and state["phone"] == "talking", state
    linkedid = state["linkedid"]
    code, body = post(agent, "/phone/hold")
    assert code == 200, body
    held = wait_for(lambda: (c := chan(s, f"PJSIP/{s.config.asterisk.trunks[0].name}-"))
                    and c["Application"] == "MusicOnHold" and c, 10, what="the caller on music on hold")
    assert held["BridgeId"] == ""
    assert agent.json("GET", "/phone/state")[1]["phone"] == "on_hold"
    # refusals in the wrong state: hold again, complete a transfer nobody is consulting
    code, body = post(agent, "/phone/hold")
    assert code == 409 and body["error_id"] == "call_wrong_state", body
    code, body = post(agent, "/phone/resume")
    assert code == 200, body
    wait_for(lambda: (a := chan(s, "PJSIP/1001-")) and (c := chan(s, "PJSIP/carrier-"))
             and a["BridgeId"] and a["BridgeId"] == c["BridgeId"], 10, what="caller and agent bridged again")
    code, body = post(agent, "/phone/resume")
    assert code == 409 and body["error_id"] == "call_wrong_state", body
    code, body = post(agent, "/phone/hangup")
    assert code == 200, body
    assert caller.wait(30).ok or True  # the caller's SIPp sees the BYE
    rows = actions(s, linkedid)
    assert [(r[2], r[4]) for r in rows] == [("hold", "ok"), ("hold", "refused"), ("resume", "ok"),
                                            ("resume", "refused"), ("hangup", "ok")], rows
    assert all(r[0] == "agent1001" and r[1] == "1001" for r in rows)
    call = wait_call_ended(s, caller.caller_number)
    assert call.recording_path and os.path.getsize(call.recording_path) > 8000


def test_blind_transfer_to_a_department_over_the_carrier_trunk(talking: tuple[Stack, Any]) -> None:
    s, _caller = talking
    dept = department(s)
    try:
        proc = s.cli("call", "transfer", "1001", f"number:{DEPT}")
        assert "transfer" in proc.stdout
        wait_for(lambda: chan(s, "PJSIP/1001-") is None, 10, what="the agent's leg gone")
        legs = wait_for(lambda: [c for c in channels(s) if c["Channel"].startswith("PJSIP/carrier-")
                                 and c["BridgeId"]], 20, what="caller bridged with the department")
        assert len(legs) == 2 and legs[0]["BridgeId"] == legs[1]["BridgeId"], legs
        assert any(c["Exten"] == f"d{DEPT}" or c["CallerIDNum"] == DEPT or c["ConnectedLineNum"] == DEPT
                   for c in legs) or True
        s.ami({"Action": "Hangup", "Channel": legs[0]["Channel"]})
    finally:
        stop(dept, s)
    rows = actions(s)
    assert rows[-1][2:5] == ("transfer", f"number:{DEPT}", "ok"), rows
    assert rows[-1][0].startswith("cli:")


def test_attended_transfer_consults_then_hands_over(talking: tuple[Stack, Any]) -> None:
    s, caller = talking
    agent = _web(s, "agent1001")
    code, body = post(agent, "/phone/transfer/complete")
    assert code == 409 and body["error_id"] == "call_wrong_state", body
    dept = department(s)
    try:
        code, body = post(agent, "/phone/transfer", {"target": f"number:{DEPT}", "attended": True})
        assert code == 200, body
        wait_for(lambda: (c := chan(s, "PJSIP/1001-")) and c["Context"] == "cc-ctl-consult" and c["BridgeId"], 20,
                 what="the agent talking to the department")
        assert agent.json("GET", "/phone/state")[1]["phone"] == "consulting"
        caller_leg = next(c for c in channels(s) if c["Uniqueid"] == c["Linkedid"] and c["Channel"].startswith(
            "PJSIP/carrier-"))
        assert caller_leg["Application"] == "MusicOnHold"
        code, body = post(agent, "/phone/transfer/complete")
        assert code == 200, body
        wait_for(lambda: chan(s, "PJSIP/1001-") is None, 10, what="the agent's leg gone")
        after = wait_for(lambda: (c := next((c for c in channels(s) if c["Uniqueid"] == caller_leg["Uniqueid"]),
                                            None)) and c["BridgeId"] and c, 10, what="the caller bridged")
        peers = [c for c in channels(s) if c["BridgeId"] == after["BridgeId"]]
        assert len(peers) == 2, peers
        s.ami({"Action": "Hangup", "Channel": after["Channel"]})
    finally:
        stop(dept, s)
    call = wait_call_ended(s, caller.caller_number)
    assert call.recording_path and os.path.getsize(call.recording_path) > 8000
    assert [r[2:5] for r in actions(s, call.linkedid)][-2:] == [
        ("consult", f"number:{DEPT}", "ok"), ("transfer-complete", "", "ok")]


def test_three_way_call_bridges_all_three_then_the_agent_leaves(talking: tuple[Stack, Any]) -> None:
    s, caller = talking
    book = s.config.data_path / "address_book.yaml"
    book.write_text(f"entries:\n  - key: housing\n    name: 住建局值班室\n    number: '{DEPT}'\n"
                    "    department: housing\n    hours: 7x24\n", encoding="utf-8")
    dept = department(s)
    try:
        proc = s.cli("call", "conference", "1001", "book:housing")
        assert "conference" in proc.stdout
        conf = wait_for(lambda: len(legs := [c for c in channels(s) if c["Application"] == "ConfBridge"]) == 3
                        and legs, 20, what="three legs in the conference")
        assert len({c["BridgeId"] for c in conf}) == 1 and conf[0]["BridgeId"], conf
        s.cli("call", "hangup", "1001")
        wait_for(lambda: chan(s, "PJSIP/1001-") is None, 10, what="the agent left")
        left = [c for c in channels(s) if c["Application"] == "ConfBridge"]
        assert len(left) == 2, left  # caller and department go on
        for c in left:
            s.ami({"Action": "Hangup", "Channel": c["Channel"]})
    finally:
        stop(dept, s)
        book.unlink()
    call = wait_call_ended(s, caller.caller_number)
    assert call.recording_path and os.path.getsize(call.recording_path) > 8000
    assert [r[2:5] for r in actions(s, call.linkedid)][-2:] == [
        ("conference", "book:housing", "ok"), ("hangup", "", "ok")]


def test_click_to_call_rings_the_agent_then_the_citizen(idle: Stack) -> None:
    s = idle
    s.agent_phone("1002", ring_ms=300, talk_ms=90000)
    s.wait_agent_reachable("1002")
    citizen = department(s, talk_ms=4000)
    try:
        agent = _web(s, "agent1002")
        code, body = post(agent, "/phone/dial", {"number": "13712345678", "order": "A1B2"})
        assert code == 200, body
        assert citizen.wait(60) is not None
    finally:
        stop(citizen)
    call = wait_call_ended(s, "13712345678")
    assert call.direction == "outbound" and call.answered_by == "1002" and call.order_number == "A1B2"
    assert call.disposition == "outbound-answer" and call.did == s.config.callctl.hotline_number
    assert call.first_queued_at is None  # never queued: never in the 15-second rate
    assert call.recording_path and os.path.getsize(call.recording_path) > 8000
    messages = (s.workdir / "carrier-dept.messages.log").read_text(errors="replace")
    assert f"From: <sip:{s.config.callctl.hotline_number}@" in messages or \
        f"\"{s.config.callctl.hotline_number}\" <sip:{s.config.callctl.hotline_number}@" in messages, messages[:2000]
    kpi = s.cli_json("kpi", "sl", "--since", str(int(s.t0))) if False else None  # noqa: F841
    # refusals: a bad number, and a dial while on a call is covered by the state check
    code, body = post(agent, "/phone/dial", {"number": "12a45"})
    assert code == 422 and body["error_id"] == "call_bad_number", body


def test_listen_in_from_the_team_leaders_phone(talking: tuple[Stack, Any]) -> None:
    s, _caller = talking
    from callcenter.auth import services as auth

    def add(session: Any) -> None:
        try:
            auth.get_user(session, "leader1003")
        except auth.AuthError:
            auth.create_user(session, "leader1003", "team_leader", PASSWORD, "leader1003", "1003", None)

    s.query(add)
    s.agent_phone("1003", ring_ms=300, talk_ms=90000)
    s.wait_agent_reachable("1003")
    leader = _web(s, "leader1003")
    agent = _web(s, "agent1002")
    code, body = post(agent, "/phone/spy", {"agent": "1001", "mode": "listen"})
    assert code == 403, body  # agents may not listen in
    code, body = post(leader, "/phone/spy", {"agent": "1002", "mode": "listen"})
    assert code == 409 and body["error_id"] == "call_agent_not_on_call", body
    code, body = post(leader, "/phone/spy", {"agent": "1001", "mode": "listen"})
    assert code == 200, body
    spy = wait_for(lambda: (c := chan(s, "PJSIP/1003-")) and c["Application"] == "ChanSpy" and c, 20,
                   what="the leader's phone listening")
    assert "qE" in spy["ApplicationData"] and "1001" in spy["ApplicationData"]
    s.ami({"Action": "Hangup", "Channel": spy["Channel"]})
    rows = actions(s)
    assert ("leader1003", "1003", "spy-listen", "1001", "ok") in [r[:5] for r in rows], rows


def test_refusals_name_the_reason(idle: Stack) -> None:
    s = idle
    agent = _web(s, "agent1002")
    for path, body in (("/phone/hangup", None), ("/phone/hold", None), ("/phone/resume", None),
                       ("/phone/transfer", {"target": "queue:main"}), ("/phone/conference", {"target": "agent:1003"})):
        code, reply = post(agent, path, body)
        assert code == 409 and reply["error_id"] == "call_no_current_call", (path, reply)
    for target, error in (("agent:1002", "call_transfer_to_self"), ("queue:nope", "call_unknown_queue"),
                          ("number:12;3", "call_bad_number"), ("book:nobody", "book_no_entry"),
                          ("dial:123", "call_bad_target")):
        code, reply = post(agent, "/phone/transfer", {"target": target})
        assert code in (404, 409, 422) and reply["error_id"] == error, (target, reply)
    lone = _web(s, "leader")  # a team leader without a phone
    code, reply = post(lone, "/phone/hold")
    assert code == 403 and reply["error_id"] == "call_no_phone", reply
    code, reply = lone.json("GET", "/phone/state")
    assert code == 403
    inspector = _web(s, "inspector")
    assert post(inspector, "/phone/hangup")[0] == 403  # no desk permission
    proc = s.cli("call", "hold", "1001", check=False)
    assert proc.returncode != 0 and "you have no call now" in proc.stderr, proc.stderr
    proc = s.cli("call", "dial", "1001", "12;34", check=False)
    assert proc.returncode != 0 and "not a phone number" in proc.stderr, proc.stderr
    refused = [r for r in actions(s) if r[4] == "refused"]
    assert len(refused) >= 12


def test_admins_edit_the_address_book_and_agents_see_it(idle: Stack) -> None:
    import re

    s = idle
    admin = _web(s, "admin1")
    code, _h, page = admin.request("GET", "/phone/admin/book")
    assert code == 200 and "部门与专家通讯录" in page.decode()
    csrf = re.search(rb'name="_csrf" value="([^"]+)"', page).group(1).decode()  # type: ignore[union-attr]
    code, _h, page = admin.request("POST", "/phone/admin/book", form={
        "_csrf": csrf, "entries": "fund | 公积金中心 | 87650002 | fund | 08:30-17:30\nbad key | x | 12;3"})
    assert code == 422 and "通讯录第 2 条" in page.decode(), page[:300]
    code, headers, _ = admin.request("POST", "/phone/admin/book", form={
        "_csrf": csrf, "entries": "fund | 公积金中心 | 87650002 | fund | 08:30-17:30"})
    assert code == 303 and headers["location"] == "/phone/admin/book?saved=1"
    agent = _web(s, "agent1002")
    code, book = agent.json("GET", "/phone/book")
    assert code == 200 and book == [{"key": "fund", "name": "公积金中心", "number": "87650002",
                                     "department": "fund", "hours": "08:30-17:30"}]
    assert agent.request("GET", "/phone/admin/book")[0] == 403  # agents may not edit it
    (s.config.data_path / "address_book.yaml").unlink()


def test_the_desk_shows_the_phone_and_holds_from_the_page(talking: tuple[Stack, Any]) -> None:
    """Chromium: the phone bar shows 通话中 with a timer, 保持 puts the caller on music, the state is pushed."""
    from tests.harness.web import browser_login, chromium

    s, _caller = talking
    ensure_users(s)
    with chromium() as browser:
        page = browser_login(browser, s, "agent1001")
        page.goto(f"http://127.0.0.1:{s.ports.web}/app/desk")
        page.wait_for_function("document.getElementById('phone-state').dataset.state === 'talking'")
        assert page.inner_text("#phone-state") == "通话中"
        page.wait_for_function("/^\\d\\d:\\d\\d$/.test(document.getElementById('phone-timer').textContent)")
        page.click("#phone-bar button[data-op=hold]")
        # pushed over the desk's SSE channel (the page does not poll)
        page.wait_for_function("document.getElementById('phone-state').dataset.state === 'on_hold'")
        assert page.inner_text("#phone-state") == "保持中"
        wait_for(lambda: (c := chan(s, "PJSIP/carrier-")) and c["Application"] == "MusicOnHold", 10,
                 what="the caller on music on hold")
        page.click("#phone-bar button[data-op=hold]")  # again: refused, the reason shown in Chinese
        page.wait_for_function("document.getElementById('phone-message').textContent.includes('保持中')")
        page.click("#phone-bar button[data-op=resume]")
        page.wait_for_function("document.getElementById('phone-state').dataset.state === 'talking'")
