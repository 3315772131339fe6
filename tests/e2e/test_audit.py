"""The audit trail on a running call centre: a real call's recording is hashed by the daemon after the
hang-up, ``audit verify --recordings`` passes, then finds the file once it is altered; the recording disk
shows in the health; the configuration is in the settings stream."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from callcenter.audit.models import AuditEntry, RecordingHash
from callcenter.store.models import Call
from tests.harness.checks import wait_call_ended
from tests.harness.stack import Stack, wait_for

pytestmark = pytest.mark.e2e


def test_recording_hashed_after_the_call_and_tampering_found(clean: Stack) -> None:
    s = clean
    s.agent_phone("1001", ring_ms=1000, talk_ms=3000)
    s.wait_agent_reachable("1001")
    s.login("1001", "main")
    result = s.caller("13800000077", "审计", hold_ms=15000).run()
    assert result.ok, result.errors
    call = wait_call_ended(s, "13800000077")
    assert call.recording_path
    row = wait_for(lambda: s.query(lambda q: q.get(RecordingHash, call.recording_path) and
                                   (q.get(RecordingHash, call.recording_path).sha256,
                                    q.get(RecordingHash, call.recording_path).size_bytes)), 30,
                   what="the recording's hash")
    import hashlib

    with open(call.recording_path, "rb") as f:
        data = f.read()
    assert row == (hashlib.sha256(data).hexdigest(), len(data))
    report = json.loads(s.cli("audit", "verify", "--recordings", "--json", check=False).stdout)
    assert report["ok"], json.dumps(report)
    assert call.recording_path not in report["recordings"]["unhashed"]
    streams = report["streams"]
    assert streams["recordings"]["entries"] >= 1 and streams["settings"]["entries"] >= 1
    disk = wait_for(lambda: s.health().get("recordings_disk"), 20, what="the recording disk in the health")
    assert disk["alarm"] is False and disk["free_bytes"] > 0
    # the entry that chained the hash names the daemon's recorder
    entry = s.query(lambda q: q.scalars(select(AuditEntry).where(
        AuditEntry.entity == "recording_hashes", AuditEntry.entity_id == call.recording_path)).one())
    assert entry.actor == "recorder" and entry.action == "insert"
    # alter one byte of the file: verify fails and names it
    with open(call.recording_path, "r+b") as f:
        f.seek(len(data) // 2)
        f.write(bytes([data[len(data) // 2] ^ 0xFF]))
    proc = s.cli("audit", "verify", "--recordings", "--json", check=False)
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["recordings"]["altered"] == [call.recording_path]


def test_audit_pages_for_admins(clean: Stack) -> None:
    """An admin reads the trail (a user change made on the web page names that admin), verifies the chains
    and places a hold on the web; an agent is refused."""
    from tests.harness.web import WebClient, ensure_users

    s = clean
    ensure_users(s)
    base = f"http://127.0.0.1:{s.ports.web}"
    admin = WebClient(base)
    assert admin.login("admin1") == 303
    code, _h, _b = admin.request("POST", "/app/admin/users", {
        "_csrf": admin.csrf, "username": "audited1", "role": "agent", "display_name": "审计测试",
        "agent_id": "1004", "password": "Audit-Pass-2026"})
    assert code == 303
    code, rows = admin.json("GET", "/audit/?entity=users")
    assert code == 200
    created = [r for r in rows if r["action"] == "insert" and r["data"].get("username") == "audited1"]
    assert len(created) == 1 and created[0]["actor"] == "admin1"
    assert created[0]["data"]["password_hash"].startswith("sha256:")
    code, _headers, html = admin.request("GET", "/audit/?stream=users")
    assert code == 200 and "审计日志" in html.decode()
    code, report = admin.json("POST", "/audit/verify", form={"_csrf": admin.csrf})
    assert code == 200 and report["ok"] is True, report
    call = s.query(lambda q: q.scalars(select(Call.linkedid).where(Call.ended_at.is_not(None))).first())
    assert call, "a call of an earlier test"
    code, body = admin.json("POST", "/audit/holds", form={"_csrf": admin.csrf, "kind": "call", "ref": call,
                                                          "reason": "投诉复核"})
    assert code == 201, body
    code, listed = admin.json("GET", "/audit/holds")
    assert any(h["ref"] == call and h["active"] and h["created_by"] == "admin1" for h in listed)
    agent = WebClient(base)
    assert agent.login("agent1001") == 303
    assert agent.json("GET", "/audit/")[0] == 403
