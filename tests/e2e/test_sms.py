"""SMS end to end through real Kannel and its fake SMSC (the carrier), with the outbox worker as a
separate process: the order receipt arrives in Chinese with the order number, delivery reports
update the row, the gateway stopped mid-send and then back delivers every message exactly once,
the worker killed mid-send loses nothing, a citizen's TD / 退订 opts the number out.

On SQLite or PostgreSQL (``CALLCENTER_TEST_DATABASE``); ports base+20…+24. No Asterisk needed.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from callcenter.auth.services import Actor
from callcenter.sms import outbox
from callcenter.sms import templates as tpl
from callcenter.sms.kannel import read_fake_smsc
from callcenter.sms.models import SmsEvent, SmsMessage
from callcenter.workorders import services as wo_services
from callcenter.workorders.models import WorkOrderEvent
from callcenter.workorders.services import Services
from callcenter.workorders.settings import WorkOrderSettings
from tests.conftest import fresh_pg_database
from tests.harness.sms import SmsRig

pytestmark = pytest.mark.e2e

# How long the gateway stays down (the issue says 60 s; a few backoff rounds prove the same).
DOWN_S = float(os.environ.get("CALLCENTER_TEST_SMS_DOWN_S", "12"))
AGENT = Actor(1, "agent1", "agent", agent_id="1001")


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmsRig]:
    database = os.environ.get("CALLCENTER_TEST_DATABASE", "sqlite")
    workdir: Path = tmp_path_factory.mktemp(f"sms-{database}")
    pg = None
    if database == "postgresql":
        pg = fresh_pg_database()
        url = next(pg)
    else:
        url = f"sqlite:///{workdir / 'callcenter.sqlite'}"
    # 100 messages/s: slow enough that a kill lands mid-drain.
    r = SmsRig(workdir, url, overall_per_second=100.0)
    try:
        r.start()
    except Exception:
        print(r.kannel.tail("bearerbox"), r.kannel.tail("smsbox"), r.worker_log(), sep="\n")
        r.stop()
        raise
    yield r
    r.stop()
    if pg is not None:
        next(pg, None)


def _fake(rig: SmsRig) -> list:  # type: ignore[type-arg]
    return read_fake_smsc(rig.kannel.fake_log)


def _states(rig: SmsRig, ids: list[int]) -> Counter[str]:
    with rig.db.session() as s:
        return Counter(s.scalars(select(SmsMessage.state).where(SmsMessage.id.in_(ids))))


def _enqueue(rig: SmsRig, tag: str, n: int, long_every: int = 0) -> dict[int, str]:
    """n messages, each with a marker; every long_every-th a 3-part Chinese message."""
    markers: dict[int, str] = {}
    with rig.db.session() as s:
        for i in range(n):
            marker = f"{tag}-{i:04d}"
            text = f"测试短信{marker}" + ("，这是一条很长的中文短信" * 12 if long_every and i % long_every == 0 else "")
            m, _ = outbox.enqueue(s, rig.settings, f"1391{i:07d}", text, f"{tag}:{i}", created_by="test")
            markers[m.id] = marker
    return markers


def _arrivals(rig: SmsRig, tag: str) -> Counter[str]:
    import re

    found: Counter[str] = Counter()
    for m in _fake(rig):
        for marker in re.findall(rf"{tag}-\d{{4}}", m.text):
            found[marker] += 1
    return found


def test_order_receipt_reaches_the_fake_smsc_in_chinese_and_its_report_updates_the_row(rig: SmsRig) -> None:
    hook = lambda session, order: outbox.order_receipt(session, rig.settings, order)  # noqa: E731
    wo_services.AFTER_REGISTER.append(hook)
    try:
        with rig.db.session() as s:
            order = Services(WorkOrderSettings(), "Asia/Shanghai").create(
                s, AGENT, "call", {"caller_number": "13912345678", "category": "housing.fund",
                                   "content": "咨询公积金提取"}, register=True)
            number, order_id = order.number, order.id
    finally:
        wo_services.AFTER_REGISTER.remove(hook)
    want = tpl.render(tpl.SPECS["order_receipt"].default, {"order_number": number})
    got = rig.wait(lambda: [m for m in _fake(rig) if m.to == "13912345678"], 20, "the receipt at the fake SMSC")
    assert len(got) == 1
    assert got[0].text == want and number in got[0].text and "已受理" in got[0].text
    assert got[0].sender == rig.settings.sender

    def delivered() -> SmsMessage | None:
        with rig.db.session() as s:
            m = s.scalar(select(SmsMessage).where(SmsMessage.order_number == number))
            return m if m is not None and m.state == "delivered" else None

    m = rig.wait(delivered, 20, "the delivery report")
    assert m.encoding == "ucs2" and m.segments == 1 and m.gateway_id and m.delivered_at
    with rig.db.session() as s:
        kinds = [e.kind for e in outbox.events_of(s, m.id)]
        history = s.scalars(select(WorkOrderEvent).where(WorkOrderEvent.order_id == order_id,
                                                         WorkOrderEvent.action == "sms")).all()
    assert kinds.count("dlr_1") == 1 and kinds.count("dlr_8") == 1 and kinds.count("delivered") == 1
    assert [e.detail["sms_state"] for e in history] == ["pending", "delivered"]
    assert all(e.detail["sms_to"] == "139****5678" for e in history)


def test_gateway_stopped_mid_send_then_back_delivers_every_message_exactly_once(rig: SmsRig) -> None:
    markers = _enqueue(rig, "down", 150, long_every=10)
    ids = list(markers)
    # Stop Kannel while the worker is draining (100/s: 1.5 s of sending).
    rig.wait(lambda: _states(rig, ids)["sent"] + _states(rig, ids)["delivered"] > 10, 20, "sending started")
    rig.kannel.stop()
    before = _states(rig, ids)
    assert before["pending"] + before["sending"] > 0, f"everything went before the stop: {before}"
    time.sleep(DOWN_S)
    with rig.db.session() as s:
        retried = s.scalar(select(func.max(SmsMessage.attempts)).where(SmsMessage.id.in_(ids)))
    assert retried and retried >= 3  # tried again and again while the gateway was away, nothing dropped
    assert _states(rig, ids)["failed"] == 0
    rig.kannel.start()
    rig.wait(lambda: set(_arrivals(rig, "down")) == set(markers.values()), 60, "every message at the fake SMSC")
    time.sleep(2)  # anything sent twice would show up by now
    arrivals = _arrivals(rig, "down")
    assert {k: v for k, v in arrivals.items() if v != 1} == {}
    assert sum(arrivals.values()) == 150
    rig.wait(lambda: _states(rig, ids)["sent"] + _states(rig, ids)["delivered"] == 150, 30, "all recorded sent")
    with rig.db.session() as s:
        assert s.scalar(select(func.count()).select_from(SmsEvent).where(SmsEvent.message_id.in_(ids),
                                                                         SmsEvent.kind == "sent")) == 150
    long_ones = [m for m in _fake(rig) if "down-0000" in m.text]
    assert long_ones[0].parts == 3


def test_worker_killed_mid_send_loses_nothing_and_records_each_message_once(rig: SmsRig) -> None:
    markers = _enqueue(rig, "kill", 300)
    ids = list(markers)
    rig.wait(lambda: _states(rig, ids)["sent"] + _states(rig, ids)["delivered"] > 20, 20, "sending started")
    rig.kill_worker()
    left = _states(rig, ids)
    assert left["pending"] + left["sending"] > 0, f"the kill came too late: {left}"
    rig.start_worker()
    rig.wait(lambda: set(_arrivals(rig, "kill")) == set(markers.values()), 60, "every message at the fake SMSC")
    rig.wait(lambda: _states(rig, ids)["sent"] + _states(rig, ids)["delivered"] == 300, 30, "all recorded")
    arrivals = _arrivals(rig, "kill")
    dupes = sum(v - 1 for v in arrivals.values())
    # At least once: a message whose answer died with the worker may go twice (never lost).
    print(f"worker killed mid-send: {len(arrivals)} of 300 arrived, {dupes} sent twice, left {dict(left)}")
    assert dupes <= left["sending"]
    with rig.db.session() as s:
        assert s.scalar(select(func.count()).select_from(SmsMessage).where(SmsMessage.id.in_(ids))) == 300
        # One record per message and per happening (a row whose send answer died with the worker
        # is proven sent by its delivery report instead).
        kinds = Counter(s.scalars(select(SmsEvent.kind).where(SmsEvent.message_id.in_(ids))))
        assert kinds["queued"] == 300 and kinds["dlr_1"] <= 300 and kinds["sent"] <= 300


def test_a_reply_td_or_tuiding_opts_the_number_out(rig: SmsRig) -> None:
    rig.kannel.send_mo("13988887777", "TD")
    rig.kannel.send_mo("13988886666", "退订")  # sent by the fake SMSC as UCS-2
    rig.kannel.send_mo("13988885555", "你好")

    def opted() -> bool:
        with rig.db.session() as s:
            return outbox.is_opted_out(s, "13988887777") and outbox.is_opted_out(s, "13988886666")

    rig.wait(opted, 20, "the opt-outs")
    with rig.db.session() as s:
        assert not outbox.is_opted_out(s, "13988885555")
        m, _ = outbox.enqueue(s, rig.settings, "13988887777", "您好", "after-td")
        mid = m.id
        assert m.state == "blocked"
    time.sleep(1.5)
    assert not [m for m in _fake(rig) if m.to == "13988887777"]
    assert _states(rig, [mid]) == Counter({"blocked": 1})
