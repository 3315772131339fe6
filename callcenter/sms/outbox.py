"""The durable outbox: enqueue (recorded once per idempotency key), claim for sending, record the
gateway's answer, apply delivery reports, the do-not-SMS list, per-number limits, templates.

Every function takes a SQLAlchemy session (the caller commits) and a naive-UTC ``now``. The state
machine is :data:`TRANSITIONS`; :func:`step` refuses anything else.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from callcenter import bounds
from callcenter.logs import mask_number
from callcenter.sms import templates as tpl
from callcenter.sms.gateway import ACCEPTED, REJECTED, OutgoingSms, SendResult
from callcenter.sms.models import (
    BLOCKED,
    DELIVERED,
    EXPIRED,
    FAILED,
    PENDING,
    SENDING,
    SENT,
    SmsEvent,
    SmsInbound,
    SmsMessage,
    SmsOptOut,
    SmsTemplate,
)
from callcenter.sms.segments import segment
from callcenter.sms.settings import SmsSettings
from callcenter.store.models import now_utc

log = logging.getLogger(__name__)

NUMBER_RE = re.compile(r"^\+?[0-9]{5,20}$")

# (state, event) → new state. DLRs may overtake the send result (Kannel calls back within a
# millisecond), so they apply to 'sending' too, and a late 'accepted' leaves a delivered row delivered.
TRANSITIONS: dict[tuple[str, str], str] = {
    (PENDING, "claim"): SENDING,
    (PENDING, "block"): BLOCKED,
    (PENDING, "expire"): EXPIRED,
    (PENDING, "defer"): PENDING,
    # A report of an earlier attempt (its answer was lost) proves the gateway had it: no resend.
    (PENDING, "dlr_ack"): SENT,
    (PENDING, "dlr_delivered"): DELIVERED,
    (PENDING, "dlr_failed"): FAILED,
    (SENDING, "accepted"): SENT,
    (SENDING, "retry"): PENDING,
    (SENDING, "rejected"): FAILED,
    (SENDING, "lease_expired"): PENDING,
    (SENDING, "dlr_ack"): SENDING,
    (SENDING, "dlr_delivered"): DELIVERED,
    (SENDING, "dlr_failed"): FAILED,
    (SENT, "dlr_ack"): SENT,
    (SENT, "dlr_delivered"): DELIVERED,
    (SENT, "dlr_failed"): FAILED,
    (DELIVERED, "accepted"): DELIVERED,
    (DELIVERED, "dlr_ack"): DELIVERED,
    (DELIVERED, "dlr_delivered"): DELIVERED,
    (FAILED, "accepted"): FAILED,
    (FAILED, "dlr_ack"): FAILED,
    (FAILED, "dlr_failed"): FAILED,
}

ACCEPTED_REPLY = "accepted"

# Kannel DLR types: 1 delivered, 2 failed, 4 buffered, 8 SMSC accepted, 16 SMSC rejected.
DLR_EVENTS = {1: "dlr_delivered", 2: "dlr_failed", 4: "dlr_ack", 8: "dlr_ack", 16: "dlr_failed"}


class SmsError(ValueError):
    """A message that cannot be queued (bad number, too long, unknown template …)."""


class IllegalStep(SmsError):
    pass


def step(state: str, event: str) -> str:
    """The state after ``event``; :class:`IllegalStep` if the machine does not allow it."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalStep(f"{event} not allowed in state {state}") from None


def clean_number(number: str) -> str:
    n = re.sub(r"[\s-]", "", str(number or ""))[:40]
    if not NUMBER_RE.match(n):
        raise SmsError("bad_number")
    return n


def backoff(settings: SmsSettings, attempts: int) -> float:
    """Seconds before attempt ``attempts + 1``: doubling from retry_min_s, capped at retry_max_s."""
    return min(settings.retry_max_s, settings.retry_min_s * (2 ** max(0, attempts - 1)))


# ---- templates ----------------------------------------------------------------------------------------
def template_body(session: Session, name: str) -> str:
    if name not in tpl.SPECS:
        raise SmsError("unknown_template")
    row = session.get(SmsTemplate, name)
    return row.body if row is not None else tpl.SPECS[name].default


def list_templates(session: Session) -> list[dict[str, Any]]:
    rows = {r.name: r for r in session.scalars(select(SmsTemplate))}
    out = []
    for name, spec in tpl.SPECS.items():
        r = rows.get(name)
        out.append({"name": name, "body": r.body if r else spec.default, "version": r.version if r else 0,
                    "edited": r is not None, "updated_by": r.updated_by if r else "",
                    "required": sorted(spec.required), "optional": sorted(spec.optional)})
    return out


def set_template(session: Session, name: str, body: str, who: str, settings: SmsSettings,
                 now: datetime | None = None) -> SmsTemplate:
    """Validate and store a template body (:class:`~callcenter.sms.templates.TemplateError` if bad)."""
    body = tpl.validate(name, body, settings.max_segments)
    row = session.get(SmsTemplate, name)
    now = now or now_utc()
    if row is None:
        row = SmsTemplate(name=name, body=body, version=1, updated_at=now, updated_by=who)
        session.add(row)
    elif row.body != body:
        row.body, row.version, row.updated_at, row.updated_by = body, row.version + 1, now, who
    return row


def reset_template(session: Session, name: str) -> None:
    row = session.get(SmsTemplate, name)
    if row is not None:
        session.delete(row)


# ---- opt-out ------------------------------------------------------------------------------------------
def is_opted_out(session: Session, number: str) -> bool:
    return session.get(SmsOptOut, number) is not None


def opt_out(session: Session, number: str, source: str, note: str = "", now: datetime | None = None) -> bool:
    """Put ``number`` on the do-not-SMS list; True if it was not there. Its pending messages are blocked."""
    number = clean_number(number)
    now = now or now_utc()
    added = False
    if session.get(SmsOptOut, number) is None:
        session.add(SmsOptOut(number=number, at=now, source=source[:16], note=note[:200]))
        added = True
    for m in session.scalars(select(SmsMessage).where(SmsMessage.number == number, SmsMessage.state == PENDING)):
        _move(session, m, "block", now, {"source": source})
    return added


def opt_in(session: Session, number: str) -> bool:
    row = session.get(SmsOptOut, clean_number(number))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def list_optouts(session: Session, limit: int = 200) -> list[SmsOptOut]:
    return list(session.scalars(select(SmsOptOut).order_by(SmsOptOut.at.desc()).limit(limit)))


# ---- enqueue --------------------------------------------------------------------------------------------
def _event(session: Session, m: SmsMessage, kind: str, now: datetime, detail: dict[str, Any] | None = None) -> bool:
    """Record ``kind`` for message ``m`` once; False if it was already recorded."""
    exists = session.scalar(select(SmsEvent.id).where(SmsEvent.message_id == m.id, SmsEvent.kind == kind))
    if exists is not None:
        return False
    session.add(SmsEvent(message_id=m.id, kind=kind, at=now, detail=detail or {}))
    return True


def _move(session: Session, m: SmsMessage, event: str, now: datetime, detail: dict[str, Any] | None = None) -> str:
    old = m.state
    m.state = step(old, event)
    m.updated_at = now
    if m.state != old:
        _event(session, m, m.state, now, detail)
        if m.state in (DELIVERED, FAILED, BLOCKED, EXPIRED):
            _order_note(session, m, now)
    return m.state


def _order_note(session: Session, m: SmsMessage, now: datetime) -> None:
    """Put the message on its order's history (queued, and again when it is final)."""
    if not m.order_number:
        return
    from callcenter.workorders.models import WorkOrder, WorkOrderEvent

    order = session.scalar(select(WorkOrder).where(WorkOrder.number == m.order_number))
    if order is None:
        return
    session.add(WorkOrderEvent(order_id=order.id, at=now, actor="sms", actor_role="system", action="sms",
                               from_state=order.state, to_state=order.state,
                               detail={"sms_id": m.id, "sms_template": m.template or "", "sms_state": m.state,
                                       "sms_to": mask_number(m.number), "sms_segments": m.segments}))


def enqueue(session: Session, settings: SmsSettings, number: str, body: str, key: str, *,
            template: str | None = None, order_number: str | None = None, created_by: str = "",
            now: datetime | None = None) -> tuple[SmsMessage, bool]:
    """Queue a message once per ``key``: (the row, True if new). A number on the do-not-SMS list
    gets a row in state ``blocked`` (recorded, never sent)."""
    now = now or now_utc()
    key = str(key)[:128]
    if not key:
        raise SmsError("missing_key")
    existing = session.scalar(select(SmsMessage).where(SmsMessage.idempotency_key == key))
    if existing is not None:
        return existing, False
    number = clean_number(number)
    body = str(body or "").strip()
    if not body or len(body) > 1000:
        raise SmsError("bad_text")
    seg = segment(body)
    if seg.segments > settings.max_segments:
        raise SmsError("too_long")
    m = SmsMessage(idempotency_key=key, number=number, template=template, body=body, encoding=seg.encoding,
                   segments=seg.segments, order_number=order_number, state=PENDING, attempts=0,
                   next_attempt_at=now, created_at=now, updated_at=now, created_by=created_by[:64])
    # A concurrent enqueue of the same key fails this flush on the unique key (the caller's
    # transaction rolls back; retried, it finds the row above): recorded once either way.
    session.add(m)
    session.flush()
    _event(session, m, "queued", now, {"by": created_by[:64]})
    _order_note(session, m, now)
    if is_opted_out(session, number):
        _move(session, m, "block", now, {"reason": "opted_out"})
    log.info("sms %d queued to %s (%s, %d part(s))", m.id, mask_number(number), template or "text", seg.segments)
    return m, True


def enqueue_template(session: Session, settings: SmsSettings, number: str, template: str, values: dict[str, str],
                     key: str, **kwargs: Any) -> tuple[SmsMessage, bool]:
    body = tpl.render(template_body(session, template), {"hotline": settings.sender, **values})
    return enqueue(session, settings, number, body, key, template=template, **kwargs)


def order_receipt(session: Session, settings: SmsSettings, order: Any) -> SmsMessage | None:
    """The receipt for a registered order (once per order), if it has a mobile number to send to."""
    number = order.caller_number or ""
    try:
        number = clean_number(number)
    except SmsError:
        return None
    m, _new = enqueue_template(session, settings, number, "order_receipt", {"order_number": order.number},
                               f"order:{order.number}:receipt", order_number=order.number, created_by="system")
    return m


# ---- sending --------------------------------------------------------------------------------------------
def claim(session: Session, settings: SmsSettings, now: datetime, limit: int) -> list[OutgoingSms]:
    """Take up to ``limit`` due messages for sending (state ``sending``), oldest first.

    Rows left ``sending`` past the lease (a daemon killed mid-send) are due again. Numbers over
    their hourly limit are deferred; opted-out numbers blocked; rows older than max_age_h expired.
    """
    stale = now - timedelta(seconds=settings.send_lease_s)
    for m in session.scalars(select(SmsMessage).where(SmsMessage.state == SENDING, SmsMessage.claimed_at < stale)
                             .limit(limit)):
        _move(session, m, "lease_expired", now)
        m.next_attempt_at = now
        m.last_error = "lease expired (sent again)"
    rows = list(session.scalars(
        select(SmsMessage).where(SmsMessage.state == PENDING, SmsMessage.next_attempt_at <= now)
        .order_by(SmsMessage.next_attempt_at, SmsMessage.id).limit(limit)))
    if not rows:
        return []
    hour_ago = now - timedelta(hours=1)
    numbers = {m.number for m in rows}
    sent_counts = dict(session.execute(
        select(SmsMessage.number, func.count()).where(SmsMessage.number.in_(numbers),
                                                      SmsMessage.sent_at >= hour_ago)
        .group_by(SmsMessage.number)).all())
    opted = set(session.scalars(select(SmsOptOut.number).where(SmsOptOut.number.in_(numbers))))
    out = []
    max_age = timedelta(hours=settings.max_age_h)
    for m in rows:
        if m.number in opted:
            _move(session, m, "block", now, {"reason": "opted_out"})
            continue
        if now - m.created_at > max_age:
            _move(session, m, "expire", now)
            continue
        if sent_counts.get(m.number, 0) >= settings.per_number_per_hour:
            _move(session, m, "defer", now)
            m.next_attempt_at = now + timedelta(minutes=10)
            m.last_error = "rate limited (per number)"
            continue
        sent_counts[m.number] = sent_counts.get(m.number, 0) + 1
        out.append(OutgoingSms(m.id, m.number, m.body, 2 if m.encoding == "ucs2" else 0, m.segments))
    if not out:
        return []
    # One statement for the batch (no event per attempt: the row counts its attempts); only rows
    # still pending are taken, so two dispatchers never claim the same row.
    session.flush()
    step(PENDING, "claim")
    claimed = set(session.scalars(
        update(SmsMessage).where(SmsMessage.id.in_([m.id for m in out]), SmsMessage.state == PENDING)
        .values(state=SENDING, claimed_at=now, updated_at=now, attempts=SmsMessage.attempts + 1)
        .returning(SmsMessage.id), execution_options={"synchronize_session": False}))
    session.expire_all()
    return [m for m in out if m.id in claimed]


def record(session: Session, settings: SmsSettings, results: Iterable[tuple[int, SendResult]], now: datetime) -> None:
    """Store the gateway's answers (one transaction for a batch)."""
    results = list(results)
    accepted = {mid: res for mid, res in results if res.outcome == ACCEPTED}
    done: set[int] = set()
    if accepted:
        # The common case in one statement: accepted rows still 'sending' become 'sent'.
        step(SENDING, "accepted")
        done = set(session.scalars(
            update(SmsMessage).where(SmsMessage.id.in_(list(accepted)), SmsMessage.state == SENDING)
            .values(state=SENT, sent_at=now, updated_at=now, last_error="", gateway_reply=ACCEPTED_REPLY)
            .returning(SmsMessage.id), execution_options={"synchronize_session": False}))
        if done:
            session.execute(insert(SmsEvent), [{"message_id": mid, "kind": SENT, "at": now,
                                                "detail": {"reply": accepted[mid].reply[:200]}} for mid in done])
        session.expire_all()
    for mid, res in results:
        if mid in done:
            continue
        m = session.get(SmsMessage, mid)
        if m is None or m.state not in (SENDING, DELIVERED, FAILED):
            continue  # reclaimed meanwhile: its newer attempt will be recorded
        if res.outcome == ACCEPTED:
            m.gateway_reply = res.reply[:200]
            m.sent_at = m.sent_at or now
            m.last_error = ""
            if m.state == SENDING:
                _move(session, m, "accepted", now, {"reply": res.reply[:200], "attempt": m.attempts})
            else:
                _event(session, m, SENT, now, {"reply": res.reply[:200], "attempt": m.attempts})
        elif m.state != SENDING:
            continue
        elif res.outcome == REJECTED:
            m.last_error = res.reply[:200]
            _move(session, m, "rejected", now, {"reply": res.reply[:200]})
            log.warning("sms %d to %s rejected: %s", m.id, mask_number(m.number), res.reply)
        else:
            m.last_error = res.reply[:200]
            _move(session, m, "retry", now)
            m.next_attempt_at = now + timedelta(seconds=backoff(settings, m.attempts))


def apply_dlr(session: Session, message_id: int, dlr_type: int, foreign_id: str = "",
              now: datetime | None = None) -> str | None:
    """A delivery report for our message ``message_id``; the new state (None: unknown message).
    Reports of a kind already recorded change nothing (the gateway may call back twice)."""
    return apply_dlrs(session, [(message_id, dlr_type, foreign_id)], now)[0]


def apply_dlrs(session: Session, reports: list[tuple[int, int, str]], now: datetime | None = None) -> list[str | None]:
    """Many reports (id, type, foreign id) in one pass: two reads and one insert for the batch."""
    now = now or now_utc()
    ids = {mid for mid, _t, _f in reports}
    msgs = {m.id: m for m in session.scalars(select(SmsMessage).where(SmsMessage.id.in_(ids)))}
    seen = {(mid, kind) for mid, kind in session.execute(
        select(SmsEvent.message_id, SmsEvent.kind).where(SmsEvent.message_id.in_(ids))).all()}
    new_events: list[dict[str, Any]] = []
    out: list[str | None] = []
    for mid, dlr_type, foreign_id in reports:
        event, m = DLR_EVENTS.get(dlr_type), msgs.get(mid)
        if m is None or event is None:
            out.append(None)
            continue
        if foreign_id and not m.gateway_id:
            m.gateway_id = foreign_id[:64]
        kind = f"dlr_{dlr_type}"
        if (m.state, event) not in TRANSITIONS or (mid, kind) in seen:
            out.append(m.state)
            continue
        seen.add((mid, kind))
        new_events.append({"message_id": mid, "kind": kind, "at": now, "detail": {"fid": foreign_id[:64]}})
        old = m.state
        m.state = step(old, event)
        m.updated_at = now
        if m.state == DELIVERED and m.delivered_at is None:
            m.delivered_at = now
        if m.state != old and (mid, m.state) not in seen:
            seen.add((mid, m.state))
            new_events.append({"message_id": mid, "kind": m.state, "at": now, "detail": {}})
            if m.state in (DELIVERED, FAILED):
                _order_note(session, m, now)
        out.append(m.state)
    if new_events:
        session.execute(insert(SmsEvent), new_events)
    return out


def receive_mo(session: Session, settings: SmsSettings, number: str, to: str, text: str,
               now: datetime | None = None) -> str:
    """A citizen's message: stored; an opt-out keyword (TD, 退订 …) puts the number on the list."""
    now = now or now_utc()
    number = clean_number(number)
    # from the gateway, i.e. from anyone: no NUL or control characters (PostgreSQL refuses NUL)
    text = bounds.clean(str(text or ""), multiline=True)[:1000]
    action = ""
    if text.strip().upper() in {k.upper() for k in settings.optout_keywords}:
        opt_out(session, number, "mo", text.strip()[:200], now)
        action = "opt_out"
        log.info("sms opt-out from %s", mask_number(number))
    session.add(SmsInbound(number=number[:32], to=bounds.clean(str(to or ""))[:32], text=text, received_at=now,
                           action=action))
    return action


def list_messages(session: Session, number: str | None = None, order_number: str | None = None,
                  state: str | None = None, limit: int = 50) -> list[SmsMessage]:
    stmt = select(SmsMessage).order_by(SmsMessage.id.desc()).limit(limit)
    if number:
        stmt = stmt.where(SmsMessage.number == clean_number(number))
    if order_number:
        stmt = stmt.where(SmsMessage.order_number == order_number)
    if state:
        stmt = stmt.where(SmsMessage.state == state)
    return list(session.scalars(stmt))


def events_of(session: Session, message_id: int) -> list[SmsEvent]:
    return list(session.scalars(select(SmsEvent).where(SmsEvent.message_id == message_id).order_by(SmsEvent.id)))


def counts(session: Session) -> dict[str, int]:
    return dict(session.execute(select(SmsMessage.state, func.count()).group_by(SmsMessage.state)).all())


def retry_now(session: Session) -> int:
    """Make every pending message due now (after the gateway is back); the number of rows."""
    res = session.execute(update(SmsMessage).where(SmsMessage.state == PENDING).values(next_attempt_at=now_utc()))
    return int(res.rowcount or 0)
