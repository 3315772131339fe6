"""SMS: part counting (GSM-7 / UCS-2), templates and their placeholders, the outbox state machine,
the outbox on a real database (idempotency, retries, leases, reports, opt-out, limits, the order
receipt), the token bucket, the dispatcher against a gateway that is down and comes back."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from callcenter.auth.services import Actor
from callcenter.sms import outbox
from callcenter.sms import templates as tpl
from callcenter.sms.dispatcher import Dispatcher, TokenBucket
from callcenter.sms.gateway import ACCEPTED, REJECTED, RETRY, KannelGateway, OutgoingSms, SendResult
from callcenter.sms.kannel import read_fake_smsc, render_conf
from callcenter.sms.models import SmsEvent, SmsMessage
from callcenter.sms.segments import segment
from callcenter.sms.settings import KannelSettings, SmsSettings
from callcenter.store import migrate
from callcenter.store.db import Database
from callcenter.workorders import services as wo_services
from callcenter.workorders.models import WorkOrderEvent
from callcenter.workorders.services import Services
from callcenter.workorders.settings import WorkOrderSettings

SETTINGS = SmsSettings(callback_token="t0k", per_number_per_hour=3, retry_min_s=2, retry_max_s=60,
                       kannel=KannelSettings(password="pw", admin_password="apw"))
T0 = datetime(2026, 12, 1, 2, 0)


# ---- segments --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "encoding", "units", "parts"), [
    ("", "gsm7", 0, 1),
    ("a" * 160, "gsm7", 160, 1),
    ("a" * 161, "gsm7", 161, 2),
    ("a" * 306, "gsm7", 306, 2),
    ("a" * 307, "gsm7", 307, 3),
    ("€" * 80, "gsm7", 160, 1),  # extension characters take two septets
    ("€" * 81, "gsm7", 162, 2),
    ("中" * 70, "ucs2", 70, 1),
    ("中" * 71, "ucs2", 71, 2),
    ("中" * 134, "ucs2", 134, 2),
    ("中" * 135, "ucs2", 135, 3),
    ("a" * 69 + "中", "ucs2", 70, 1),  # one Chinese character makes the whole message UCS-2
    ("😀" * 35, "ucs2", 70, 1),  # outside the BMP: two UTF-16 units each
    ("😀" * 36, "ucs2", 72, 2),
])
def test_segments(text: str, encoding: str, units: int, parts: int) -> None:
    seg = segment(text)
    assert (seg.encoding, seg.units, seg.segments) == (encoding, units, parts)
    assert seg.coding == (2 if encoding == "ucs2" else 0)


# ---- templates -------------------------------------------------------------------------------------------
def test_default_templates_are_valid_and_render() -> None:
    for name, spec in tpl.SPECS.items():
        assert tpl.validate(name, spec.default) == spec.default
    text = tpl.render(tpl.SPECS["order_receipt"].default, {"order_number": "KM20261201000001"})
    assert "KM20261201000001" in text and "{" not in text


@pytest.mark.parametrize(("body", "code"), [
    ("工单{order_number}，{unknown}", "unknown_placeholder"),
    ("您的工单已受理", "missing_placeholder"),
    ("工单{order_number:>20}", "bad_placeholder"),
    ("工单{order_number!r}", "bad_placeholder"),
    ("工单{order_number.x}", "bad_placeholder"),
    ("工单{0}{order_number}", "bad_placeholder"),
    ("工单{order_number", "syntax"),
    ("   ", "empty"),
    ("工单{order_number}" + "很长" * 400, "too_long"),
])
def test_bad_templates_are_refused(body: str, code: str) -> None:
    with pytest.raises(tpl.TemplateError) as exc:
        tpl.validate("order_receipt", body, max_segments=10)
    assert exc.value.code == code


def test_unknown_template_and_missing_value() -> None:
    with pytest.raises(tpl.TemplateError):
        tpl.validate("nope", "x")
    with pytest.raises(tpl.TemplateError):
        tpl.render("工单{order_number}", {})


# ---- state machine ---------------------------------------------------------------------------------------
def test_state_machine() -> None:
    assert outbox.step("pending", "claim") == "sending"
    assert outbox.step("sending", "accepted") == "sent"
    assert outbox.step("sending", "retry") == "pending"
    assert outbox.step("sent", "dlr_delivered") == "delivered"
    assert outbox.step("sending", "dlr_delivered") == "delivered"  # the report overtook the answer
    assert outbox.step("delivered", "accepted") == "delivered"
    assert outbox.step("pending", "dlr_ack") == "sent"  # an earlier attempt's report: no resend
    for state, event in (("delivered", "claim"), ("blocked", "claim"), ("pending", "accepted"),
                         ("delivered", "dlr_failed"), ("expired", "claim")):
        with pytest.raises(outbox.IllegalStep):
            outbox.step(state, event)


def test_backoff_doubles_and_caps() -> None:
    assert [outbox.backoff(SETTINGS, n) for n in (1, 2, 3, 4, 5, 6, 7)] == [2, 4, 8, 16, 32, 60, 60]


# ---- the outbox on a database -------------------------------------------------------------------------------
@pytest.fixture
def db(db_url: str):  # type: ignore[no-untyped-def]
    migrate.upgrade(db_url)
    database = Database(db_url)
    yield database
    database.dispose()


def _events(s, mid: int) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.kind for e in outbox.events_of(s, mid)]


def test_enqueue_is_idempotent_and_validates(db: Database) -> None:
    with db.session() as s:
        m, new = outbox.enqueue(s, SETTINGS, "138 0013 8000", "您好" * 40, "k1", now=T0)
        assert new and m.number == "13800138000" and m.encoding == "ucs2" and m.segments == 2
        again, new2 = outbox.enqueue(s, SETTINGS, "13800138000", "other text", "k1", now=T0)
        assert not new2 and again.id == m.id and again.body == "您好" * 40
        for number, text, key in (("12ab", "x", "k2"), ("13800138000", "", "k3"),
                                  ("13800138000", "中" * 700, "k4"), ("13800138000", "x", "")):
            with pytest.raises(outbox.SmsError):
                outbox.enqueue(s, SETTINGS, number, text, key, now=T0)
    with db.session() as s:
        assert s.query(SmsMessage).count() == 1


def test_send_then_reports_in_either_order_recorded_once(db: Database) -> None:
    with db.session() as s:
        a, _ = outbox.enqueue(s, SETTINGS, "13800138001", "hello", "a", now=T0)
        b, _ = outbox.enqueue(s, SETTINGS, "13800138002", "hello", "b", now=T0)
    with db.session() as s:
        batch = outbox.claim(s, SETTINGS, T0, 10)
        assert [m.id for m in batch] == [a.id, b.id]
        assert outbox.claim(s, SETTINGS, T0, 10) == []  # claimed rows are not claimed twice
        # b's reports arrive before the send answer is recorded (Kannel calls back within a millisecond)
        assert outbox.apply_dlr(s, b.id, 1, "fid-b", T0) == "delivered"
        outbox.record(s, SETTINGS, [(a.id, SendResult(ACCEPTED, "0: Accepted")),
                                    (b.id, SendResult(ACCEPTED, "0: Accepted"))], T0)
        assert s.get(SmsMessage, a.id).state == "sent"
        assert s.get(SmsMessage, b.id).state == "delivered"
        assert outbox.apply_dlr(s, a.id, 8, "", T0) == "sent"
        assert outbox.apply_dlr(s, a.id, 1, "fid-a", T0) == "delivered"
        assert outbox.apply_dlr(s, a.id, 1, "fid-a", T0) == "delivered"  # a repeated report: nothing new
        assert outbox.apply_dlr(s, 99999, 1) is None
        assert _events(s, a.id) == ["queued", "sent", "dlr_8", "dlr_1", "delivered"]
        assert _events(s, b.id).count("dlr_1") == 1 and "sent" in _events(s, b.id)
        assert s.get(SmsMessage, a.id).gateway_id == "fid-a"


def test_gateway_down_retries_with_backoff_then_rejects_are_final(db: Database) -> None:
    with db.session() as s:
        m, _ = outbox.enqueue(s, SETTINGS, "13800138001", "hello", "a", now=T0)
    now = T0
    for attempt in (1, 2, 3):
        with db.session() as s:
            assert [x.id for x in outbox.claim(s, SETTINGS, now, 10)] == [m.id]
            outbox.record(s, SETTINGS, [(m.id, SendResult(RETRY, "ConnectionRefusedError"))], now)
            row = s.get(SmsMessage, m.id)
            assert row.state == "pending" and row.attempts == attempt
            assert row.next_attempt_at == now + timedelta(seconds=outbox.backoff(SETTINGS, attempt))
            assert outbox.claim(s, SETTINGS, now, 10) == []  # not due before its backoff
            now = row.next_attempt_at
    with db.session() as s:
        outbox.claim(s, SETTINGS, now, 10)
        outbox.record(s, SETTINGS, [(m.id, SendResult(REJECTED, "400 bad number"))], now)
        assert s.get(SmsMessage, m.id).state == "failed"
        assert outbox.claim(s, SETTINGS, now + timedelta(days=1), 10) == []


def test_a_row_left_sending_is_sent_again_after_the_lease(db: Database) -> None:
    with db.session() as s:
        m, _ = outbox.enqueue(s, SETTINGS, "13800138001", "hello", "a", now=T0)
    with db.session() as s:
        assert len(outbox.claim(s, SETTINGS, T0, 10)) == 1  # ... and the process dies here
    with db.session() as s:
        assert outbox.claim(s, SETTINGS, T0 + timedelta(seconds=SETTINGS.send_lease_s - 1), 10) == []
        again = outbox.claim(s, SETTINGS, T0 + timedelta(seconds=SETTINGS.send_lease_s + 1), 10)
        assert [x.id for x in again] == [m.id] and s.get(SmsMessage, m.id).attempts == 2


def test_per_number_limit_defers_and_old_messages_expire(db: Database) -> None:
    with db.session() as s:
        for i in range(5):
            outbox.enqueue(s, SETTINGS, "13800138001", f"m{i}", f"n{i}", now=T0)
        outbox.enqueue(s, SETTINGS, "13800138002", "other", "o", now=T0)
        old, _ = outbox.enqueue(s, SETTINGS, "13800138003", "old", "old", now=T0 - timedelta(hours=80))
    with db.session() as s:
        batch = outbox.claim(s, SETTINGS, T0, 50)
        numbers = [m.number for m in batch]
        assert numbers.count("13800138001") == 3 and numbers.count("13800138002") == 1
        outbox.record(s, SETTINGS, [(m.id, SendResult(ACCEPTED, "0:")) for m in batch], T0)
        assert s.get(SmsMessage, old.id).state == "expired"
        deferred = s.scalars(select(SmsMessage).where(SmsMessage.state == "pending")).all()
        assert len(deferred) == 2 and all(m.next_attempt_at > T0 for m in deferred)
    with db.session() as s:  # still within the hour: nothing more for that number
        assert outbox.claim(s, SETTINGS, T0 + timedelta(minutes=30), 50) == []
        assert len(outbox.claim(s, SETTINGS, T0 + timedelta(minutes=61), 50)) == 2


def test_mo_opt_out_blocks_pending_and_future_messages(db: Database) -> None:
    with db.session() as s:
        p, _ = outbox.enqueue(s, SETTINGS, "13800138001", "hello", "p", now=T0)
        assert outbox.receive_mo(s, SETTINGS, "13800138002", "12345", "你好") == ""
        assert outbox.receive_mo(s, SETTINGS, "13800138001", "12345", " td ") == "opt_out"
        assert s.get(SmsMessage, p.id).state == "blocked"
        f, _ = outbox.enqueue(s, SETTINGS, "13800138001", "later", "f", now=T0)
        assert f.state == "blocked"
        assert outbox.receive_mo(s, SETTINGS, "13800138003", "12345", "退订") == "opt_out"
        assert outbox.is_opted_out(s, "13800138003") and not outbox.is_opted_out(s, "13800138002")
    with db.session() as s:
        assert outbox.claim(s, SETTINGS, T0, 10) == []
        assert outbox.opt_in(s, "13800138001") and not outbox.is_opted_out(s, "13800138001")


def test_template_edit_is_validated_versioned_and_used(db: Database) -> None:
    with db.session() as s:
        with pytest.raises(tpl.TemplateError):
            outbox.set_template(s, "order_receipt", "没有工单号", "admin", SETTINGS)
        row = outbox.set_template(s, "order_receipt", "受理{order_number}，热线{hotline}", "admin", SETTINGS)
        assert row.version == 1
    with db.session() as s:
        assert outbox.set_template(s, "order_receipt", "已受理{order_number}", "admin", SETTINGS).version == 2
        m, _ = outbox.enqueue_template(s, SETTINGS, "13800138001", "order_receipt", {"order_number": "X1"}, "t")
        assert m.body == "已受理X1" and m.template == "order_receipt"
        outbox.reset_template(s, "order_receipt")
    with db.session() as s:
        assert outbox.template_body(s, "order_receipt") == tpl.SPECS["order_receipt"].default


def test_order_registration_queues_the_receipt_on_the_orders_history(db: Database) -> None:
    svc = Services(WorkOrderSettings(), "Asia/Shanghai")
    hook = lambda session, order: outbox.order_receipt(session, SETTINGS, order)  # noqa: E731
    wo_services.AFTER_REGISTER.append(hook)
    try:
        with db.session() as s:
            o = svc.create(s, Actor(1, "agent1", "agent", agent_id="1001"), "call",
                           {"caller_number": "13800001111", "category": "housing.fund", "content": "公积金"},
                           register=True)
            number = o.number
            order_id = o.id
    finally:
        wo_services.AFTER_REGISTER.remove(hook)
    with db.session() as s:
        msgs = outbox.list_messages(s, order_number=number)
        assert len(msgs) == 1 and number in msgs[0].body and msgs[0].template == "order_receipt"
        assert msgs[0].idempotency_key == f"order:{number}:receipt" and msgs[0].encoding == "ucs2"
        history = s.scalars(select(WorkOrderEvent).where(WorkOrderEvent.order_id == order_id)).all()
        sms = [e for e in history if e.action == "sms"]
        assert len(sms) == 1 and sms[0].detail["sms_id"] == msgs[0].id and "****" in sms[0].detail["sms_to"]
        # the same order again: still one receipt
        outbox.order_receipt(s, SETTINGS, s.get(type(svc.get(s, number)), order_id))
        assert len(outbox.list_messages(s, order_number=number)) == 1


# ---- rate and dispatch -----------------------------------------------------------------------------------
def test_token_bucket_holds_the_rate() -> None:
    t = [0.0]
    slept: list[float] = []

    def sleep(d: float) -> None:
        slept.append(d)
        t[0] += d

    bucket = TokenBucket(10, clock=lambda: t[0], sleep=sleep)
    for _ in range(40):
        bucket.take()
    # 10 at once (the burst), then 30 more take 3 s at 10/s
    assert abs(t[0] - 3.0) < 1e-6 and len(slept) == 30


class FlakyGateway:
    """Refuses everything while ``down``; records every message it accepts."""

    def __init__(self) -> None:
        self.down = True
        self.got: list[int] = []

    def send(self, msg: OutgoingSms) -> SendResult:
        if self.down:
            return SendResult(RETRY, "ConnectionRefusedError")
        self.got.append(msg.id)
        return SendResult(ACCEPTED, "0: Accepted for delivery")

    def close(self) -> None:
        pass


def test_dispatcher_never_loses_a_message_while_the_gateway_is_down(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'd.sqlite'}"
    migrate.upgrade(url)
    db = Database(url)
    settings = SETTINGS.model_copy(update={"retry_min_s": 0.0, "retry_max_s": 0.0, "per_number_per_hour": 1000})
    gw = FlakyGateway()
    d = Dispatcher(db, settings, gw)
    with db.session() as s:
        ids = [outbox.enqueue(s, settings, f"1380013{i:04d}", "您好", f"k{i}")[0].id for i in range(30)]
    assert d.drain_once() == 0  # all refused, all kept
    with db.session() as s:
        assert outbox.counts(s) == {"pending": 30}
    gw.down = False
    while d.drain_once():
        pass
    assert sorted(gw.got) == ids
    with db.session() as s:
        assert outbox.counts(s) == {"sent": 30}
        assert s.query(SmsEvent).filter(SmsEvent.kind == "sent").count() == 30
    d.stop()
    db.dispose()


# ---- Kannel glue -----------------------------------------------------------------------------------------
def test_kannel_query_and_config() -> None:
    gw = KannelGateway(SETTINGS, "http://127.0.0.1:8080/sms")
    q = gw.query(OutgoingSms(7, "13800138000", "您好", 2, 1))
    assert "coding=2" in q and "charset=UTF-8" in q and "dlr-mask=31" in q and "to=13800138000" in q
    assert "%2Fsms%2Fdlr%2Ft0k%3Fid%3D7%26type%3D%25d" in q  # our id and the type placeholder
    assert gw.send(OutgoingSms(8, "13800138000", "x", 2, 11)).outcome == REJECTED  # more parts than Kannel sends
    conf = render_conf(SETTINGS, Path("/run/x"), "http://127.0.0.1:8080/sms/mo/t0k")
    assert 'password = "pw"' in conf and "mo-recode = true" in conf and "max-messages = 0" in conf


def test_fake_smsc_log_is_read_back(tmp_path: Path) -> None:
    log = tmp_path / "f.log"
    log.write_text(
        "2026 [1] [0] DEBUG: Got message 1: <12345 13900001111 ucs-2 %60%A8Y%7D>\n"
        "2026 [1] [0] DEBUG: Got message 2: <12345 13900001111 udh %05%00%03%01%02%02 data N-N->\n"
        "2026 [1] [0] DEBUG: Got message 3: <12345 13900001111 udh %05%00%03%01%02%01 data %00x>\n"
        "2026 [1] [0] DEBUG: Got message 4: <12345 13900001111 text hello>\n"
        "2026 [1] [0] DEBUG: Got message 5: <12345 13900001111 ucs-2 f+>\n", "latin-1")
    got = read_fake_smsc(log)
    assert [(m.text, m.parts) for m in got] == [("您好", 1), ("x中中", 2), ("hello", 1), ("映", 1)]
