"""The call-control plugin: wires :class:`CallControl` to the daemon's AMI link, database and desk.

Mounts ``/phone`` (people's session cookies, the desk's guard): JSON controls for the agent's own call,
the phone state (also pushed over the desk's SSE channel as ``phone`` events), the address book and its
admin page. Every control is a ``call_actions`` row.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from callcenter.callctl.addressbook import AddressBook
from callcenter.callctl.models import CallAction
from callcenter.callctl.services import ActionRecord, CallControl
from callcenter.config import Config
from callcenter.dialer.service import Dialer

if TYPE_CHECKING:
    from callcenter.daemon import Daemon

log = logging.getLogger(__name__)


def book_path(config: Config) -> Path:
    path = Path(config.callctl.address_book)
    return path if path.is_absolute() else config.data_path / path


def action_row(rec: ActionRecord) -> CallAction:
    return CallAction(at=datetime.fromtimestamp(rec.at, UTC).replace(tzinfo=None), actor=rec.actor, agent=rec.agent,
                      action=rec.action, target=rec.target, linkedid=rec.linkedid, result=rec.result,
                      detail=rec.detail)


def action_view(row: CallAction) -> dict[str, Any]:
    return {"at": row.at.replace(tzinfo=UTC).timestamp(), "actor": row.actor, "agent": row.agent,
            "action": row.action, "target": row.target, "linkedid": row.linkedid, "result": row.result,
            "detail": row.detail}


class CallControlPlugin:
    name = "callctl"

    def __init__(self, config: Config) -> None:
        self.config = config
        c = config.callctl
        self.book = AddressBook(book_path(config))
        self.dialer = Dialer(c.hotline_number, c.max_outbound, c.outbound_interval_s)
        self.daemon: Daemon | None = None
        self._pending: dict[str, Any] = {}
        self._tasks: set[asyncio.Future[None]] = set()

    def start(self, daemon: Daemon) -> None:
        from callcenter.callctl.http import PhoneWeb

        self.daemon = daemon
        desk = daemon.plugin("desk")
        daemon.mount("phone", PhoneWeb(desk, self).app.resource())
        daemon.bus.subscribe("callctl", self._on_event)

    def stop(self) -> None:
        for call in self._pending.values():
            if call.active():
                call.cancel()

    # ---- services ---------------------------------------------------------------------------------
    def control(self) -> CallControl:
        """A CallControl over the daemon's AMI link (raises when the link is down)."""
        from callcenter.asterisk.ami.callcontrol import AmiCallControl
        from callcenter.callctl.numbers import CallRefusal

        assert self.daemon is not None
        telephony = self.daemon.telephony
        if telephony is None or not telephony.client.connected:
            raise CallRefusal(503, "telephony_down")
        trunks = self.config.asterisk.trunks
        return CallControl(AmiCallControl(telephony.client, trunks[0].name if trunks else "carrier"), self.book,
                           self.dialer, {q.name for q in self.config.queues}, {a.id for a in self.config.agents},
                           self._record, self.config.callctl.allow_free_numbers)

    async def _record(self, rec: ActionRecord) -> None:
        assert self.daemon is not None
        row = action_row(rec)
        d = self.daemon.db.run_session(lambda s: s.add(row))
        await d.asFuture(asyncio.get_running_loop())
        self.push_state(rec.agent)

    def actions(self, linkedid: str | None, agent: str | None, limit: int = 100) -> Any:
        """The recorded controls of a call or an agent (a Deferred of dicts)."""
        from sqlalchemy import select

        assert self.daemon is not None

        def work(session: Any) -> list[dict[str, Any]]:
            q = select(CallAction).order_by(CallAction.id.desc()).limit(limit)
            if linkedid:
                q = q.where(CallAction.linkedid == linkedid)
            if agent:
                q = q.where(CallAction.agent == agent)
            return [action_view(r) for r in session.scalars(q)]

        return self.daemon.db.run_session(work)

    # ---- phone state pushed to the desk ----------------------------------------------------------
    def _on_event(self, event: Any) -> None:
        channel = getattr(event, "channel", "") or getattr(event, "agent_channel", "")
        if channel.startswith("PJSIP/"):
            agent = channel[6:].rsplit("-", 1)[0]
            if agent in {a.id for a in self.config.agents}:
                self.push_state(agent)

    def push_state(self, agent: str) -> None:
        """Send the agent's phone state to their desk a moment later (several events come together)."""
        from twisted.internet import reactor

        if self.daemon is None or (agent in self._pending and self._pending[agent].active()):
            return
        self._pending[agent] = reactor.callLater(0.3, self._push_now, agent)

    def _push_now(self, agent: str) -> None:
        async def go() -> None:
            try:
                state = await self.control().state(agent)
            except Exception as exc:  # the link went down meanwhile: the desk keeps its last state
                log.debug("phone state of %s not pushed: %s", agent, exc)
                return
            assert self.daemon is not None
            self.daemon.plugin("desk").hub.to_agent(agent, "phone", state)

        task = asyncio.ensure_future(go())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def make_plugin(config: Config) -> CallControlPlugin:
    """Plugin factory (``callcenter.plugins.PLUGINS``)."""
    return CallControlPlugin(config)
