"""Work-order logic: create, edit, move through the lifecycle, merge duplicates, read history.

Every function takes a SQLAlchemy session (the caller commits; the web runs these in the database
thread pool) and the :class:`~callcenter.auth.services.Actor` acting. Every change to an order
writes a :class:`WorkOrderEvent` in the same transaction: who, when, what, from which state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from callcenter.auth.roles import Perm, has
from callcenter.auth.services import Actor
from callcenter.calendars import CalendarFiles, WorkingDays
from callcenter.errors import Term, Terms
from callcenter.store.models import Call, Recording, Voicemail, now_utc
from callcenter.workorders import states as st
from callcenter.workorders.deadlines import WorkCalendar, due_status, limit_for
from callcenter.workorders.models import WorkOrder, WorkOrderAttachment, WorkOrderCall, WorkOrderEvent
from callcenter.workorders.numbering import next_number
from callcenter.workorders.settings import WorkOrderSettings

if TYPE_CHECKING:
    from callcenter.config import Config

SOURCES = ("call", "voicemail", "online", "api")
URGENCIES = ("normal", "urgent", "very_urgent")
SATISFACTION = ("satisfied", "basically_satisfied", "unsatisfied", "unreachable")
# Deadline filters of the order lists.
DUE_FILTERS = ("flagged", "due_soon", "overdue")
# Fields a person or platform may set, with their longest length.
EDITABLE: dict[str, int] = {
    "caller_number": 80, "caller_name": 128, "contact": 128, "district": 64, "address": 256, "category": 64,
    "urgency": 16, "title": 200, "content": 20000, "hotline": 64, "request_type": 16,
}
# Front desk may edit an order's request details in these states (later, the text is what was handed on).
EDITABLE_STATES = frozenset({st.State.CREATED, st.State.REGISTERED, st.State.COORDINATING, st.State.RETURNED})


# Called in the registering transaction once an order is registered (the SMS receipt); plugins add to it.
AFTER_REGISTER: list[Callable[[Session, WorkOrder], None]] = []


class NotFound(st.WorkOrderError):
    code = 404


class Conflict(st.WorkOrderError):
    code = 409


@dataclass
class Services:
    """Work-order operations configured by the deployment's settings; ``clock`` returns naive UTC.

    ``working_days`` gives the city's working-day calendar (asked at every deadline, so an edit of
    the calendar file counts from the next one); without it, Monday to Friday without holidays.
    """

    settings: WorkOrderSettings
    timezone: str = "Asia/Shanghai"
    clock: Callable[[], datetime] = now_utc
    working_days: Callable[[], WorkingDays] | None = None
    calendar_files: CalendarFiles | None = None

    def __post_init__(self) -> None:
        self.zone = ZoneInfo(self.timezone)
        self._calendar: tuple[WorkingDays | None, WorkCalendar] = (None, WorkCalendar(tz=self.timezone))

    @classmethod
    def for_config(cls, config: Config, clock: Callable[[], datetime] = now_utc) -> Services:
        """The services of a deployment: deadlines on the calendar the IVR's business hours use."""
        calendar = CalendarFiles(config.ivr.flows_dir, config.desk.workorders.calendar, config.timezone)
        return cls(config.desk.workorders, config.timezone, clock, calendar.current, calendar)

    @property
    def calendar(self) -> WorkCalendar:
        if self.working_days is None:
            return self._calendar[1]
        days = self.working_days()
        if days is not self._calendar[0]:
            self._calendar = (days, WorkCalendar.of(days))
        return self._calendar[1]

    # ---- validation ----------------------------------------------------------------------------------
    def clean_fields(self, fields: dict[str, Any]) -> dict[str, str]:
        """Known fields only, stripped, length-checked, category/urgency/district validated."""
        out: dict[str, str] = {}
        for name, value in fields.items():
            if name not in EDITABLE:
                raise st.WorkOrderError("unknown_field", name=name, fields=Terms("field", EDITABLE))
            text = "" if value is None else str(value).strip()
            if len(text) > EDITABLE[name]:
                raise st.WorkOrderError("too_long", field=Term("field", name), n=EDITABLE[name])
            out[name] = text
        if out.get("category") and out["category"] not in self.settings.category_codes():
            raise st.WorkOrderError("unknown_category", code=out["category"])
        if out.get("request_type") and out["request_type"] not in self.settings.request_type_codes():
            raise st.WorkOrderError("unknown_request_type", code=out["request_type"])
        if "urgency" in out and out["urgency"] not in URGENCIES:
            raise st.WorkOrderError("bad_urgency", allowed=Terms("urgency", URGENCIES))
        if "urgency" in out and not out["urgency"]:
            out["urgency"] = "normal"
        return out

    def _department(self, code: str) -> str:
        if code not in self.settings.department_codes():
            raise st.WorkOrderError("unknown_department", code=code)
        return code

    # ---- reading -------------------------------------------------------------------------------------
    @staticmethod
    def get(session: Session, number: str) -> WorkOrder:
        order = session.scalar(select(WorkOrder).where(WorkOrder.number == number))
        if order is None:
            raise NotFound("order_not_found", number=number)
        return order

    @staticmethod
    def can_read(actor: Actor, order: WorkOrder) -> bool:
        if has(actor.role, Perm.ORDER_READ_ALL):
            return True
        if has(actor.role, Perm.ORDER_READ_DEPT) and actor.department and order.department == actor.department:
            return True
        # A platform reads what it submitted.
        return actor.role == "api_client" and order.created_by == actor.username

    def get_for(self, session: Session, actor: Actor, number: str) -> WorkOrder:
        """The order if ``actor`` may see it; an order they may not see looks like one that does not exist."""
        order = self.get(session, number)
        if not self.can_read(actor, order):
            raise NotFound("order_not_found", number=number)
        return order

    @staticmethod
    def history(session: Session, order: WorkOrder) -> list[WorkOrderEvent]:
        return list(session.scalars(select(WorkOrderEvent).where(WorkOrderEvent.order_id == order.id)
                                    .order_by(WorkOrderEvent.id)))

    @staticmethod
    def calls_of(session: Session, order: WorkOrder) -> list[dict[str, Any]]:
        """The order's linked calls with their recordings."""
        rows = session.execute(
            select(WorkOrderCall.linkedid, Call.started_at, Call.caller_number, Call.hotline, Call.answered_by,
                   Call.recording_path)
            .join(Call, Call.linkedid == WorkOrderCall.linkedid, isouter=True)
            .where(WorkOrderCall.order_id == order.id).order_by(WorkOrderCall.id)
        ).all()
        out = []
        for linkedid, started_at, number, hotline, agent, recording in rows:
            recs = [r.path for r in session.scalars(select(Recording).where(Recording.linkedid == linkedid))]
            if recording and recording not in recs:
                recs.append(recording)
            out.append({"linkedid": linkedid, "started_at": started_at, "caller_number": number or "",
                        "hotline": hotline, "agent": agent, "recordings": recs})
        return out

    @staticmethod
    def attachments_of(session: Session, order: WorkOrder) -> list[WorkOrderAttachment]:
        return list(session.scalars(select(WorkOrderAttachment).where(WorkOrderAttachment.order_id == order.id)))

    def list_orders(self, session: Session, actor: Actor, state: str | None = None, due: str | None = None,
                    source: str | None = None, caller_number: str | None = None, mine: bool = False,
                    limit: int = 100) -> list[WorkOrder]:
        """Orders the actor may see, newest first; ``due`` = 'overdue' | 'due_soon' flags deadlines."""
        stmt = select(WorkOrder).order_by(WorkOrder.created_at.desc(), WorkOrder.id.desc()).limit(limit)
        if not has(actor.role, Perm.ORDER_READ_ALL):
            if actor.role == "api_client":
                stmt = stmt.where(or_(WorkOrder.department == (actor.department or "\0"),
                                      WorkOrder.created_by == actor.username))
            else:
                stmt = stmt.where(WorkOrder.department == (actor.department or "\0"))
        if state:
            stmt = stmt.where(WorkOrder.state == st.State(state).value)
        if source:
            stmt = stmt.where(WorkOrder.source == source)
        if caller_number:
            stmt = stmt.where(WorkOrder.caller_number == caller_number)
        if mine:
            stmt = stmt.where(WorkOrder.agent == (actor.agent_id or actor.username))
        if due:
            now = self.clock()
            open_states = [s.value for s in st.OPEN_STATES]
            stmt = stmt.where(WorkOrder.state.in_(open_states), WorkOrder.deadline_at.is_not(None))
            if due == "overdue":
                stmt = stmt.where(WorkOrder.deadline_at < now)
            elif due == "due_soon":
                stmt = stmt.where(WorkOrder.deadline_at >= now,
                                  WorkOrder.deadline_at <= now + timedelta(hours=self.settings.warn_before_hours))
            elif due == "flagged":
                stmt = stmt.where(WorkOrder.deadline_at <= now + timedelta(hours=self.settings.warn_before_hours))
            else:
                raise st.WorkOrderError("bad_due", allowed=Terms("due", DUE_FILTERS))
            stmt = stmt.order_by(None).order_by(WorkOrder.deadline_at)
        return list(session.scalars(stmt))

    def due(self, order: WorkOrder) -> str:
        """'overdue' | 'due_soon' | 'on_time' | 'none' for an open order; closed ones are never flagged."""
        if st.State(order.state) not in st.OPEN_STATES:
            return "none"
        return due_status(order.deadline_at, self.clock(), self.settings.warn_before_hours)

    def duplicates(self, session: Session, caller_number: str, address: str, category: str,
                   exclude: int | None = None) -> list[WorkOrder]:
        """Possible duplicates: same caller, or same address and category, within the window."""
        since = self.clock() - timedelta(days=self.settings.duplicate_window_days)
        conds = []
        if caller_number:
            conds.append(WorkOrder.caller_number == caller_number)
        if address and category:
            conds.append(and_(WorkOrder.address == address, WorkOrder.category == category))
        if not conds:
            return []
        stmt = (select(WorkOrder).where(or_(*conds), WorkOrder.created_at >= since,
                                        WorkOrder.state.not_in([st.State.MERGED.value, st.State.DISCARDED.value]))
                .order_by(WorkOrder.created_at.desc()).limit(20))
        if exclude is not None:
            stmt = stmt.where(WorkOrder.id != exclude)
        return list(session.scalars(stmt))

    @staticmethod
    def caller_history(session: Session, caller_number: str, limit: int = 10) -> dict[str, list[Any]]:
        """A caller's earlier orders and calls (the screen-pop shows them)."""
        if not caller_number:
            return {"orders": [], "calls": []}
        orders = list(session.scalars(select(WorkOrder).where(WorkOrder.caller_number == caller_number)
                                      .order_by(WorkOrder.created_at.desc()).limit(limit)))
        calls = list(session.scalars(select(Call).where(Call.caller_number == caller_number)
                                     .order_by(Call.started_at.desc()).limit(limit)))
        return {"orders": orders, "calls": calls}

    # ---- writing -------------------------------------------------------------------------------------
    def _event(self, session: Session, order: WorkOrder, actor: Actor, action: str, from_state: str | None,
               detail: dict[str, Any] | None = None, at: datetime | None = None) -> WorkOrderEvent:
        event = WorkOrderEvent(order_id=order.id, at=at or self.clock(), actor=actor.username,
                               actor_role=actor.role, action=action, from_state=from_state, to_state=order.state,
                               detail=detail or {})
        session.add(event)
        return event

    def create(self, session: Session, actor: Actor, source: str, fields: dict[str, Any],
               linkedid: str | None = None, voicemail_id: str | None = None, register: bool = False) -> WorkOrder:
        """A new order in state ``created`` (and ``registered`` at once when ``register``)."""
        if source not in SOURCES:
            raise st.WorkOrderError("bad_source", allowed=Terms("source", SOURCES))
        if not has(actor.role, Perm.ORDER_CREATE) and not has(actor.role, Perm.SUBMIT) and actor.role != "public":
            raise st.Forbidden("role_may_not_create", role=Term("role", actor.role))
        clean = self.clean_fields(fields)
        now = self.clock()
        # The number first: on SQLite this takes the write lock before anything is read.
        number = next_number(session, self.settings.number_prefix, now.replace(tzinfo=UTC).astimezone(self.zone),
                             self.settings.number_digits)
        order = WorkOrder(number=number, state=st.State.CREATED.value, source=source, created_at=now,
                          updated_at=now, created_by=actor.username, voicemail_id=voicemail_id,
                          agent=actor.agent_id or (actor.username if has(actor.role, Perm.DESK) else None),
                          **{k: clean.get(k, "") for k in EDITABLE if k not in ("hotline", "urgency")},
                          hotline=clean.get("hotline") or None, urgency=clean.get("urgency") or "normal")
        session.add(order)
        session.flush()
        self._event(session, order, actor, "create", None,
                    {"source": source, **({"linkedid": linkedid} if linkedid else {}),
                     **({"voicemail": voicemail_id} if voicemail_id else {})}, at=now)
        if linkedid:
            session.add(WorkOrderCall(order_id=order.id, linkedid=linkedid, linked_at=now))
        if register:
            self.act(session, actor, order, st.Action.REGISTER, {})
        return order

    def edit(self, session: Session, actor: Actor, order: WorkOrder, fields: dict[str, Any],
             expected_version: int | None = None) -> dict[str, list[str]]:
        """Change request details (front desk, before the order is handed on); returns what changed."""
        if not has(actor.role, Perm.ORDER_CREATE):
            raise st.Forbidden("role_may_not_edit", role=Term("role", actor.role))
        if st.State(order.state) not in EDITABLE_STATES:
            raise st.IllegalTransition(st.State(order.state), "edit")
        self._check_version(order, expected_version)
        clean = self.clean_fields(fields)
        changes = {k: [getattr(order, k) or "", v] for k, v in clean.items() if (getattr(order, k) or "") != v}
        if not changes:
            return {}
        for k, (_old, new) in changes.items():
            setattr(order, k, new or (None if k == "hotline" else new))
        order.updated_at = self.clock()
        self._event(session, order, actor, "edit", order.state, {"changes": changes})
        session.flush()  # bumps the version now (and fails here if someone else changed the row)
        return changes

    @staticmethod
    def _check_version(order: WorkOrder, expected: int | None) -> None:
        if expected is not None and expected != order.version:
            raise Conflict("order_changed", number=order.number, version=order.version, had=expected)

    def act(self, session: Session, actor: Actor, order: WorkOrder, action: st.Action | str,
            args: dict[str, Any], expected_version: int | None = None) -> WorkOrder:
        """Move ``order`` by ``action`` (checked against the transition table) and record the event."""
        args = {k: (v.strip() if isinstance(v, str) else v) for k, v in (args or {}).items()}
        from_state = st.State(order.state)
        same_dept = bool(actor.department) and actor.department == order.department
        t = st.transition(from_state, action, actor.role, {**self._current_args(order), **args}, same_dept)
        self._check_version(order, expected_version)
        action = st.Action(action)
        now = self.clock()
        detail: dict[str, Any] = {k: v for k, v in args.items() if v not in (None, "")}
        if action == st.Action.REGISTER:
            for name in ("category", "content"):
                if not getattr(order, name):
                    raise st.MissingField("missing_fields", action=Term("action", "register"),
                                          fields=Terms("field", [name]))
            order.registered_at = now
            if order.agent is None and has(actor.role, Perm.DESK):
                order.agent = actor.agent_id or actor.username
        if t.mode is not None:
            order.handling_mode = t.mode
        if action in (st.Action.DISPATCH, st.Action.REDISPATCH):
            new_dept = self._department(str(args["department"]))
            detail["department"] = new_dept
            if order.department and order.department != new_dept:
                detail["previous_department"] = order.department
            order.department = new_dept
            if args.get("assist_departments") is not None:
                assist = [self._department(c.strip()) for c in str(args["assist_departments"]).split(",") if c.strip()]
                assist = [c for c in dict.fromkeys(assist) if c != new_dept]
                order.assist_departments = ",".join(assist)
                detail["assist_departments"] = order.assist_departments
            if order.dispatched_at is None:
                order.dispatched_at = now
                # The department's clock starts at the first dispatch; returns do not restart it.
                order.deadline_at = self.calendar.deadline(now, limit_for(self.settings, "dispatch", order.urgency))
        elif action == st.Action.RECALL:
            # back at the front desk: the department no longer sees it; its deadline clock keeps running
            detail["previous_department"] = order.department
            order.department = None
            order.assist_departments = ""
        elif action == st.Action.COORDINATE:
            order.deadline_at = self.calendar.deadline(order.registered_at or now,
                                                       limit_for(self.settings, "coordinated"))
        elif action == st.Action.CLOSE_IMMEDIATELY:
            order.deadline_at = self.calendar.deadline(order.registered_at or now,
                                                       limit_for(self.settings, "immediate"))
        if action in (st.Action.CLOSE_IMMEDIATELY, st.Action.CLOSE_COORDINATED, st.Action.HANDLE):
            order.result = str(args["result"])
        if action == st.Action.FOLLOW_UP:
            if args["satisfaction"] not in SATISFACTION:
                raise st.WorkOrderError("bad_satisfaction", allowed=Terms("satisfaction", SATISFACTION))
            order.satisfaction = str(args["satisfaction"])
        if action == st.Action.MERGE:
            target = self.get(session, str(args["target"]))
            if target.id == order.id or st.State(target.state) in (st.State.MERGED, st.State.DISCARDED):
                raise st.WorkOrderError("cannot_merge_into", number=target.number, state=Term("state", target.state))
            order.merged_into = target.number
            for link in session.scalars(select(WorkOrderCall).where(WorkOrderCall.order_id == order.id)):
                if session.scalar(select(WorkOrderCall).where(WorkOrderCall.order_id == target.id,
                                                              WorkOrderCall.linkedid == link.linkedid)) is None:
                    session.add(WorkOrderCall(order_id=target.id, linkedid=link.linkedid, linked_at=now))
            self._event(session, target, actor, "merged_from", target.state, {"order": order.number}, at=now)
            target.updated_at = now
        order.state = t.to.value
        if t.to == st.State.CLOSED:
            order.closed_at = now
            order.closed_on_time = order.deadline_at is None or now <= order.deadline_at
        if t.to == st.State.ARCHIVED:
            order.archived_at = now
        if t.to == st.State.DISPATCHED and action == st.Action.REOPEN:
            order.satisfaction = None
        order.updated_at = now
        self._event(session, order, actor, action.value, from_state.value, detail, at=now)
        self._sync_voicemail(session, order, t.to)
        if action == st.Action.REGISTER:
            for hook in AFTER_REGISTER:
                hook(session, order)
        session.flush()
        return order

    @staticmethod
    def _current_args(order: WorkOrder) -> dict[str, Any]:
        # Required fields may come from the order itself (register needs category and content).
        return {"category": order.category, "content": order.content}

    @staticmethod
    def _sync_voicemail(session: Session, order: WorkOrder, to: st.State) -> None:
        if not order.voicemail_id:
            return
        status = {st.State.REGISTERED: "converted", st.State.DISCARDED: "discarded",
                  st.State.MERGED: "converted"}.get(to)
        if status:
            session.execute(update(Voicemail).where(Voicemail.id == order.voicemail_id).values(status=status))

    def link_call(self, session: Session, actor: Actor, order: WorkOrder, linkedid: str) -> bool:
        """Link another call (the caller rang again about it); False when already linked."""
        exists = session.scalar(select(WorkOrderCall).where(WorkOrderCall.order_id == order.id,
                                                            WorkOrderCall.linkedid == linkedid))
        if exists is not None:
            return False
        session.add(WorkOrderCall(order_id=order.id, linkedid=linkedid, linked_at=self.clock()))
        order.updated_at = self.clock()
        self._event(session, order, actor, "link_call", order.state, {"linkedid": linkedid})
        return True

    def add_attachment(self, session: Session, actor: Actor, order: WorkOrder, att: WorkOrderAttachment) -> None:
        att.order_id = order.id
        session.add(att)
        self._event(session, order, actor, "attach", order.state,
                    {"filename": att.filename, "size": att.size_bytes, "sha256": att.sha256})

    # ---- the work list: online submissions and voicemails awaiting intake -------------------------------
    @staticmethod
    def work_list(session: Session, limit: int = 50) -> dict[str, list[Any]]:
        submissions = list(session.scalars(
            select(WorkOrder).where(WorkOrder.state == st.State.CREATED.value, WorkOrder.agent.is_(None))
            .order_by(WorkOrder.created_at).limit(limit)))
        voicemails = list(session.scalars(select(Voicemail).where(Voicemail.status == "new")
                                          .order_by(Voicemail.created_at).limit(limit)))
        return {"submissions": submissions, "voicemails": voicemails}

    def take_submission(self, session: Session, actor: Actor, order: WorkOrder) -> WorkOrder:
        """An agent takes an unassigned created order (online/API submission) from the work list."""
        if not has(actor.role, Perm.DESK):
            raise st.Forbidden("only_agents_take")
        me = actor.agent_id or actor.username
        taken = session.execute(update(WorkOrder).where(
            WorkOrder.id == order.id, WorkOrder.agent.is_(None), WorkOrder.state == st.State.CREATED.value,
        ).values(agent=me, version=WorkOrder.version + 1, updated_at=self.clock())).rowcount
        if taken != 1:
            raise Conflict("order_taken", number=order.number)
        session.refresh(order)
        self._event(session, order, actor, "take", order.state, {"agent": me})
        return order

    def take_voicemail(self, session: Session, actor: Actor, voicemail_id: str) -> WorkOrder:
        """An agent takes a voicemail: it becomes a created order assigned to them, linked to its call."""
        if not has(actor.role, Perm.DESK):
            raise st.Forbidden("only_agents_take")
        vm = session.get(Voicemail, voicemail_id)
        if vm is None:
            raise NotFound("voicemail_not_found")
        taken = session.execute(update(Voicemail).where(Voicemail.id == voicemail_id, Voicemail.status == "new")
                                .values(status="taken")).rowcount
        if taken != 1:
            raise Conflict("voicemail_taken")
        order = self.create(session, actor, "voicemail",
                            {"caller_number": vm.caller_number, "caller_name": vm.caller_name,
                             "hotline": vm.hotline or ""}, linkedid=vm.linkedid, voicemail_id=vm.id)
        return order

    # ---- KPI -------------------------------------------------------------------------------------------
    @staticmethod
    def front_desk_on_time(session: Session, since: datetime | None, until: datetime | None) -> dict[str, Any]:
        """Front-desk on-time closure: immediate/coordinated orders registered in [since, until) that were
        closed by their deadline ÷ all of them (open ones count as not yet closed on time)."""
        stmt = select(WorkOrder.handling_mode, WorkOrder.closed_on_time, func.count()).where(
            WorkOrder.handling_mode.in_(["immediate", "coordinated"])).group_by(
            WorkOrder.handling_mode, WorkOrder.closed_on_time)
        if since is not None:
            stmt = stmt.where(WorkOrder.registered_at >= since)
        if until is not None:
            stmt = stmt.where(WorkOrder.registered_at < until)
        total = on_time = 0
        by_mode: dict[str, dict[str, int]] = {}
        for mode, ok, n in session.execute(stmt):
            total += n
            m = by_mode.setdefault(mode, {"orders": 0, "closed_on_time": 0})
            m["orders"] += n
            if ok:
                on_time += n
                m["closed_on_time"] += n
        return {"orders": total, "closed_on_time": on_time,
                "rate": round(100.0 * on_time / total, 2) if total else None, "modes": by_mode}
