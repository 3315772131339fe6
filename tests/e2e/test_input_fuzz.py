"""Hostile input against the live server: every route, malformed and hostile bodies and queries.

Whatever arrives (lone surrogates, NUL, ``"attachments": 5``, JSON nested 100,000 deep, a 5,000-digit
version, an over-long linkedid, AMI frames in a pause reason, a made-up state), the answer is a 4xx
(never a 500), JSON wherever a program asks (never an HTML traceback), and the daemon logs no
traceback. Also: audio routes serve no file outside Asterisk's spool (a voicemail row pointing at a
symlink to the secrets file), and attachment names lose their bidi overrides.
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import select, update

from callcenter.store.models import Voicemail
from callcenter.workorders.models import WorkOrder, WorkOrderAttachment
from tests.harness.stack import Stack, wait_for
from tests.harness.web import WebClient, api_token, ensure_users

pytestmark = pytest.mark.e2e

INJECTION = "x\r\n\r\nAction: Hangup\r\nChannel: /.*/\r\n\r\n"
# Raw JSON texts: what json.dumps would never write.
RAW_BODIES: list[bytes] = [
    b'{"content": "\\ud800", "contact": "1"}',  # a lone surrogate
    b'{"content": "a\\u0000b", "contact": "1", "caller_name": "\\u0000"}',  # NUL (PostgreSQL refuses it)
    b'{"content": "x", "contact": "1", "attachments": 5}',
    b'{"content": "x", "contact": "1", "attachments": [5, null, {"data": 7}]}',
    b'{"content": "x", "contact": "1", "attachments": [{"filename": ["a"], "data": "!!"}]}',
    b"[" * 100_000 + b"]" * 100_000,  # deeper than any parser recurses
    b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
    b'{"action": "accept", "version": ' + b"9" * 5_000 + b"}",
    b'{"action": "accept", "version": 1e400}',
    b'{"action": "accept", "version": NaN}',
    b'{"action": "accept", "version": true}',
    b'{"action": ["accept"], "reason": {"$gt": ""}}',
    b'{"content": NaN, "contact": Infinity}',
    b'{"content": "x", "contact": "1", "district": "\\u706b\\u661f\\u533a"}',
    b'{"content": "' + b"x" * 30_000 + b'", "contact": "1"}',
    b'{"content": "x", "contact": "' + b"1" * 500 + b'"}',
    b'{"now": "soon"}', b'{"now": NaN}', b'{"now": true}', b'{"now": 1e308}',
    b'"just a string"', b"null", b"12", b"[]", b"{", b'{"a": 1,}', b"\xff\xfe\x00\x00", b"",
]
FORMS: list[dict[str, str]] = [
    {"version": "²", "action": "accept"},
    {"version": "9" * 5_000, "content": "x"},
    {"linkedid": "1" * 500, "content": "x", "category": "other"},
    {"linkedid": "a\x00b"},
    {"content": "a\x00b", "caller_name": "\x00", "category": "other"},
    {"title": "t" * 1_000, "content": "x"},
    {"district": "火星区", "content": "x"},
    {"action": "pause", "reason": INJECTION},
    {"action": "pause", "reason": "lunch"},
    {"action": INJECTION, "status": INJECTION, "active": INJECTION},
    {"state": "flying", "due": "tomorrow", "source": "fax", "register": "maybe"},
    {"username": "a\x00", "role": "god", "agent_id": "9" * 100, "department": "nasa", "password": "\x00" * 9},
    {"since": "2026-13-45", "until": "yesterday", "valid_from": "2026-02-30", "valid_until": "\x00"},
    {"q": "\x00" * 50, "caller_number": "\x00", "address": "a" * 10_000},
]
QUERIES = ["state=flying", "state=%00", "due=x&source=%00", "q=%00%00", "q=%ED%A0%80", "since=2026-13-45",
           "caller_number=" + "1" * 500 + "&address=%00", "state=" + "x" * 5_000, "lang=%00", "queue=%00",
           "queue=nosuchqueue", "since=%00", "reset=%00"]


def _routes(number: str) -> list[tuple[str, str, str, str]]:
    """(prefix, method, path, endpoint) of every desk route, with a real order's number."""
    from callcenter.desk.api import ApiWeb
    from callcenter.desk.pages import PeopleWeb
    from callcenter.desk.public import PublicWeb

    out = []
    for prefix, cls in (("/app", PeopleWeb), ("/api", ApiWeb), ("/submit", PublicWeb)):
        for rule in cls.app.url_map.iter_rules():
            path = re.sub(r"<int:[^>]+>", "1", rule.rule)
            path = re.sub(r"<path:[^>]+>", "style.css", path)
            path = re.sub(r"<(string:)?number>", number, path)
            path = re.sub(r"<(string:)?[^>]+>", "no-such-thing", path)
            for method in sorted((rule.methods or {"GET"}) - {"HEAD", "OPTIONS"}):
                out.append((prefix, method, prefix + path, f"{cls.__name__}.{rule.endpoint}"))
    return out


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 2**31, 2**63, -(2**70), 10**30])
    if kind == 3:
        return rng.choice([0.5, -1e300, 1e-300])
    if kind in (4, 5):
        alphabet = "a中\x00\x01\r\n\t\u202e\u2066\ufeff\ud800\udfff'\"<>%/\\$.,;|" + "\U0001f600"
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 80)))
    if kind in (6, 7):
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    keys = ["content", "contact", "district", "attachments", "action", "version", "reason", "linkedid", "state",
            "filename", "data", "now", "q", "title", "category"]
    return {rng.choice(keys): _random_value(rng, depth + 1) for _ in range(rng.randrange(0, 5))}


def _random_bodies(seed: int, n: int) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        value = _random_value(rng)
        if rng.random() < 0.7:
            value = {"content": "x", "contact": "1", **(value if isinstance(value, dict) else {"attachments": value})}
        # surrogatepass: the raw bytes a hostile client can send (json.dumps escapes them as \\udxxx)
        out.append(json.dumps(value, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass"))
    return out


def _check(method: str, path: str, code: int, headers: dict[str, str], body: bytes, wants_json: bool) -> None:
    where = f"{method} {path[:120]} → {code} {body[:300]!r}"
    assert code < 500, where
    assert b"Traceback" not in body and b"twisted.web" not in body, where
    if code >= 400 and wants_json:
        assert headers.get("content-type", "").startswith("application/json"), where
        payload = json.loads(body)
        assert payload["error"], where
        assert payload.get("error_id") or path.startswith(("/ops/", "/ivr/")), where  # ops: plain English


@pytest.fixture
def fuzz(stack: Stack) -> Stack:
    ensure_users(stack)
    return stack


def test_every_route_answers_hostile_input_with_a_json_4xx(fuzz: Stack) -> None:
    s = fuzz
    base = f"http://127.0.0.1:{s.ports.web}"
    log_start = s.daemon_log.stat().st_size if s.daemon_log.exists() else 0
    token = api_token(s)
    code, created = s.http("/api/v1/submissions", token=token, method="POST", body={"content": "fuzz", "contact": "1"})
    assert code == 201, created
    number = created["number"]
    first_id = s.query(lambda db: db.scalar(select(WorkOrder.id).where(WorkOrder.number == number)))

    from callcenter.auth.roles import Perm, has
    from callcenter.desk.http import PUBLIC, ROUTE_RULES

    clients: list[tuple[str, WebClient]] = []
    for name in ("agent1001", "leader", "admin1", "fund1"):
        c = WebClient(base)
        assert c.login(name) == 303, name
        clients.append(({"agent1001": "agent", "leader": "team_leader", "admin1": "admin",
                         "fund1": "department"}[name], c))
    stranger = WebClient(base)
    _c, _h, page = stranger.request("GET", "/submit/")
    anon = re.search(rb'name="_csrf" value="([^"]+)"', page)
    assert anon
    anon_csrf = anon.group(1).decode()

    sent = 0
    routes = _routes(number)
    assert len(routes) > 30
    for prefix, method, path, endpoint in routes:
        if path in ("/app/logout", "/app/login") or path.endswith("/events"):  # the session is needed; sign-in
            continue  # is throttled per address; event streams (/app/events, /app/inbox/events) never end
        rule = ROUTE_RULES[endpoint]
        headers: dict[str, str] = {"Accept": "application/json"}
        if prefix == "/api":
            client, headers["Authorization"] = stranger, f"Bearer {token}"
        elif rule.perm == PUBLIC:
            client = stranger
        else:
            client = next(c for role, c in clients if has(role, Perm(rule.perm)))
            headers["X-CSRF-Token"] = client.csrf
        wants_json = prefix == "/api" or method != "GET" or path.endswith(".json")
        if method == "GET":
            for q in QUERIES:
                for hdrs in (headers, {k: v for k, v in headers.items() if k != "Accept"}):
                    code, h, body = client.request("GET", f"{path}?{q}", headers=hdrs)
                    _check(method, f"{path}?{q}", code, h, body, wants_json and "Accept" in hdrs)
                    sent += 1
            continue
        if path.startswith("/submit"):
            # the public form: throttled per address (30 a minute), so a few, each with the form's token
            for form in FORMS[:6]:
                code, h, body = client.request(method, path, form={**form, "_csrf": anon_csrf})
                _check(method, path, code, h, body, wants_json=False)
                assert code in (422, 429), (form, code, body[:300])
                sent += 1
            continue
        bodies = RAW_BODIES + _random_bodies(zlib.crc32(path.encode()), 25)
        for raw in bodies:
            code, h, body = client.request(method, path, body=raw,
                                           headers={**headers, "Content-Type": "application/json; charset=utf-8"})
            _check(method, path, code, h, body, wants_json)
            sent += 1
        for form in FORMS:
            form = {**form, "_csrf": getattr(client, "csrf", "")}
            code, h, body = client.request(method, path, form=form, headers=headers)
            _check(method, path, code, h, body, wants_json)
            sent += 1
    # the ops and IVR routes (ops token), same rules
    ops = {"Authorization": f"Bearer {s.config.web.ops_token}", "Accept": "application/json"}
    for path in ("/ops/health", "/ops/live", "/ops/kpi/service-level", "/ivr/flows", "/ivr/stats"):
        for q in QUERIES:
            code, h, body = stranger.request("GET", f"{path}?{q}", headers=ops)
            _check("GET", path, code, h, body, wants_json=True)
            sent += 1
    for raw in RAW_BODIES:
        code, h, body = stranger.request("PUT", "/ivr/clock", body=raw,
                                         headers={**ops, "Content-Type": "application/json"})
        _check("PUT", "/ivr/clock", code, h, body, wants_json=True)
        if raw.startswith(b'{"now"'):  # text, NaN, a bool, beyond any date: refused
            assert code == 400, (raw[:80], code, body[:200])
        sent += 1
    assert sent > 1500

    # the shapes the attack found, exactly: JSON 4xx with the reason
    assert s.http("/api/v1/orders?state=flying", token=token)[0] == 422
    code, body = s.http("/api/v1/submissions", token=token, method="POST",
                        body={"content": "x", "contact": "1", "attachments": 5})
    assert (code, body["error_id"]) == (422, "invalid_input") and "attachments" in body["error"]
    agent = clients[0][1]
    code, _h, raw = agent.request("POST", f"/app/orders/{number}/link",
                                  form={"linkedid": "9" * 500, "_csrf": agent.csrf},
                                  headers={"Accept": "application/json"})
    assert code == 422, raw
    # the pause reason reaches AMI only when configured: AMI frames in it are a 422 naming the field
    code, _h, raw = agent.request("POST", "/app/desk/state", form={"action": "pause", "reason": INJECTION,
                                                                   "_csrf": agent.csrf, "lang": "en"},
                                  headers={"Accept": "application/json"})
    body = json.loads(raw)
    assert (code, body["error_id"]) == (422, "invalid_input") and "reason" in body["error"].lower()
    code, _h, raw = agent.request("POST", "/app/desk/state", form={"action": "pause", "reason": "lunch",
                                                                   "_csrf": agent.csrf},
                                  headers={"Accept": "application/json"})
    assert code == 422 and json.loads(raw)["error"].endswith("not a configured pause reason"), raw
    # a configured one passes the check (the agent is not logged in: refused for that reason instead)
    s.logout_everyone()  # whatever an earlier test of the session left logged in
    wait_for(lambda: not any(a["queues"] for a in s.live()["agents"].values()), 10, what="no agent logged in")
    code, _h, raw = agent.request("POST", "/app/desk/state", form={"action": "pause", "reason": "meal",
                                                                   "_csrf": agent.csrf},
                                  headers={"Accept": "application/json"})
    assert (code, json.loads(raw)["error_id"]) == (409, "log_in_first"), raw

    code, _body = s.http("/ivr/clock", method="PUT", body={"now": None})
    assert code == 200
    assert s.http("/ops/health")[0] == 200
    # the orders the fuzz created leave the work list (other tests look for theirs in it)
    s.query(lambda db: db.execute(update(WorkOrder).where(WorkOrder.id >= first_id, WorkOrder.agent.is_(None))
                                  .values(agent="fuzz")))
    log = s.daemon_log.read_bytes()[log_start:].decode("utf-8", "replace")
    assert "Traceback" not in log, log[-3000:]


def test_audio_is_served_only_from_the_spool(fuzz: Stack) -> None:
    s = fuzz
    base = f"http://127.0.0.1:{s.ports.web}"
    spool = Path(s.config.ivr.voicemail_dir)
    inbox = spool / "hotline" / "fuzz" / "INBOX"
    secret = s.config.ami.secret or "unused"
    secrets_file = Path(s.sandbox.secrets_file)
    assert secret in secrets_file.read_text()
    real = inbox / "msg0000.wav"
    forged = inbox / "msg0001.wav"
    old_umask = os.umask(0o077)  # as the product writes its spool (another test checks every mode in it)
    try:
        inbox.mkdir(parents=True, exist_ok=True)
        real.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ")
        if not forged.is_symlink():
            forged.symlink_to(secrets_file)  # what a forged FastAGI client made the daemon record
    finally:
        os.umask(old_umask)
    now = datetime.now(UTC).replace(tzinfo=None)

    def rows(db: Any) -> None:
        for vm_id, path in (("fuzz-real", real), ("fuzz-forged", forged), ("fuzz-outside", secrets_file),
                            ("fuzz-dir", inbox)):
            if db.get(Voicemail, vm_id) is None:
                db.add(Voicemail(id=vm_id, linkedid=vm_id, mailbox="fuzz", path=str(path), created_at=now,
                                 status="done"))

    s.query(rows)
    inspector = WebClient(base)
    assert inspector.login("inspector") == 303
    code, _h, body = inspector.request("GET", "/app/voicemails/fuzz-real/audio")
    assert code == 200 and body.startswith(b"RIFF")
    for vm_id in ("fuzz-forged", "fuzz-outside", "fuzz-dir"):
        code, _h, body = inspector.request("GET", f"/app/voicemails/{vm_id}/audio",
                                           headers={"Accept": "application/json"})
        assert code == 404 and secret.encode() not in body, (vm_id, code, body[:200])
        assert json.loads(body)["error_id"] == "audio_missing"
    code, _h, _b = inspector.request("GET", "/app/voicemails/" + quote("x" * 200) + "/audio")
    assert code == 404


def test_attachment_names_lose_bidi_overrides(fuzz: Stack) -> None:
    s = fuzz
    token = api_token(s)
    name = "invoice\u202egnp.txt"
    code, body = s.http("/api/v1/submissions", token=token, method="POST", body={
        "content": "附件名测试", "contact": "13600006666",
        "attachments": [{"filename": name, "data": base64.b64encode(b"note").decode()}]})
    assert code == 201, body
    number = body["number"]

    def stored(db: Any) -> list[str]:
        order = db.scalar(select(WorkOrder).where(WorkOrder.number == number))
        return [a.filename for a in db.scalars(select(WorkOrderAttachment).where(
            WorkOrderAttachment.order_id == order.id))]

    assert s.query(stored) == ["invoicegnp.txt"]
