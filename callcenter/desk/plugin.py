"""The desk plugin: the only place where work orders, the knowledge base and the web meet the daemon.

``start(daemon)`` creates the configured users, subscribes the screen-pop to the event bus, and
mounts three web apps: ``/app`` (people, session cookies), ``/api`` (platforms, bearer tokens) and
``/submit`` (the public form for citizens).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from callcenter.auth import services as auth
from callcenter.auth.roles import Perm
from callcenter.auth.throttle import RateLimiter
from callcenter.config import Config
from callcenter.desk.push import PushHub
from callcenter.desk.screenpop import ScreenPop
from callcenter.store.db import Database
from callcenter.workorders.services import Services

if TYPE_CHECKING:
    from callcenter.daemon import Daemon

log = logging.getLogger(__name__)


class Desk:
    """Everything the desk's web apps share (one per daemon)."""

    name = "desk"

    def __init__(self, config: Config) -> None:
        self.config = config
        self.settings = config.desk
        # Deadlines count the working days of the calendar the IVR's business hours use.
        self.orders = Services.for_config(config)
        self.hub = PushHub()
        self.limiter = RateLimiter(config.desk.per_ip_per_minute)
        self.daemon: Daemon | None = None
        self.db: Database = None  # type: ignore[assignment]  # set in start()
        self.screenpop: ScreenPop | None = None
        self.acw: Any = None  # AfterCallWork, set in start()
        self.started_at = time.time()

    # ---- plugin protocol ----------------------------------------------------------------------------
    def start(self, daemon: Daemon) -> None:
        from callcenter.desk.api import ApiWeb
        from callcenter.desk.pages import PeopleWeb
        from callcenter.desk.public import PublicWeb
        from callcenter.kb.segment import tokenizer

        self.daemon = daemon
        self.db = daemon.db
        self._bootstrap_users()
        # Read the working-day calendar now: a missing one is an error in the log at start, not mid-call.
        days = self.orders.calendar_files.current() if self.orders.calendar_files else None
        if days is not None and not self.orders.calendar_files.problem:
            log.info("deadlines count working days of calendar %r (%d holidays, %d make-up days)", days.name,
                     len(days.holidays), len(days.workdays))
        # Load the segmenter's dictionary now, not on the first search an agent makes mid-call.
        self.db.run(tokenizer, self.settings.kb.user_dict)
        self.screenpop = ScreenPop(self.hub, self._find_call, self._history, self._labelled)
        daemon.bus.subscribe("screenpop", self.screenpop.apply)
        daemon.bus.subscribe("desk-voicemail", self._on_event)
        self._start_after_call_work(daemon)
        daemon.live.subscribe(self._on_live)
        self.hub.start()
        daemon.mount("app", PeopleWeb(self).app.resource())
        daemon.mount("api", ApiWeb(self).app.resource())
        daemon.mount("submit", PublicWeb(self).app.resource())

    def stop(self) -> None:
        self.hub.stop()

    # ---- wiring -----------------------------------------------------------------------------------
    def _bootstrap_users(self) -> None:
        specs = [u.model_dump() for u in self.settings.users]
        if not specs:
            return
        with self.db.session() as session:
            created = auth.ensure_users(session, specs)
        if created:
            log.info("created users from the configuration: %s", ", ".join(created))

    def _find_call(self, linkedid: str) -> Any:
        if self.daemon is None:
            return None
        recorder = self.daemon.recorder
        return recorder.calls.get(linkedid) or recorder.ended.get(linkedid)

    def _labelled(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The pop with the IVR flow files' Chinese labels (current flow version)."""
        from callcenter.desk.ivr_labels import label_payload

        try:
            flows = self.daemon.plugin("ivr").registry.current if self.daemon is not None else None
        except KeyError:
            flows = None
        return label_payload(payload, flows)

    def _history(self, payload: dict[str, Any]) -> Any:
        from callcenter.desk.views import order_brief
        from callcenter.store.models import epoch

        number = payload.get("caller_number") or ""
        linkedid = payload.get("linkedid")

        keyed = str((payload.get("tags") or {}).get("order_number") or "")
        asked_digits = "".join(c for c in keyed if c.isdigit())[:32]

        def work(session: Any) -> dict[str, Any]:
            h = self.orders.caller_history(session, number)
            asked = self._asked_order(session, asked_digits) if asked_digits else None
            return {
                "asked": asked, "asked_digits": asked_digits,
                "orders": [order_brief(o) for o in h["orders"]],
                "calls": [{"linkedid": c.linkedid, "started_at": epoch(c.started_at), "hotline": c.hotline,
                           "disposition": c.disposition, "answered_by": c.answered_by}
                          for c in h["calls"] if c.linkedid != linkedid],
            }

        return self.db.run_session(work)

    def _asked_order(self, session: Any, digits: str) -> dict[str, Any] | None:
        """The order a caller asked about in the IVR's progress enquiry (key 3): the number keyed in is
        the receipt's number without its letter prefix, or the whole number if it has none."""
        from sqlalchemy import select

        from callcenter.desk.views import order_brief
        from callcenter.workorders.models import WorkOrder

        prefix = self.settings.workorders.number_prefix
        order = session.scalar(select(WorkOrder).where(WorkOrder.number.in_([prefix + digits, digits])))
        return None if order is None else {**order_brief(order), "due": self.orders.due(order)}

    def _on_event(self, event: Any) -> None:
        from callcenter import events as ev

        if isinstance(event, ev.VoicemailLeft):
            self._voicemail_arrived(event.linkedid)

    def _voicemail_arrived(self, linkedid: str) -> None:
        """A new voicemail awaits intake: tell the desks once its row is in the database (the work
        list they fetch reads it there). The recorder, subscribed before us, has queued the row."""
        from twisted.internet import threads

        if self.daemon is None:
            return
        writer = self.daemon.writer
        writer.flush()
        d = threads.deferToThread(writer.wait_idle, 5.0)
        d.addCallback(lambda _idle: self.hub.to_perm(Perm.DESK, "worklist", {"voicemail": linkedid}))
        d.addErrback(lambda f: log.error("work-list push for voicemail %s failed: %s", linkedid, f.getErrorMessage()))

    def _on_live(self, kind: str, payload: dict[str, Any]) -> None:
        if kind == "agent":
            self.hub.to_agent(payload["agent"], "agent", payload)
        if self.acw is not None:
            self.acw.on_live(kind, payload)

    def _start_after_call_work(self, daemon: Daemon) -> None:
        from callcenter.acw.service import AfterCallWork

        def execute(command: Any) -> Any:
            if daemon.telephony is None:
                raise RuntimeError("telephony is down")
            return daemon.telephony.execute(command)

        acw = self.settings.after_call_work
        self.acw = AfterCallWork(acw.seconds, acw.extend_seconds, execute,
                                 lambda agent, payload: self.hub.to_agent(agent, "acw", payload))
        daemon.bus.subscribe("acw", self.acw.apply)

    def agent_view(self, agent_id: str | None) -> dict[str, Any]:
        """The live state of an agent (logged out when unknown)."""
        if self.daemon is None or not agent_id:
            return {"agent": agent_id, "state": "logged_out", "queues": [], "pause_reason": ""}
        state = self.daemon.live.agents.get(agent_id)
        if state is None:
            return {"agent": agent_id, "state": "logged_out", "queues": [], "pause_reason": ""}
        return self.daemon.live.agent_view(state)


def make_plugin(config: Config) -> Desk:
    """Plugin factory (``callcenter.plugins.PLUGINS``)."""
    return Desk(config)
