"""After-call work: after each queue call the agent is paused with reason ``wrap-up`` for a set time.

Why an automatic pause and not app_queue's ``wrapuptime``: app_queue's wrap-up time is invisible (no
AMI event, no queue_log line, the member just looks idle), cannot be extended or cut short by the
agent, and is one value per queue. A pause with the reason ``wrap-up`` is visible on every board, is
recorded like any pause (``agent_pauses``, reason ``wrap-up``, so reports count it apart from
breaks), can be extended once and is ended by "ready" from the desk or the CLI. The window between
the end of the call and the pause taking effect is one AMI round trip; a deployment that cannot
accept even that may also set the queue's ``wrapup_time`` to a second or two.

The timer lives here (in the reactor): when it runs out the agent is unpaused, unless they have
already made themselves ready, paused for something else, or logged out.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from callcenter import events as ev
from callcenter.acd import commands as acd
from callcenter.errors import Refusal

log = logging.getLogger(__name__)


class AcwRefused(Refusal):
    code = 409


@dataclass
class Acw:
    """One agent's after-call work in progress."""

    agent: str
    linkedid: str
    started_at: float
    until: float
    extended: bool = False
    # True once the live state shows the wrap-up pause (before that, "ready" is the call's end, not the agent's).
    confirmed: bool = False
    timer: Any = None

    def view(self, now: float) -> dict[str, Any]:
        return {"active": True, "agent": self.agent, "linkedid": self.linkedid, "started_at": self.started_at,
                "until": self.until, "remaining_s": max(0, round(self.until - now)), "extended": self.extended}


class AfterCallWork:
    """Starts, extends and ends agents' after-call work; ``push(agent, payload)`` tells their desks."""

    def __init__(self, seconds: int, extend_seconds: int, execute: Callable[[Any], Any],
                 push: Callable[[str, dict[str, Any]], Any], clock: Callable[[], float] = time.time,
                 reactor: Any = None) -> None:
        self.seconds = seconds
        self.extend_seconds = extend_seconds
        # execute(AcdCommand) -> awaitable (the AMI telephony); None while telephony is down
        self.execute = execute
        self.push = push
        self.clock = clock
        if reactor is None:
            from twisted.internet import reactor as default_reactor

            reactor = default_reactor
        self.reactor = reactor
        self.active: dict[str, Acw] = {}
        self.started = self.expired = self.extended = self.ended_by_agent = 0

    # ---- events ------------------------------------------------------------------------------------
    def apply(self, event: Any) -> None:
        """Bus subscriber: a finished queue call starts the agent's after-call work."""
        if isinstance(event, ev.AgentCompleted) and self.seconds > 0 and event.agent:
            self.start(event.agent, event.linkedid)

    def on_live(self, kind: str, payload: dict[str, Any]) -> None:
        """Live-state listener: the agent left the wrap-up pause (ready, another pause, logged out)."""
        if kind != "agent":
            return
        acw = self.active.get(payload.get("agent", ""))
        if acw is None:
            return
        in_wrap_up = payload.get("state") == "paused" and payload.get("pause_reason") == acd.WRAP_UP
        if in_wrap_up:
            acw.confirmed = True
        elif acw.confirmed or payload.get("state") == "logged_out":
            self.ended_by_agent += 1
            self._finish(acw, "agent")

    # ---- actions -----------------------------------------------------------------------------------
    def start(self, agent: str, linkedid: str) -> Acw:
        previous = self.active.pop(agent, None)
        if previous is not None and previous.timer is not None and previous.timer.active():
            previous.timer.cancel()
        now = self.clock()
        acw = Acw(agent, linkedid, now, now + self.seconds)
        self.active[agent] = acw
        self.started += 1
        self._command(acd.PauseAgent(agent, acd.interface_of(agent), acd.WRAP_UP), agent)
        self._arm(acw)
        self.push(agent, acw.view(now))
        log.info("agent %s: after-call work for %ss after call %s", agent, self.seconds, linkedid)
        return acw

    def extend(self, agent: str) -> Acw:
        """Add ``extend_seconds`` once; refused when not in after-call work or already extended."""
        acw = self.active.get(agent)
        if acw is None:
            raise AcwRefused("acw_not_active")
        if acw.extended or self.extend_seconds <= 0:
            raise AcwRefused("acw_extended_already")
        acw.extended = True
        acw.until += self.extend_seconds
        self.extended += 1
        self._arm(acw)
        self.push(agent, acw.view(self.clock()))
        log.info("agent %s: after-call work extended by %ss", agent, self.extend_seconds)
        return acw

    def view(self, agent: str | None) -> dict[str, Any]:
        acw = self.active.get(agent or "")
        return acw.view(self.clock()) if acw else {"active": False, "agent": agent}

    # ---- internals ---------------------------------------------------------------------------------
    def _arm(self, acw: Acw) -> None:
        if acw.timer is not None and acw.timer.active():
            acw.timer.cancel()
        acw.timer = self.reactor.callLater(max(0.0, acw.until - self.clock()), self._expire, acw)

    def _expire(self, acw: Acw) -> None:
        if self.active.get(acw.agent) is not acw:
            return
        self.expired += 1
        self._command(acd.UnpauseAgent(acw.agent, acd.interface_of(acw.agent)), acw.agent)
        self._finish(acw, "timeout")

    def _finish(self, acw: Acw, why: str) -> None:
        if self.active.get(acw.agent) is acw:
            del self.active[acw.agent]
        if acw.timer is not None and acw.timer.active():
            acw.timer.cancel()
        self.push(acw.agent, {"active": False, "agent": acw.agent, "linkedid": acw.linkedid, "ended_by": why})
        log.info("agent %s: after-call work ended (%s)", acw.agent, why)

    def _command(self, command: Any, agent: str) -> None:
        from twisted.internet import defer

        try:
            result = self.execute(command)
        except Exception as exc:  # telephony down: nothing to pause; the desk still shows the countdown
            log.warning("after-call work for %s: %s not sent: %s", agent, type(command).__name__, exc)
            return
        if asyncio.iscoroutine(result):
            d = defer.Deferred.fromFuture(asyncio.ensure_future(result))
        else:
            d = defer.maybeDeferred(lambda: result)
        d.addErrback(lambda f: log.warning("after-call work for %s: %s refused: %s", agent,
                                           type(command).__name__, f.getErrorMessage()))
