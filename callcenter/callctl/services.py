"""The rules of call control, shared by the desk's web routes and the CLI.

Each control finds the agent's current call from Asterisk's live channels (so the CLI, the web and
any daemon agree, and nothing is kept in memory that could go stale), checks the call is the agent's
own and in the right state, carries the control out through :class:`AmiCallControl`, and records it
(allowed, refused or failed) as a ``call_actions`` row through ``record``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from callcenter.asterisk.ami.callcontrol import AmiCallControl, CallControlError, ChannelInfo, agent_prefix
from callcenter.asterisk.ami.client import AmiError
from callcenter.callctl import numbers
from callcenter.callctl.addressbook import AddressBook
from callcenter.callctl.numbers import CallRefusal
from callcenter.dialer.service import Dialer, OutboundRequest
from callcenter.errors import Term

log = logging.getLogger(__name__)

TALKING, ON_HOLD, CONSULTING, CONFERENCE, RINGING, DIALLING = (
    "talking", "on_hold", "consulting", "conference", "ringing", "dialling")
SPY_MODES = ("listen", "whisper", "barge")


@dataclass
class ActionRecord:
    """One row of ``call_actions`` (times as epoch seconds)."""

    at: float
    actor: str
    agent: str
    action: str
    target: str = ""
    linkedid: str | None = None
    result: str = "ok"
    detail: str = ""


@dataclass
class CallLegs:
    """The agent's current call as Asterisk has it now."""

    agent: ChannelInfo
    caller: ChannelInfo | None
    others: list[ChannelInfo] = field(default_factory=list)  # everyone else with the call's linkedid

    @property
    def linkedid(self) -> str:
        return self.agent.linkedid

    @property
    def state(self) -> str:
        a = self.agent
        if a.application.lower() == "confbridge":
            return CONFERENCE
        if a.context == "cc-ctl-consult":
            return CONSULTING
        if self.caller is not None and self.caller.on_hold:
            return ON_HOLD
        if a.context == "cc-ctl-out" and not a.bridge_id:
            return DIALLING
        if a.state.lower() in ("ring", "ringing", "down"):
            return RINGING
        return TALKING

    def consult_target(self) -> ChannelInfo | None:
        """The target the agent is consulting (bridged with the agent's leg)."""
        for c in self.others:
            if c.bridge_id and c.bridge_id == self.agent.bridge_id and c is not self.caller:
                return c
        return None


def find_call(channels: list[ChannelInfo], agent: str) -> CallLegs | None:
    """The agent's current call: their phone's channel, and the caller (or citizen) it belongs to."""
    prefix = agent_prefix(agent)
    mine = [c for c in channels if c.channel.startswith(prefix) and c.context != "cc-ctl-spy"]
    if not mine:
        return None
    leg = mine[0]
    linked = [c for c in channels if c.linkedid == leg.linkedid and c.channel != leg.channel]
    # the caller: the call's first channel (inbound), else the citizen's trunk leg (click-to-call)
    caller = next((c for c in linked if c.uniqueid == c.linkedid and not c.channel.startswith("Local/")), None)
    if caller is None:
        caller = next((c for c in linked if c.bridge_id and c.bridge_id == leg.bridge_id
                       and not c.channel.startswith("Local/")), None)
    return CallLegs(leg, caller, linked)


class CallControl:
    """Call control for one actor (a signed-in person or the CLI) over one AMI session."""

    def __init__(self, ami: AmiCallControl, book: AddressBook, dialer: Dialer, queues: set[str],
                 agents: set[str], record: Callable[[ActionRecord], Awaitable[None]], allow_free_numbers: bool = True,
                 clock: Callable[[], float] = time.time) -> None:
        self.ami = ami
        self.book = book
        self.dialer = dialer
        self.queues = queues
        self.agents = agents
        self.record = record
        self.allow_free_numbers = allow_free_numbers
        self.clock = clock

    # ---- helpers ------------------------------------------------------------------------------
    async def _run(self, actor: str, agent: str, action: str, target: str,
                   body: Callable[[], Awaitable[tuple[str | None, dict[str, Any]]]]) -> dict[str, Any]:
        """Run one control; record it whatever happens; refusals and AMI errors become CallRefusals."""
        rec = ActionRecord(self.clock(), actor[:64], agent[:64], action, target[:80])
        try:
            linkedid, result = await body()
            rec.linkedid = linkedid
            return {"action": action, "target": target, "linkedid": linkedid, "result": "ok", **result}
        except CallRefusal as exc:
            rec.result, rec.detail, rec.linkedid = "refused", exc.msg_id, exc.values.get("linkedid")  # type: ignore[assignment]
            exc.values.pop("linkedid", None)
            raise
        except (AmiError, CallControlError) as exc:
            rec.result, rec.detail = "failed", str(exc)[:200]
            log.warning("call control %s by %s on %s failed: %s", action, actor, agent, exc)
            raise CallRefusal(502, "call_asterisk_refused", detail=str(exc)[:200]) from exc
        finally:
            try:
                await self.record(rec)
            except Exception:
                log.exception("could not record call action %s", rec)

    def _agent(self, agent: str | None) -> str:
        if not agent:
            raise CallRefusal(403, "call_no_phone")
        agent = numbers.agent(agent)
        if agent not in self.agents:
            raise CallRefusal(404, "call_unknown_agent", agent=agent)
        return agent

    async def _legs(self, agent: str, *states: str) -> CallLegs:
        legs = find_call(await self.ami.channels(), agent)
        if legs is None:
            raise CallRefusal(409, "call_no_current_call")
        if states and legs.state not in states:
            raise CallRefusal(409, "call_wrong_state", state=Term("callctl.state", legs.state),
                                  linkedid=legs.linkedid)
        return legs

    def destination(self, target: str) -> tuple[str, str]:
        """``agent:1002`` | ``queue:main`` | ``book:<key>`` | ``number:<digits>`` → (dialplan dest, label)."""
        kind, _, value = str(target or "").partition(":")
        value = value.strip()
        if kind == "agent":
            a = numbers.agent(value)
            if a not in self.agents:
                raise CallRefusal(404, "call_unknown_agent", agent=a)
            return f"a{a}", f"agent:{a}"
        if kind == "queue":
            q = numbers.queue(value)
            if q not in self.queues:
                raise CallRefusal(404, "call_unknown_queue", queue=q)
            return f"q{q}", f"queue:{q}"
        if kind == "book":
            entry = self.book.get(value[:40])
            return f"d{entry.number}", f"book:{entry.key}"
        if kind == "number":
            if not self.allow_free_numbers:
                raise CallRefusal(403, "call_free_numbers_off")
            n = numbers.number(value)
            return f"d{n}", f"number:{n}"
        raise CallRefusal(422, "call_bad_target", target=str(target)[:40])

    # ---- controls ------------------------------------------------------------------------------
    async def state(self, agent: str) -> dict[str, Any]:
        """The phone as the desk shows it: registered / unreachable / ringing / talking / on hold, and the timer."""
        agent = self._agent(agent)
        contact = await self.ami.contacts(agent)
        legs = find_call(await self.ami.channels(), agent)
        low = contact.lower()
        if legs is not None:
            phone = legs.state
        elif not contact:
            phone = "unregistered"
        elif "unavail" in low or "unreach" in low:
            phone = "unreachable"
        else:
            phone = "registered"
        out: dict[str, Any] = {"agent": agent, "phone": phone, "contact": contact, "at": self.clock()}
        if legs is not None:
            out.update(linkedid=legs.linkedid, call_s=legs.agent.duration_s,
                       caller_number=legs.caller.caller_number if legs.caller else "")
        return out

    async def hangup(self, actor: str, agent: str) -> dict[str, Any]:
        agent = self._agent(agent)

        async def body() -> tuple[str | None, dict[str, Any]]:
            legs = await self._legs(agent, TALKING, ON_HOLD, CONSULTING, CONFERENCE, DIALLING)
            await self.ami.hangup(legs.agent.channel)
            if legs.state in (ON_HOLD, CONSULTING) and legs.caller is not None:
                await self.ami.hangup(legs.caller.channel, missing_ok=True)  # nobody would take the waiting caller back
            return legs.linkedid, {}

        return await self._run(actor, agent, "hangup", "", body)

    async def hold(self, actor: str, agent: str) -> dict[str, Any]:
        agent = self._agent(agent)

        async def body() -> tuple[str | None, dict[str, Any]]:
            legs = await self._legs(agent, TALKING)
            if legs.caller is None or not legs.caller.bridge_id:
                raise CallRefusal(409, "call_wrong_state", state=Term("callctl.state", legs.state),
                                  linkedid=legs.linkedid)
            await self.ami.hold(legs.caller.channel, legs.agent.channel)
            return legs.linkedid, {}

        return await self._run(actor, agent, "hold", "", body)

    async def resume(self, actor: str, agent: str) -> dict[str, Any]:
        """Take the caller off hold (also cancels a consultation: the target is dropped)."""
        agent = self._agent(agent)

        async def body() -> tuple[str | None, dict[str, Any]]:
            legs = await self._legs(agent, ON_HOLD, CONSULTING)
            assert legs.caller is not None
            await self.ami.bridge(legs.caller.channel, legs.agent.channel)
            return legs.linkedid, {}

        return await self._run(actor, agent, "resume", "", body)

    async def transfer(self, actor: str, agent: str, target: str, attended: bool = False) -> dict[str, Any]:
        agent = self._agent(agent)
        action = "consult" if attended else "transfer"

        async def body() -> tuple[str | None, dict[str, Any]]:
            dest, label = self.destination(target)
            if dest == f"a{agent}":
                raise CallRefusal(409, "call_transfer_to_self")
            legs = await self._legs(agent, TALKING, ON_HOLD)
            if legs.caller is None:
                raise CallRefusal(409, "call_wrong_state", state=Term("callctl.state", legs.state),
                                  linkedid=legs.linkedid)
            if attended:
                await self.ami.consult(legs.caller.channel, legs.agent.channel, dest)
            elif legs.state == TALKING and legs.caller.bridge_id == legs.agent.bridge_id:
                await self.ami.blind_transfer(legs.agent.channel, dest)
            else:
                # the caller is on hold: send it on, then let the agent's leg go
                await self.ami.redirect_to(legs.caller.channel, dest)
                await self.ami.hangup(legs.agent.channel, missing_ok=True)
            return legs.linkedid, {"to": label}

        return await self._run(actor, agent, action, str(target)[:80], body)

    async def complete_transfer(self, actor: str, agent: str) -> dict[str, Any]:
        agent = self._agent(agent)

        async def body() -> tuple[str | None, dict[str, Any]]:
            legs = await self._legs(agent, CONSULTING)
            target = legs.consult_target()
            if target is None or legs.caller is None:
                raise CallRefusal(409, "call_target_not_answered", linkedid=legs.linkedid)
            await self.ami.bridge(legs.caller.channel, target.channel)
            await self.ami.hangup(legs.agent.channel, missing_ok=True)  # may have ended with its Dial already
            return legs.linkedid, {}

        return await self._run(actor, agent, "transfer-complete", "", body)

    async def conference(self, actor: str, agent: str, target: str) -> dict[str, Any]:
        """Three-way call: caller, agent and the target in one room (the agent may then hang up)."""
        agent = self._agent(agent)

        async def body() -> tuple[str | None, dict[str, Any]]:
            dest, label = self.destination(target)
            legs = await self._legs(agent, TALKING, ON_HOLD)
            if legs.caller is None:
                raise CallRefusal(409, "call_wrong_state", state=Term("callctl.state", legs.state),
                                  linkedid=legs.linkedid)
            room = "3" + re.sub(r"[^0-9]", "", legs.linkedid)[-30:]
            await self.ami.conference(legs.caller.channel, legs.agent.channel, room, dest,
                                      self.dialer.hotline_number)
            return legs.linkedid, {"to": label, "room": room}

        return await self._run(actor, agent, "conference", str(target)[:80], body)

    async def dial(self, actor: str, agent: str, number: str, order: str = "",
                   purpose: str = "click-to-call") -> dict[str, Any]:
        """Click-to-call: the agent's phone first, then the citizen (refused while the agent is on a call)."""
        agent = self._agent(agent)
        shown = str(number)[:40]

        async def body() -> tuple[str | None, dict[str, Any]]:
            n = numbers.number(number)
            o = re.sub(r"[^A-Za-z0-9-]", "", str(order or ""))[:40]
            channels = await self.ami.channels()
            busy = find_call(channels, agent)
            if busy is not None:
                raise CallRefusal(409, "call_busy", linkedid=busy.linkedid)
            ref = await self.dialer.place(self.ami, OutboundRequest(agent, n, o, purpose), channels)
            return None, {"ref": ref, "number": n, "order": o}

        return await self._run(actor, agent, "dial", shown, body)

    async def spy(self, actor: str, leader: str, target_agent: str, mode: str) -> dict[str, Any]:
        """Listen-in, whisper or barge: the team leader's own phone rings, then joins the agent's call."""
        leader = self._agent(leader)

        async def body() -> tuple[str | None, dict[str, Any]]:
            if mode not in SPY_MODES:
                raise CallRefusal(422, "call_bad_spy_mode", mode=str(mode)[:20])
            target = self._agent(target_agent)
            if target == leader:
                raise CallRefusal(409, "call_spy_self")
            channels = await self.ami.channels()
            if find_call(channels, leader) is not None:
                raise CallRefusal(409, "call_busy")
            legs = find_call(channels, target)
            if legs is None or legs.state == RINGING:
                raise CallRefusal(409, "call_agent_not_on_call", agent=target)
            await self.ami.spy(leader, target, mode)
            return legs.linkedid, {"agent": target, "mode": mode}

        return await self._run(actor, leader, f"spy-{mode}"[:32], str(target_agent)[:20], body)
