"""``/app``: the pages people use (agents, team leaders, inspectors, departments, admins).

Sessions by cookie, CSRF token on every unsafe request, every route guarded by a permission.
Handlers only parse, call the services in the database thread pool, and render.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from time import time as time_now
from typing import Any
from urllib.parse import quote

from klein import Klein
from twisted.internet import defer, threads
from twisted.web.static import File
from werkzeug.exceptions import MethodNotAllowed, NotFound

from callcenter.acd import commands as acd
from callcenter.auth import services as auth
from callcenter.auth.lockout import Policy
from callcenter.auth.roles import Perm, Role, has
from callcenter.desk import media, schemas
from callcenter.desk.audio import confined_file
from callcenter.desk.base import STATIC, WebBase
from callcenter.desk.http import (
    ANON_CSRF_COOKIE,
    PUBLIC,
    ROUTE_RULES,
    SESSION_COOKIE,
    HttpError,
    RouteRule,
    anon_csrf,
    arg,
    args_dict,
    check_anon_csrf,
    client_address,
    cookie_secure,
    guard,
    redirect,
    send_json,
    wants_json,
)
from callcenter.desk.i18n import Translator
from callcenter.desk.views import DISPOSITIONS, event_view, order_brief
from callcenter.errors import Terms
from callcenter.kb import services as kb
from callcenter.kb.search import search as kb_search
from callcenter.logs import mask_number
from callcenter.workorders import states as st
from callcenter.workorders.services import DUE_FILTERS, EDITABLE, EDITABLE_STATES, SATISFACTION, URGENCIES

log = logging.getLogger(__name__)

ORDER_FIELDS = tuple(EDITABLE)
# What a draft keeps of the desk's form: the order's fields and the choices made at save.
DRAFT_FORM_FIELDS = frozenset({*EDITABLE, "request_type", "handling", "answer", "department", "note",
                               "assist_departments"})
# Stylesheet and script: public (the sign-in page needs them), no data in them.
ROUTE_RULES["PeopleWeb.static"] = ROUTE_RULES["PeopleWeb.static_branch"] = RouteRule(PUBLIC, PUBLIC)


class StaticFiles(File):
    """The stylesheet and script: files only, never a directory listing (404 instead)."""

    def directoryListing(self) -> Any:
        from twisted.web.pages import notFound

        return notFound()


def _safe_next(value: str) -> str:
    # Only our own pages: no open redirect to another site.
    return value if value.startswith("/app/") and not value.startswith("//") else "/app/"


# Notes the knowledge-base services write themselves (an editor's own note is shown as typed).
KB_AUTO_NOTES = ("created", "published", "unpublished")
KB_FIELDS = {"title": "kb.title_field", "body": "kb.body", "category": "order.category",
             "valid_from": "kb.valid_from", "valid_until": "kb.valid_until"}


def _version_note(t: Translator, note: str) -> str:
    if note in KB_AUTO_NOTES:
        return t(f"kb.note_{note}")
    if note.startswith("changed "):
        fields = note[len("changed "):].split(", ")
        if all(f in KB_FIELDS for f in fields):
            return t("kb.note_changed", fields=("、" if t.lang == "zh" else ", ").join(t(KB_FIELDS[f]) for f in fields))
    return note


def _local_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HttpError(400, "bad_date", value=value) from None


def _asyncio(coro: Any) -> Any:
    """Await an asyncio coroutine (the AMI client) from Twisted code."""
    return defer.Deferred.fromFuture(asyncio.ensure_future(coro))


class PeopleWeb(WebBase):
    app = Klein()

    @app.handle_errors(NotFound, MethodNotAllowed)
    def routing_error_handler(self, request: Any, failure: Any) -> bytes:
        return self.routing_error(request, failure)

    # ---- signing in and out -------------------------------------------------------------------------
    @app.route("/static/", branch=True)
    def static(self, request: Any) -> Any:
        request.setHeader(b"cache-control", b"no-cache")
        return StaticFiles(str(STATIC))

    @app.route("/login", methods=["GET"])
    @guard(PUBLIC)
    async def login_form(self, request: Any) -> bytes:
        return self.render(request, "login.html", anon_csrf=anon_csrf(request), next=_safe_next(arg(request, "next")),
                           message="")

    @app.route("/login", methods=["POST"])
    @guard(PUBLIC)
    async def login(self, request: Any) -> bytes:
        check_anon_csrf(request)
        address = client_address(request)
        if not self.desk.limiter.allow("login:" + address):
            raise HttpError(429, "too_many_attempts")
        username, password = arg(request, "username").strip()[:64], arg(request, "password")[:1024]
        s = self.desk.settings
        policy = Policy(s.max_failed_logins, s.lock_seconds, s.name_failures_per_hour, s.familiar_address_days)

        def work(session: Any) -> tuple[str, str, auth.AuthError | None]:
            # A failure is counted (and (name, address) locked) in this transaction, which must commit.
            user, problem = auth.sign_in(session, username, password, policy, address)
            if user is None:
                return "", "", problem
            token, _row = auth.open_session(session, user, s.session_hours, address)
            return token, user.role, None

        token, role, problem = await self.desk.db.run_session(work)
        if problem is not None:
            t = self.context(request)["_"]
            return self.render(request, "login.html", problem.code, anon_csrf=anon_csrf(request),
                               next=_safe_next(arg(request, "next")),
                               message=t("login.failed") + t("punct.colon") + t.refusal(problem))
        request.addCookie(SESSION_COOKIE, token.encode(), path=b"/", httpOnly=True, sameSite="lax",
                          secure=cookie_secure(request, s.cookie_secure),
                          max_age=str(int(s.session_hours * 3600)))
        request.addCookie(ANON_CSRF_COOKIE, b"", path=b"/", max_age="0")
        target = arg(request, "next")
        return redirect(request, _safe_next(target) if target and target != "/app/" else self._home(role))

    @staticmethod
    def _home(role: str) -> str:
        return "/app/desk" if has(role, Perm.DESK) else "/app/orders"

    @app.route("/logout", methods=["POST"])
    @guard(Perm.SIGNED_IN)
    async def logout(self, request: Any) -> bytes:
        sid = request.actor.session_id
        await self.desk.db.run_session(lambda s: auth.close_session(s, sid))
        request.addCookie(SESSION_COOKIE, b"", path=b"/", max_age="0", httpOnly=True)
        return redirect(request, "/app/login")

    @app.route("/", methods=["GET"])
    @guard(Perm.SIGNED_IN)
    async def home(self, request: Any) -> bytes:
        return redirect(request, self._home(request.actor.role))

    # ---- the agent desktop -----------------------------------------------------------------------------
    @app.route("/desk", methods=["GET"])
    @guard(Perm.DESK)
    async def desk_page(self, request: Any) -> bytes:
        actor = request.actor
        current = None
        if self.desk.screenpop is not None and actor.agent_id:
            current = self.desk.screenpop.current.get(actor.agent_id)
        boot = {"agent": self.desk.agent_view(actor.agent_id), "current": current, "csrf": actor.csrf_token,
                "pause_reasons": list(self.desk.settings.pause_reasons),
                "acw": self.desk.acw.view(actor.agent_id) if self.desk.acw is not None else {"active": False},
                "acw_extend_s": self.desk.settings.after_call_work.extend_seconds,
                "suggest": {c: self.desk.settings.workorders.suggested_department(c) for c in self.categories}}
        worklist = await self.desk.db.run_session(self._worklist)
        t = Translator(self.lang(request))
        # Codes the page shows from pushes (pause reasons, call outcomes), in the reader's language.
        labels = {"pause": {r: t(f"pause.{r}") for r in (*self.desk.settings.pause_reasons, acd.WRAP_UP)},
                  "disposition": {d: t(f"disposition.{d}") for d in DISPOSITIONS},
                  "order_state": {s.value: t(f"state.{s.value}") for s in st.State}}
        return self.render(request, "desk.html", boot=boot, worklist=worklist, urgencies=URGENCIES,
                           pause_reasons=boot["pause_reasons"], labels=labels)

    def _worklist(self, session: Any) -> dict[str, Any]:
        wl = self.desk.orders.work_list(session)
        return {
            "submissions": [order_brief(o, mask=True) for o in wl["submissions"]],
            "voicemails": [{"id": v.id, "created_at": v.created_at.replace(tzinfo=UTC).timestamp(),
                            "caller_number": mask_number(v.caller_number), "caller_name": v.caller_name,
                            "hotline": v.hotline, "duration_s": v.duration_s} for v in wl["voicemails"]],
        }

    @app.route("/worklist.json", methods=["GET"])
    @guard(Perm.DESK)
    async def worklist_json(self, request: Any) -> bytes:
        return send_json(request, await self.desk.db.run_session(self._worklist))

    @app.route("/events", methods=["GET"])
    @guard(Perm.DESK)
    async def events(self, request: Any) -> Any:
        actor = request.actor
        stream = self.desk.hub.attach(request, actor)
        stream.send("agent", self.desk.agent_view(actor.agent_id))
        if self.desk.screenpop is not None and actor.agent_id in self.desk.screenpop.current:
            stream.send("pop", self.desk.screenpop.current[actor.agent_id])
        if self.desk.acw is not None and actor.agent_id:
            stream.send("acw", self.desk.acw.view(actor.agent_id))
        return defer.Deferred()  # never fires: the stream ends when the browser leaves

    @app.route("/desk/state", methods=["POST"])
    @guard(Perm.DESK)
    async def agent_state(self, request: Any) -> bytes:
        """Ready / pause (reason) / wrap-up / login / logout, through AMI like ``callcenter agent``."""
        actor = request.actor
        agent = actor.agent_id
        if not agent:
            raise HttpError(400, "not_an_agent_user")
        f = schemas.form(request, schemas.AgentStateForm, pause_reasons=self.desk.settings.pause_reasons)
        action, reason = f.get("action", ""), f.get("reason", "")
        telephony = self.desk.daemon.telephony if self.desk.daemon else None
        if telephony is None:
            raise HttpError(503, "telephony_down")
        config = self.desk.config
        iface = acd.interface_of(agent)
        try:
            queues = config.agent_queues(agent)
        except KeyError:
            raise HttpError(400, "agent_not_configured", agent=agent) from None
        view = self.desk.agent_view(agent)
        commands: list[Any]
        if action == "login":
            penalty = config.agent(agent).penalty
            commands = [acd.LoginAgent(agent, q, iface, penalty) for q in queues if q not in view["queues"]]
        elif action == "logout":
            commands = [acd.LogoutAgent(agent, q, iface) for q in view["queues"]]
        elif action == "ready":
            commands = [acd.UnpauseAgent(agent, iface)]
        elif action == "pause":
            if not reason:
                raise HttpError(422, "pause_needs_reason")
            commands = [acd.PauseAgent(agent, iface, reason)]
        elif action == "wrapup":
            commands = [acd.PauseAgent(agent, iface, acd.WRAP_UP)]
        else:
            raise HttpError(400, "bad_agent_action")
        if action in ("ready", "pause", "wrapup") and not view["queues"]:
            raise HttpError(409, "log_in_first")
        for cmd in commands:
            try:
                await _asyncio(telephony.execute(cmd))
            except Exception as exc:
                raise HttpError(502, "asterisk_refused", detail=str(exc)) from None
        log.info("agent %s: %s from the desk by %s", agent, action, actor.username)
        return send_json(request, {"ok": True, "action": action})

    # ---- orders -----------------------------------------------------------------------------------------
    @app.route("/orders", methods=["GET"])
    @guard(Perm.ORDER_READ)
    async def orders(self, request: Any) -> bytes:
        actor = request.actor
        q = schemas.query(request, schemas.OrdersQuery)
        state, due, source = q.get("state"), q.get("due"), q.get("source")
        if state and state not in {s.value for s in st.State}:
            raise HttpError(400, "unknown_state", state=state)
        if due and due not in DUE_FILTERS:
            raise HttpError(400, "bad_due", allowed=Terms("due", DUE_FILTERS))

        def work(session: Any) -> list[dict[str, Any]]:
            rows = self.desk.orders.list_orders(session, actor, state=state, due=due, source=source)
            return [{**order_brief(o, mask=True), "due": self.desk.orders.due(o)} for o in rows]

        rows = await self.desk.db.run_session(work)
        if wants_json(request):
            return send_json(request, rows)
        return self.render(request, "orders.html", rows=rows, state=state or "", due=due or "",
                           states=[s.value for s in st.State])

    @app.route("/orders/new", methods=["GET"])
    @guard(Perm.ORDER_CREATE)
    async def order_new(self, request: Any) -> bytes:
        return self.render(request, "order_new.html", urgencies=URGENCIES, values={})

    @app.route("/orders", methods=["POST"])
    @guard(Perm.ORDER_CREATE)
    async def order_create(self, request: Any) -> bytes:
        """Create an order from the desk form; registered at once when category and content are given."""
        actor = request.actor
        form = schemas.form(request, schemas.OrderForm, districts=self.desk.settings.workorders.districts)
        fields = {k: form[k] for k in ORDER_FIELDS if k in form}
        linkedid = form.get("linkedid") or None
        register = form.get("register", "1") == "1" and bool(fields.get("category")) and bool(fields.get("content"))
        source = "call" if linkedid else form.get("source", "call")

        def work(session: Any) -> str:
            order = self.desk.orders.create(session, actor, source, fields, linkedid=linkedid, register=register)
            return order.number

        number = await self.desk.db.run_session(work)
        if wants_json(request) or request.getHeader(b"x-csrf-token"):
            return send_json(request, {"number": number, "url": f"/app/orders/{number}"}, 201)
        return redirect(request, f"/app/orders/{quote(number)}")

    @app.route("/orders/<string:number>", methods=["GET"])
    @guard(Perm.ORDER_READ)
    async def order_page(self, request: Any, number: str) -> bytes:
        number = schemas.path_value(number, 32)
        actor = request.actor
        svc = self.desk.orders

        def work(session: Any) -> dict[str, Any]:
            o = svc.get_for(session, actor, number)
            return {
                "o": {c.key: getattr(o, c.key) for c in o.__table__.columns},
                "due": svc.due(o),
                "history": [event_view(e) for e in svc.history(session, o)],
                "calls": svc.calls_of(session, o),
                "attachments": [{"id": a.id, "filename": a.filename, "size": a.size_bytes,
                                 "content_type": a.content_type} for a in svc.attachments_of(session, o)],
                "duplicates": [order_brief(d, mask=True) for d in svc.duplicates(
                    session, o.caller_number, o.address, o.category, exclude=o.id)]
                if st.State(o.state) in (st.State.CREATED, st.State.REGISTERED) else [],
            }

        data = await self.desk.db.run_session(work)
        o = data["o"]
        state = st.State(o["state"])
        actions = [a.value for a in st.allowed_actions(state, actor.role)]
        if actor.role == Role.DEPARTMENT and o["department"] != actor.department:
            actions = []
        editable = state in EDITABLE_STATES and has(actor.role, Perm.ORDER_CREATE)
        takeable = state == st.State.CREATED and o["agent"] is None and has(actor.role, Perm.DESK)
        show_number = has(actor.role, Perm.ORDER_CREATE) or actor.role == Role.DEPARTMENT
        return self.render(request, "order.html", **data, actions=actions, editable=editable, takeable=takeable,
                           show_number=show_number, urgencies=URGENCIES, satisfaction=SATISFACTION,
                           done=arg(request, "done"), requires={a.value: t.requires for (s, a), t in
                                                                st.TRANSITIONS.items() if s == state})

    @app.route("/orders/<string:number>/edit", methods=["POST"])
    @guard(Perm.ORDER_CREATE)
    async def order_edit(self, request: Any, number: str) -> bytes:
        actor = request.actor
        form = schemas.form(request, schemas.OrderEditForm, districts=self.desk.settings.workorders.districts)
        fields = {k: form[k] for k in ORDER_FIELDS if k in form}
        version = int(form["version"]) if form.get("version", "").isdigit() else None

        def work(session: Any) -> None:
            o = self.desk.orders.get_for(session, actor, number)
            self.desk.orders.edit(session, actor, o, fields, expected_version=version)

        await self.desk.db.run_session(work)
        return redirect(request, f"/app/orders/{quote(number)}?done=edit")

    @app.route("/orders/<string:number>/act", methods=["POST"])
    @guard(Perm.ORDER_ACT)
    async def order_act(self, request: Any, number: str) -> bytes:
        actor = request.actor
        form = schemas.form(request, schemas.ActForm)
        action = form.pop("action", "")
        version = int(form["version"]) if form.get("version", "").isdigit() else None
        wanted = {k: form[k] for k in ("department", "reason", "result", "satisfaction", "target", "note") if k in form}

        def work(session: Any) -> str:
            o = self.desk.orders.get_for(session, actor, number)
            self.desk.orders.act(session, actor, o, action, wanted, expected_version=version)
            return o.state

        state = await self.desk.db.run_session(work)
        self.desk.hub.to_all("inbox", {"changed": number})
        if wants_json(request) or request.getHeader(b"x-csrf-token"):
            return send_json(request, {"number": number, "state": state})
        return redirect(request, f"/app/orders/{quote(number)}?done={quote(action)}")

    @app.route("/orders/<string:number>/link", methods=["POST"])
    @guard(Perm.ORDER_CREATE)
    async def order_link(self, request: Any, number: str) -> bytes:
        """Link a call to an existing order (the caller rang again about it: a possible duplicate)."""
        actor = request.actor
        linkedid = schemas.form(request, schemas.LinkForm).get("linkedid", "")
        if not linkedid or len(linkedid) > 64:
            raise HttpError(422, "linkedid_required")

        def work(session: Any) -> bool:
            return self.desk.orders.link_call(session, actor, self.desk.orders.get_for(session, actor, number),
                                              linkedid)

        linked = await self.desk.db.run_session(work)
        if wants_json(request) or request.getHeader(b"x-csrf-token"):
            return send_json(request, {"number": number, "linked": linked})
        return redirect(request, f"/app/orders/{quote(number)}?done=link_call")

    @app.route("/orders/<string:number>/take", methods=["POST"])
    @guard(Perm.DESK)
    async def order_take(self, request: Any, number: str) -> bytes:
        actor = request.actor

        def work(session: Any) -> None:
            self.desk.orders.take_submission(session, actor, self.desk.orders.get_for(session, actor, number))

        await self.desk.db.run_session(work)
        self.desk.hub.to_perm(Perm.DESK, "worklist", {"taken": number})
        return redirect(request, f"/app/orders/{quote(number)}?done=take")

    @app.route("/duplicates.json", methods=["GET"])
    @guard(Perm.ORDER_CREATE)
    async def duplicates(self, request: Any) -> bytes:
        q = schemas.query(request, schemas.DuplicatesQuery)
        number, address, category = q.get("caller_number", ""), q.get("address", ""), q.get("category", "")

        def work(session: Any) -> list[dict[str, Any]]:
            return [order_brief(o, mask=True)
                    for o in self.desk.orders.duplicates(session, number, address, category)]

        return send_json(request, await self.desk.db.run_session(work))

    @app.route("/voicemails/<string:vm_id>/take", methods=["POST"])
    @guard(Perm.DESK)
    async def voicemail_take(self, request: Any, vm_id: str) -> bytes:
        vm_id = schemas.path_value(vm_id, 96)
        actor = request.actor
        number = await self.desk.db.run_session(lambda s: self.desk.orders.take_voicemail(s, actor, vm_id).number)
        self.desk.hub.to_perm(Perm.DESK, "worklist", {"taken": vm_id})
        return redirect(request, f"/app/orders/{quote(number)}?done=take")

    @app.route("/voicemails/<string:vm_id>/audio", methods=["GET"])
    @guard(Perm.RECORDINGS)
    async def voicemail_audio(self, request: Any, vm_id: str) -> Any:
        """A voicemail's audio, for those the policy allows (callcenter/desk/media.py); 404 otherwise."""
        return await self._media(request, "voicemail", schemas.path_value(vm_id, 96), media.voicemail_path,
                                 "voicemail_not_found", self.desk.config.ivr.voicemail_dir)

    @app.route("/calls/<string:linkedid>/recording", methods=["GET"])
    @guard(Perm.RECORDINGS)
    async def recording(self, request: Any, linkedid: str) -> Any:
        """A call's recording, for those the policy allows (callcenter/desk/media.py); 404 otherwise."""
        return await self._media(request, "recording", schemas.path_value(linkedid, 64), media.recording_path,
                                 "no_recording", self.desk.config.asterisk.recordings_dir)

    async def _media(self, request: Any, kind: str, object_id: str, find: Any, missing: str,
                     root: str) -> Any:
        actor, address = request.actor, client_address(request)
        action = "download" if arg(request, "download") == "1" else "listen"

        def work(session: Any) -> str | None:
            path = find(session, actor, object_id)
            if path is not None:
                media.log_access(session, actor, action, kind, object_id, address)
            return path

        path = await self.desk.db.run_session(work)
        if path is None:
            raise HttpError(404, missing)
        resource = await self._audio_file(path, root)
        if action == "download":
            request.setHeader(b"content-disposition", f"attachment; filename*=UTF-8''{quote(kind + '-' + object_id)}"
                              ".wav".encode())
        return resource

    @staticmethod
    async def _audio_file(path: str, root: str) -> Any:
        # Only a regular file under Asterisk's spool (symlinks resolved): a forged row names any file.
        real = await threads.deferToThread(confined_file, path, root)
        if real is None:
            log.warning("audio file refused (missing, or not a regular file under %s)", root)
            raise HttpError(404, "audio_missing")
        return File(str(real), defaultType="audio/wav")

    @app.route("/attachments/<int:att_id>", methods=["GET"])
    @guard(Perm.ORDER_READ)
    async def attachment(self, request: Any, att_id: int) -> Any:
        from callcenter.workorders.models import WorkOrder, WorkOrderAttachment

        actor = request.actor

        def work(session: Any) -> Any:
            att = session.get(WorkOrderAttachment, att_id)
            if att is None or not self.desk.orders.can_read(actor, session.get(WorkOrder, att.order_id)):
                raise HttpError(404, "no_attachment")
            return att

        att = await self.desk.db.run_session(work)
        path = Path(self.desk.config.data_path) / "attachments" / att.stored_as
        request.setHeader(b"content-disposition", f"attachment; filename*=UTF-8''{quote(att.filename)}".encode())
        request.setHeader(b"content-type", att.content_type.encode())
        return path.read_bytes()

    # ---- the team leader's view -----------------------------------------------------------------------
    @app.route("/supervisor", methods=["GET"])
    @guard(Perm.SUPERVISE)
    async def supervisor(self, request: Any) -> bytes:
        """Front-desk on-time closure (today, this week, this month, or ?since=&until= local dates,
        both included) and the open orders near or past their limit: the figures of ``callcenter
        order kpi`` and ``order list --due flagged``, from the same services."""
        actor, svc, zone = request.actor, self.desk.orders, self.zone
        today = datetime.now(zone).date()
        windows = [("today", today, today), ("week", today - timedelta(days=today.weekday()), today),
                   ("month", today.replace(day=1), today)]
        q = schemas.query(request, schemas.SupervisorQuery)
        since_arg, until_arg = q.get("since", ""), q.get("until", "")
        if since_arg or until_arg:
            windows.append(("range", _local_date(since_arg or until_arg), _local_date(until_arg or since_arg)))

        def start(day: date) -> datetime:  # local midnight as naive UTC, like the database
            return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC).replace(tzinfo=None)

        def work(session: Any) -> dict[str, Any]:
            kpi = [{"window": name, "since": first.isoformat(), "until": last.isoformat(),
                    **svc.front_desk_on_time(session, start(first), start(last + timedelta(days=1)))}
                   for name, first, last in windows]
            flagged = [{**order_brief(o, mask=True), "due": svc.due(o), "agent": o.agent,
                        "handling_mode": o.handling_mode}
                       for o in svc.list_orders(session, actor, due="flagged", limit=500)]
            return {"kpi": kpi, "flagged": flagged,
                    "counts": {d: sum(1 for o in flagged if o["due"] == d) for d in ("overdue", "due_soon")}}

        data = await self.desk.db.run_session(work)
        if wants_json(request):
            return send_json(request, data)
        return self.render(request, "supervisor.html", **data, since=since_arg, until=until_arg)

    # ---- knowledge base --------------------------------------------------------------------------------
    @app.route("/kb", methods=["GET"])
    @guard(Perm.KB_READ)
    async def kb_page(self, request: Any) -> bytes:
        q = schemas.query(request, schemas.SearchQuery).get("q", "")[:100]
        editor = has(request.actor.role, Perm.KB_EDIT)
        limit = self.desk.settings.kb.results

        today = self.today()

        def work(session: Any) -> dict[str, Any]:
            return {"hits": kb_search(session, q, limit=limit, today=today, published_only=not editor) if q else [],
                    "recent": [] if q or not editor else kb.list_articles(session, limit=50)}

        data = await self.desk.db.run_session(work)
        return self.render(request, "kb.html", q=q, **data)

    @app.route("/kb/search.json", methods=["GET"])
    @guard(Perm.KB_READ)
    async def kb_search_json(self, request: Any) -> bytes:
        q = schemas.query(request, schemas.SearchQuery).get("q", "")[:100]
        limit = self.desk.settings.kb.results
        today = self.today()
        hits = await self.desk.db.run_session(lambda s: kb_search(s, q, limit=limit, today=today))
        return send_json(request, [{"id": h.id, "title": h.title, "snippet": h.snippet, "score": h.score,
                                    "category": h.category} for h in hits])

    @app.route("/kb/<int:article_id>", methods=["GET"])
    @guard(Perm.KB_READ)
    async def kb_article(self, request: Any, article_id: int) -> bytes:
        actor = request.actor

        def work(session: Any) -> dict[str, Any]:
            a = kb.get_article(session, article_id, actor)
            return {"a": a, "versions": kb.versions(session, article_id) if has(actor.role, Perm.KB_EDIT) else []}

        t = Translator(self.lang(request))
        return self.render(request, "kb_article.html", **await self.desk.db.run_session(work),
                           note_text=lambda note: _version_note(t, note))

    @app.route("/kb/new", methods=["GET"])
    @guard(Perm.KB_EDIT)
    async def kb_new(self, request: Any) -> bytes:
        return self.render(request, "kb_edit.html", a=None)

    @app.route("/kb/<int:article_id>/edit", methods=["GET"])
    @guard(Perm.KB_EDIT)
    async def kb_edit(self, request: Any, article_id: int) -> bytes:
        a = await self.desk.db.run_session(lambda s: kb.get_article(s, article_id))
        return self.render(request, "kb_edit.html", a=a)

    @app.route("/kb", methods=["POST"])
    @guard(Perm.KB_EDIT)
    async def kb_create(self, request: Any) -> bytes:
        actor, f = request.actor, schemas.form(request, schemas.KbForm)
        aid = await self.desk.db.run_session(lambda s: kb.create_article(
            s, actor, f.get("title", ""), f.get("body", ""), f.get("category", ""), f.get("valid_from"),
            f.get("valid_until"), publish=f.get("publish") == "1").id)
        return redirect(request, f"/app/kb/{aid}")

    @app.route("/kb/<int:article_id>", methods=["POST"])
    @guard(Perm.KB_EDIT)
    async def kb_update(self, request: Any, article_id: int) -> bytes:
        actor, f = request.actor, schemas.form(request, schemas.KbForm)
        version = int(f["version"]) if f.get("version", "").isdigit() else None
        changes = {k: f[k] for k in ("title", "body", "category", "valid_from", "valid_until") if k in f}
        await self.desk.db.run_session(lambda s: kb.update_article(s, actor, article_id, version,
                                                                   f.get("note", ""), **changes))
        return redirect(request, f"/app/kb/{article_id}")

    @app.route("/kb/<int:article_id>/status", methods=["POST"])
    @guard(Perm.KB_EDIT)
    async def kb_status(self, request: Any, article_id: int) -> bytes:
        actor, status = request.actor, schemas.form(request, schemas.KbStatusForm)["status"]
        await self.desk.db.run_session(lambda s: kb.set_status(s, actor, article_id, status))
        return redirect(request, f"/app/kb/{article_id}")

    # ---- users (admins) ---------------------------------------------------------------------------------
    @app.route("/admin/users", methods=["GET"])
    @guard(Perm.USERS)
    async def users_page(self, request: Any) -> bytes:
        users = await self.desk.db.run_session(auth.list_users)
        return self.render(request, "admin_users.html", users=users, roles=[r.value for r in Role], token="",
                           message="")

    @app.route("/admin/users", methods=["POST"])
    @guard(Perm.USERS)
    async def users_create(self, request: Any) -> bytes:
        wo = self.desk.settings.workorders
        f = schemas.form(request, schemas.UserForm, agents={a.id for a in self.desk.config.agents},
                         departments=wo.department_codes())
        await self.desk.db.run_session(lambda s: auth.create_user(
            s, f.get("username", ""), f.get("role", ""), f.get("password") or None, f.get("display_name", ""),
            f.get("agent_id") or None, f.get("department") or None))
        return redirect(request, "/app/admin/users")

    @app.route("/admin/users/<string:username>/password", methods=["POST"])
    @guard(Perm.USERS)
    async def users_password(self, request: Any, username: str) -> bytes:
        username = schemas.path_value(username, 64)
        password = schemas.form(request, schemas.PasswordForm).get("password", "")
        await self.desk.db.run_session(lambda s: auth.set_password(s, username, password))
        return redirect(request, "/app/admin/users")

    @app.route("/admin/users/<string:username>/active", methods=["POST"])
    @guard(Perm.USERS)
    async def users_active(self, request: Any, username: str) -> bytes:
        if username == request.actor.username:
            raise HttpError(409, "cannot_deactivate_self")
        active = schemas.form(request, schemas.ActiveForm).get("active") == "1"
        await self.desk.db.run_session(lambda s: auth.set_active(s, username, active))
        return redirect(request, "/app/admin/users")

    @app.route("/admin/users/<string:username>/token", methods=["POST"])
    @guard(Perm.USERS)
    async def users_token(self, request: Any, username: str) -> bytes:
        token = await self.desk.db.run_session(lambda s: auth.create_token(s, username))
        users = await self.desk.db.run_session(auth.list_users)
        return self.render(request, "admin_users.html", users=users, roles=[r.value for r in Role], token=token,
                           message=username)

    # ---- after-call work and order drafts (one draft per call; saved exactly once) ------------------------
    @app.route("/desk/acw", methods=["GET"])
    @guard(Perm.DESK)
    async def acw_view(self, request: Any) -> bytes:
        acw = self.desk.acw
        return send_json(request, acw.view(request.actor.agent_id) if acw else {"active": False})

    @app.route("/desk/acw/extend", methods=["POST"])
    @guard(Perm.DESK)
    async def acw_extend(self, request: Any) -> bytes:
        """Extend the agent's after-call work once (refused when not in it or extended already)."""
        actor = request.actor
        if not actor.agent_id or self.desk.acw is None:
            raise HttpError(400, "not_an_agent_user")
        acw = self.desk.acw.extend(actor.agent_id)
        log.info("agent %s: after-call work extended from the desk by %s", actor.agent_id, actor.username)
        return send_json(request, acw.view(time_now()))

    @app.route("/drafts.json", methods=["GET"])
    @guard(Perm.ORDER_CREATE)
    async def drafts_list(self, request: Any) -> bytes:
        from callcenter.workorders import drafts

        actor = request.actor
        rows = await self.desk.db.run_session(lambda s: [drafts.view(d) for d in drafts.open_drafts(s, actor)])
        return send_json(request, rows)

    @app.route("/drafts/<string:token>", methods=["GET"])
    @guard(Perm.ORDER_CREATE)
    async def draft_get(self, request: Any, token: str) -> bytes:
        from callcenter.workorders import drafts

        actor = request.actor
        return send_json(request, await self.desk.db.run_session(lambda s: drafts.view(drafts.get(s, actor, token))))

    @app.route("/drafts/<string:token>", methods=["POST"])
    @guard(Perm.ORDER_CREATE)
    async def draft_put(self, request: Any, token: str) -> bytes:
        """Open or update the draft of a call: ``linkedid``, ``caller_number`` and the form's fields."""
        from callcenter.workorders import drafts

        actor = request.actor
        form = args_dict(request)
        form.pop("_csrf", None)
        linkedid, caller = form.pop("linkedid", ""), form.pop("caller_number_of_call", "")
        fields = {k: v for k, v in form.items() if k in DRAFT_FORM_FIELDS}
        view = await self.desk.db.run_session(
            lambda s: drafts.view(drafts.put(s, actor, token, linkedid, caller, fields)))
        return send_json(request, view)

    @app.route("/drafts/<string:token>/discard", methods=["POST"])
    @guard(Perm.ORDER_CREATE)
    async def draft_discard(self, request: Any, token: str) -> bytes:
        from callcenter.workorders import drafts

        actor = request.actor
        await self.desk.db.run_session(lambda s: drafts.discard(s, actor, token))
        return send_json(request, {"token": token, "status": "discarded"})

    @app.route("/drafts/<string:token>/order", methods=["POST"])
    @guard(Perm.ORDER_CREATE)
    async def draft_save(self, request: Any, token: str) -> bytes:
        """Save a draft as an order, once: a second save of the same token returns the first order (200,
        ``existing``) and never creates another. The call is the draft's, whatever the form says."""
        from callcenter.workorders import drafts

        actor = request.actor
        form = args_dict(request)
        fields = {k: form[k] for k in ORDER_FIELDS if k in form}
        register = form.get("register", "1") == "1" and bool(fields.get("category")) and bool(fields.get("content"))

        def work(session: Any) -> tuple[str, bool]:
            draft = drafts.claim(session, actor, token)
            if draft is None:
                return drafts.get(session, actor, token).order_number or "", True
            draft.fields = {k: v for k, v in form.items() if k in DRAFT_FORM_FIELDS}
            linkedid = draft.linkedid or None
            order = self.desk.orders.create(session, actor, "call" if linkedid else form.get("source", "call"),
                                            fields, linkedid=linkedid, register=register)
            self._handle_at_save(session, actor, order, form)
            drafts.saved(draft, order.number)
            return order.number, False

        number, existing = await self.desk.db.run_session(work)
        self.desk.hub.to_all("inbox", {"changed": number})
        if existing:
            log.info("draft %s saved again by %s: order %s already made", token[:8], actor.username, number)
        return send_json(request, {"number": number, "url": f"/app/orders/{quote(number)}", "existing": existing,
                                   "token": token}, 200 if existing else 201)

    def _handle_at_save(self, session: Any, actor: Any, order: Any, form: dict[str, str]) -> None:
        """The handling chosen on the desk's form at save: 直接办结 with the answer given, 协调办理, or
        派单 to a lead department (never a default) with assisting departments and a dispatch note.
        In the save's transaction: a refusal (no department, no answer) saves nothing."""
        mode = form.get("handling", "")
        note = form.get("note", "").strip()[:2000]
        if not mode:
            return
        if mode == "immediate":
            args = {"result": form.get("answer", "")[:20000]}
            action = st.Action.CLOSE_IMMEDIATELY
        elif mode == "coordinated":
            args, action = {"note": note}, st.Action.COORDINATE
        elif mode == "dispatch":
            args = {"department": form.get("department", "").strip()[:64], "note": note,
                    "assist_departments": form.get("assist_departments", "")[:256]}
            action = st.Action.DISPATCH
        else:
            raise HttpError(400, "bad_handling")
        self.desk.orders.act(session, actor, order, action, args)

    # ---- the inbox: what waits for the signed-in person (a badge on every page, pushed over SSE) -----------
    def _inbox(self, session: Any, actor: Any) -> dict[str, Any]:
        from callcenter.workorders import inbox

        sections = inbox.inbox(session, self.desk.orders, actor)
        return {"count": inbox.count(sections),
                "sections": {name: [{**order_brief(o, mask=actor.role != Role.DEPARTMENT
                                                   and not has(actor.role, Perm.ORDER_CREATE)),
                                     "due": self.desk.orders.due(o)} for o in rows]
                             for name, rows in sections.items()}}

    @app.route("/inbox.json", methods=["GET"])
    @guard(Perm.SIGNED_IN)
    async def inbox_json(self, request: Any) -> bytes:
        actor = request.actor
        return send_json(request, await self.desk.db.run_session(lambda s: self._inbox(s, actor)))

    @app.route("/inbox", methods=["GET"])
    @guard(Perm.SIGNED_IN)
    async def inbox_page(self, request: Any) -> bytes:
        actor = request.actor
        data = await self.desk.db.run_session(lambda s: self._inbox(s, actor))
        return self.render(request, "inbox.html", **data)

    @app.route("/inbox/events", methods=["GET"])
    @guard(Perm.SIGNED_IN)
    async def inbox_events(self, request: Any) -> Any:
        """The same SSE channel as the desk's, for everyone signed in: an ``inbox`` event when orders
        moved (the page then fetches its own count)."""
        stream = self.desk.hub.attach(request, request.actor)
        stream.send("inbox", {"changed": "connected"})
        return defer.Deferred()  # never fires: the stream ends when the browser leaves

    # ---- order search ------------------------------------------------------------------------------------
    @app.route("/orders/search", methods=["GET"])
    @guard(Perm.ORDER_READ)
    async def orders_search(self, request: Any) -> Any:
        """Search by caller number, order number, keyword, department, state and local date range."""
        from callcenter.workorders.search import Query, search

        actor, zone = request.actor, self.zone
        given = {k: arg(request, k).strip()[:100] for k in ("caller_number", "number", "keyword", "department",
                                                             "state", "since", "until")}
        if given["state"] and given["state"] not in {s.value for s in st.State}:
            raise HttpError(400, "unknown_state", state=given["state"])
        if given["department"] and given["department"] not in self.departments:
            raise HttpError(400, "unknown_department", code=given["department"])

        def start(day: date) -> datetime:  # local midnight as naive UTC, like the database
            return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC).replace(tzinfo=None)

        since = start(_local_date(given["since"])) if given["since"] else None
        until = start(_local_date(given["until"]) + timedelta(days=1)) if given["until"] else None
        q = Query(given["caller_number"], given["number"], given["keyword"], given["department"], given["state"],
                  since, until)
        mask = not (has(actor.role, Perm.ORDER_CREATE) or actor.role == Role.DEPARTMENT)

        def work(session: Any) -> list[dict[str, Any]]:
            return [{**order_brief(o, mask=mask), "due": self.desk.orders.due(o)} for o in search(session, actor, q)]

        rows = [] if q.empty() else await self.desk.db.run_session(work)
        if wants_json(request):
            return send_json(request, rows)
        return self.render(request, "orders_search.html", rows=rows, q=given, searched=not q.empty(),
                           states=[s.value for s in st.State])
