"""Call control rules without Asterisk: which call is the agent's, its state, refusals, the AMI actions sent,
the dialer's pacing, the address book, the recorder's outbound calls and every message in both languages."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from callcenter import events as ev
from callcenter.asterisk.ami.callcontrol import AmiCallControl, CallControlError, channel_of
from callcenter.callctl import numbers
from callcenter.callctl.addressbook import AddressBook, Entry, parse
from callcenter.callctl.numbers import CallRefusal
from callcenter.callctl.services import ActionRecord, CallControl, find_call
from callcenter.calls.recorder import CallRecorder
from callcenter.desk.i18n import catalogue
from callcenter.dialer.service import Dialer


def ch(channel: str, uniqueid: str, linkedid: str, context: str = "from-trunk", app: str = "Queue",
       bridge: str = "", state: str = "Up", exten: str = "s") -> dict[str, str]:
    return {"Event": "CoreShowChannel", "Channel": channel, "Uniqueid": uniqueid, "Linkedid": linkedid,
            "Context": context, "Exten": exten, "ChannelStateDesc": state, "Application": app, "BridgeId": bridge,
            "CallerIDNum": "13900000001", "ConnectedLineNum": "", "Duration": "00:01:05"}


TALKING = [ch("PJSIP/carrier-00000001", "L1", "L1", bridge="B1"),
           ch("PJSIP/1001-00000002", "U2", "L1", context="from-agents", app="AppQueue", bridge="B1")]
ON_HOLD = [ch("PJSIP/carrier-00000001", "L1", "L1", context="cc-ctl-hold", app="MusicOnHold"),
           ch("PJSIP/1001-00000002", "U2", "L1", context="cc-ctl-wait", app="Wait")]
CONSULTING = [ch("PJSIP/carrier-00000001", "L1", "L1", context="cc-ctl-hold", app="MusicOnHold"),
              ch("PJSIP/1001-00000002", "U2", "L1", context="cc-ctl-consult", app="Dial", bridge="B2"),
              ch("Local/d87650001@cc-ctl-dest-0001;1", "U3", "L1", context="", app="AppDial", bridge="B2"),
              ch("Local/d87650001@cc-ctl-dest-0001;2", "U4", "L1", context="cc-ctl-dest", app="Dial", bridge="B3"),
              ch("PJSIP/carrier-00000005", "U5", "L1", context="", app="AppDial", bridge="B3")]


class FakeClient:
    """Stands in for AmiClient.action: answers CoreShowChannels from a list, records every other action."""

    def __init__(self, chans: list[dict[str, str]], contact: str = "NOT_INUSE", fail: str = "") -> None:
        self.chans, self.contact, self.fail = chans, contact, fail
        self.sent: list[dict[str, Any]] = []

    async def action(self, action: dict[str, Any], as_list: bool = False, **_: Any) -> Any:
        from callcenter.asterisk.ami.client import AmiError

        if action["Action"] == "CoreShowChannels":
            return [{"Response": "Success"}, *self.chans, {"Event": "CoreShowChannelsComplete"}]
        if action["Action"] == "Getvar":
            assert action["Variable"] == "DEVICE_STATE(PJSIP/1001)"
            return {"Response": "Success", "Value": self.contact or "UNKNOWN"}
        self.sent.append(action)
        if self.fail and action["Action"] == self.fail:
            raise AmiError(f"{self.fail}: No such channel")
        return {"Response": "Success"}


def control(chans: list[dict[str, str]], tmp_path: Path, **kw: Any) -> tuple[CallControl, FakeClient,
                                                                                list[ActionRecord]]:
    client = FakeClient(chans, **kw)
    records: list[ActionRecord] = []

    async def record(rec: ActionRecord) -> None:
        records.append(rec)

    book = AddressBook(tmp_path / "book.yaml")
    book.save([Entry("housing", "住建局", "87650001", "housing", "7x24")])
    cc = CallControl(AmiCallControl(client), book, Dialer("12345", 2), {"main"}, {"1001", "1002", "1003"},
                     record, clock=lambda: 1000.0)
    return cc, client, records


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_the_agents_call_and_its_state_come_from_the_channels() -> None:
    legs = find_call([channel_of(c) for c in TALKING], "1001")
    assert legs is not None and legs.state == "talking" and legs.caller.channel == "PJSIP/carrier-00000001"
    assert legs.agent.duration_s == 65
    assert find_call([channel_of(c) for c in ON_HOLD], "1001").state == "on_hold"
    consulting = find_call([channel_of(c) for c in CONSULTING], "1001")
    assert consulting.state == "consulting" and consulting.consult_target().channel.endswith(";1")
    assert find_call([channel_of(c) for c in TALKING], "1002") is None
    # a prefix of another agent's id is not that agent
    assert find_call([channel_of(c) for c in TALKING], "100") is None


def test_hold_redirects_both_legs_and_resume_bridges_them(tmp_path: Path) -> None:
    cc, client, records = control(TALKING, tmp_path)
    out = run(cc.hold("agent1001", "1001"))
    assert out["result"] == "ok" and out["linkedid"] == "L1"
    [redirect] = client.sent
    assert redirect["Action"] == "Redirect" and redirect["Channel"] == "PJSIP/carrier-00000001"
    assert redirect["Context"] == "cc-ctl-hold" and redirect["ExtraChannel"] == "PJSIP/1001-00000002"
    assert (records[0].action, records[0].result, records[0].actor) == ("hold", "ok", "agent1001")
    cc, client, records = control(ON_HOLD, tmp_path)
    run(cc.resume("agent1001", "1001"))
    assert client.sent == [{"Action": "Bridge", "Channel1": "PJSIP/carrier-00000001",
                            "Channel2": "PJSIP/1001-00000002", "Tone": "no"}]


@pytest.mark.parametrize(("chans", "op", "args", "msg_id", "code"), [
    ([], "hangup", (), "call_no_current_call", 409),
    ([], "hold", (), "call_no_current_call", 409),
    (ON_HOLD, "hold", (), "call_wrong_state", 409),
    (TALKING, "resume", (), "call_wrong_state", 409),
    (TALKING, "complete_transfer", (), "call_wrong_state", 409),
    (TALKING, "transfer", ("agent:1001",), "call_transfer_to_self", 409),
    (TALKING, "transfer", ("agent:9999",), "call_unknown_agent", 404),
    (TALKING, "transfer", ("queue:nope",), "call_unknown_queue", 404),
    (TALKING, "transfer", ("number:12;34",), "call_bad_number", 422),
    (TALKING, "transfer", ("book:nobody",), "book_no_entry", 404),
    (TALKING, "transfer", ("sip:evil@x",), "call_bad_target", 422),
    (TALKING, "dial", ("13712345678",), "call_busy", 409),
    ([], "dial", ("1371234567,8",), "call_bad_number", 422),
    ([], "dial", ("1" * 21,), "call_bad_number", 422),
])
def test_refusals_are_recorded_and_send_nothing(tmp_path: Path, chans: list[dict[str, str]], op: str,
                                                args: tuple[str, ...], msg_id: str, code: int) -> None:
    cc, client, records = control(chans, tmp_path)
    with pytest.raises(CallRefusal) as info:
        run(getattr(cc, op)("agent1001", "1001", *args))
    assert (info.value.msg_id, info.value.code) == (msg_id, code)
    assert client.sent == []
    assert [(r.result, r.detail) for r in records] == [("refused", msg_id)]


def test_an_account_without_a_phone_is_refused(tmp_path: Path) -> None:
    cc, _client, _records = control(TALKING, tmp_path)
    with pytest.raises(CallRefusal) as info:
        run(cc.hold("leader", None))  # type: ignore[arg-type]
    assert (info.value.code, info.value.msg_id) == (403, "call_no_phone")


def test_transfers_pick_the_action_for_the_state(tmp_path: Path) -> None:
    cc, client, records = control(TALKING, tmp_path)
    run(cc.transfer("a", "1001", "book:housing"))
    assert client.sent == [{"Action": "BlindTransfer", "Channel": "PJSIP/1001-00000002", "Context": "cc-ctl-dest",
                            "Exten": "d87650001"}]
    assert (records[0].action, records[0].target, records[0].linkedid) == ("transfer", "book:housing", "L1")
    cc, client, _ = control(ON_HOLD, tmp_path, fail="Hangup")  # the agent's leg already gone is fine
    run(cc.transfer("a", "1001", "queue:main"))
    assert [a["Action"] for a in client.sent] == ["Redirect", "Hangup"] and client.sent[0]["Exten"] == "qmain"
    cc, client, _ = control(TALKING, tmp_path)
    run(cc.transfer("a", "1001", "agent:1002", attended=True))
    assert client.sent[0]["ExtraContext"] == "cc-ctl-consult" and client.sent[0]["ExtraExten"] == "a1002"
    cc, client, _records = control(CONSULTING, tmp_path)
    run(cc.complete_transfer("a", "1001"))
    assert client.sent[0] == {"Action": "Bridge", "Channel1": "PJSIP/carrier-00000001",
                              "Channel2": "Local/d87650001@cc-ctl-dest-0001;1", "Tone": "no"}
    assert client.sent[1]["Action"] == "Hangup" and client.sent[1]["Channel"] == "PJSIP/1001-00000002"


def test_three_way_moves_both_into_a_room_and_originates_the_target(tmp_path: Path) -> None:
    cc, client, records = control(TALKING, tmp_path)
    chans = [dict(c, Linkedid="cc1-1796000000.12") for c in TALKING]
    cc, client, records = control(chans, tmp_path)
    out = run(cc.conference("a", "1001", "number:+8687650001"))
    redirect, originate = client.sent
    assert redirect["Context"] == redirect["ExtraContext"] == "cc-ctl-conf" and redirect["Exten"] == out["room"]
    assert re.fullmatch(r"3[0-9]+", out["room"])
    assert originate["Channel"] == "Local/d+8687650001@cc-ctl-dest/n" and originate["Exten"] == out["room"]
    assert records[0].target == "number:+8687650001"


def test_click_to_call_originates_the_agents_phone_with_the_hotline_as_caller_id(tmp_path: Path) -> None:
    cc, client, _records = control([], tmp_path)
    out = run(cc.dial("agent1002", "1002", "137 1234-5678", order="2026-A1<b>"))
    [orig] = client.sent
    assert orig["Channel"] == "PJSIP/1002" and orig["Context"] == "cc-ctl-out" and orig["Exten"] == "13712345678"
    assert "CC_OUT_CLI=12345" in orig["Variable"] and "CC_OUT_ORDER=2026-A1b" in orig["Variable"]
    assert out["number"] == "13712345678" and out["ref"]


def test_the_dialer_limits_concurrent_calls_and_paces_originations(tmp_path: Path) -> None:
    busy = [ch(f"PJSIP/100{i}-0000000{i}", f"U{i}", f"U{i}", context="cc-ctl-out", app="Dial") for i in (2, 3)]
    cc, client, _ = control(busy, tmp_path)
    with pytest.raises(CallRefusal) as info:
        run(cc.dial("a", "1001", "13712345678"))
    assert (info.value.code, info.value.msg_id) == (429, "call_dialer_busy") and client.sent == []
    now = [100.0]
    dialer = Dialer("12345", 5, interval_s=2.0, clock=lambda: now[0])
    ami = AmiCallControl(FakeClient([]))  # type: ignore[arg-type]
    from callcenter.dialer.service import OutboundRequest

    run(dialer.place(ami, OutboundRequest("1001", "13712345678"), []))
    with pytest.raises(CallRefusal) as info:
        run(dialer.place(ami, OutboundRequest("1002", "13712345679"), []))
    assert info.value.msg_id == "call_dialer_paced"
    now[0] += 2.0
    run(dialer.place(ami, OutboundRequest("1002", "13712345679"), []))


def test_listen_in_checks_both_phones(tmp_path: Path) -> None:
    cc, client, records = control(TALKING, tmp_path)
    out = run(cc.spy("leader", "1003", "1001", "whisper"))
    assert out["linkedid"] == "L1"
    [orig] = client.sent
    assert orig["Channel"] == "PJSIP/1003" and orig["Context"] == "cc-ctl-spy" and orig["Exten"] == "whisper"
    assert orig["Variable"] == "CC_SPY_TARGET=1001"
    assert (records[0].action, records[0].agent, records[0].target) == ("spy-whisper", "1003", "1001")
    for leader, target, mode, msg_id in (("1003", "1002", "listen", "call_agent_not_on_call"),
                                         ("1003", "1003", "listen", "call_spy_self"),
                                         ("1003", "1001", "record", "call_bad_spy_mode"),
                                         ("1001", "1002", "listen", "call_busy")):
        with pytest.raises(CallRefusal) as info:
            run(cc.spy("leader", leader, target, mode))
        assert info.value.msg_id == msg_id


def test_asterisk_refusing_is_a_502_and_recorded_as_failed(tmp_path: Path) -> None:
    cc, _client, records = control(TALKING, tmp_path, fail="Redirect")
    with pytest.raises(CallRefusal) as info:
        run(cc.hold("a", "1001"))
    assert info.value.code == 502 and records[0].result == "failed" and "No such channel" in records[0].detail


def test_phone_state_from_contact_and_call(tmp_path: Path) -> None:
    cc, _c, _r = control([], tmp_path, contact="UNAVAILABLE")
    assert run(cc.state("1001"))["phone"] == "unreachable"
    cc, _c, _r = control([], tmp_path, contact="")
    assert run(cc.state("1001"))["phone"] == "unregistered"
    cc, _c, _r = control([], tmp_path, contact="NOT_INUSE")
    assert run(cc.state("1001"))["phone"] == "registered"
    cc, _c, _r = control(ON_HOLD, tmp_path)
    state = run(cc.state("1001"))
    assert state["phone"] == "on_hold" and state["call_s"] == 65 and state["linkedid"] == "L1"


def test_values_that_would_reach_the_dialplan_are_checked_twice() -> None:
    for bad in ("", "12", "+", "1" * 21, "123,456", "123)", "12 34 x"):
        with pytest.raises(CallRefusal):
            numbers.number(bad)
    assert numbers.number("+86 137-1234-5678") == "+8613712345678"
    ami = AmiCallControl(FakeClient([]))  # type: ignore[arg-type]
    with pytest.raises(CallControlError):
        run(ami.blind_transfer("PJSIP/1001-1", "d123,evil"))
    with pytest.raises(CallControlError):
        run(ami.dial_out("1001", "123&x", "12345", "", ""))
    with pytest.raises(CallControlError):
        run(ami.spy("1001/x", "1002", "listen"))


def test_the_address_book_is_checked_whole_and_saved_atomically(tmp_path: Path) -> None:
    book = AddressBook(tmp_path / "book.yaml")
    assert book.entries() == []
    book.save([Entry("fund", "公积金中心", "87650002", "fund", "08:30-17:30")])
    assert book.get("fund").number == "87650002"
    for data, msg_id in (({"entries": [{"key": "x", "name": "n", "number": "12;3"}]}, "call_bad_number"),
                         ({"entries": [{"key": "Bad Key", "name": "n", "number": "123"}]}, "book_bad_entry"),
                         ({"entries": [{"key": "a", "name": "n", "number": "123"}] * 2}, "book_duplicate_key"),
                         ([1, 2], "book_bad_file")):
        with pytest.raises(CallRefusal) as info:
            parse(data)
        assert info.value.msg_id == msg_id
    (tmp_path / "book.yaml").write_text("entries: [", encoding="utf-8")
    with pytest.raises(CallRefusal):
        book.entries()


def test_outbound_calls_are_call_records_outside_the_queue_kpi() -> None:
    sunk: list[Any] = []
    rec = CallRecorder(sink=sunk.append, hotlines={"12345": "12345"})
    rec.apply(ev.OutboundCallStarted(10.0, "L9", "1002", "13712345678", "12345", "A1", "ref"))
    rec.apply(ev.RecordingStarted(10.1, "L9", "L9", "/rec/L9.wav"))
    rec.apply(ev.OutboundCallEnded(20.0, "L9", "ANSWER"))
    rec.apply(ev.ChannelHungUp(20.1, "L9", "L9", "PJSIP/1002-1", 16, "Normal"))
    call = rec.ended["L9"]
    assert (call.direction, call.answered_by, call.order_number, call.caller_number, call.hotline) == (
        "outbound", "1002", "A1", "13712345678", "12345")
    assert call.disposition == "outbound-answer" and call.recording_path == "/rec/L9.wav"
    assert call.entries == [] and call.first_queued_at is None and call.ended_at == 20.1


def test_every_call_control_refusal_reads_in_both_languages() -> None:
    root = Path(__file__).parents[2] / "callcenter"
    ids: set[str] = set()
    for sub in ("callctl", "dialer"):
        for path in (root / sub).rglob("*.py"):
            ids |= set(re.findall(r"(?:CallRefusal|HttpError)\(\d+, \"([a-z_]+)\"", path.read_text(encoding="utf-8")))
    assert len(ids) > 15
    fields = re.compile(r"{(\w+)}")
    for msg_id in ids:
        zh, en = catalogue("zh").get(f"error.{msg_id}"), catalogue("en").get(f"error.{msg_id}")
        assert zh and en, msg_id
        assert set(fields.findall(zh)) == set(fields.findall(en)), msg_id
