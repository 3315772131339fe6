"""Runs a flow for one caller over an abstract :class:`Channel` (the FastAGI adapter implements it).

One handler per node type, in the :data:`HANDLERS` table. Long-running steps (queue, transfer)
are handed back to the dialplan as channel variables (``CC_IVR_NEXT`` …) so no FastAGI session
lives longer than the menus; when such a step can come back (queue timeout, no answer), the
dialplan resumes the flow with a token that names the flow *version*, so the caller stays on
the flow they started with even if it was reloaded meanwhile.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from callcenter import events as ev
from callcenter.ivr import hours
from callcenter.ivr.flows import FlowSet
from callcenter.ivr.schema import (
    DTMF,
    CollectNode,
    HangupNode,
    HoursNode,
    MenuNode,
    PlayNode,
    QueueNode,
    SubflowNode,
    TagNode,
    TransferNode,
    VoicemailNode,
)

log = logging.getLogger(__name__)

MAX_STEPS = 200


class CallerGone(Exception):
    """The caller hung up; the flow stops here."""


class FlowError(Exception):
    """The flow cannot go on (a bug or a vanished node): the dialplan's fallback takes over."""


@dataclass(frozen=True)
class VoicemailMessage:
    path: str
    duration_s: int


class Channel(Protocol):
    """What the engine needs from a call; every method raises :class:`CallerGone` on hang-up."""

    async def play(self, prompts: Sequence[str], escape_digits: str = "") -> str: ...

    async def wait_digit(self, timeout_s: float) -> str: ...

    async def voicemail(self, mailbox: str) -> tuple[VoicemailMessage | None, bool]: ...

    async def hand_off(self, variables: dict[str, str]) -> None: ...


@dataclass(frozen=True)
class CallInfo:
    linkedid: str
    uniqueid: str
    caller_number: str
    caller_name: str
    did: str
    hotline: str
    default_queue: str
    mailbox: str
    max_wait: int


@dataclass
class Step:
    """What a handler did: the next node (``None`` = the flow ends), and what to record."""

    next: str | None
    result: str = ""
    handoff: dict[str, str] | None = None
    flow: str | None = None  # a sub-flow switches flows


@dataclass
class Run:
    """One caller's walk through one flow set."""

    flows: FlowSet
    channel: Channel
    call: CallInfo
    publish: Callable[[Any], None]
    clock: hours.Clock
    flow: str = ""
    steps: int = 0
    path: list[tuple[str, str, str]] = field(default_factory=list)

    def step_event(self, node: str, kind: str, result: str, started: float) -> None:
        self.path.append((self.flow, node, result))
        self.publish(ev.IvrStep(ts=time.time(), linkedid=self.call.linkedid, flow=self.flow, node=node, kind=kind,
                                result=result, duration_ms=int((time.monotonic() - started) * 1000)))

    def enter(self, flow: str) -> None:
        self.flow = flow
        self.publish(ev.FlowEntered(ts=time.time(), linkedid=self.call.linkedid, uniqueid=self.call.uniqueid,
                                    flow=flow, version=self.flows.version, hotline=self.call.hotline))

    def token(self, node: str) -> str:
        return f"{self.flows.version}|{self.flow}|{node}"

    async def start(self, flow: str) -> None:
        """Enter ``flow`` at its start node and run until a hand-off, a hang-up or the end."""
        if flow not in self.flows.flows:
            raise FlowError(f"no flow named {flow!r} in version {self.flows.version}")
        self.enter(flow)
        await self.run_from(self.flows.flows[flow].start)

    async def resume(self, flow: str, node: str, status: str) -> None:
        """Continue after a queue or transfer handed back with ``status`` (QUEUESTATUS/DIALSTATUS)."""
        self.flow = flow
        try:
            current = self.flows.node(flow, node)
        except KeyError as exc:
            raise FlowError(f"cannot resume at {flow}/{node}: not in version {self.flows.version}") from exc
        started = time.monotonic()
        nxt: str | None = None
        if isinstance(current, QueueNode):
            nxt = current.on_timeout
        elif isinstance(current, TransferNode) and status.upper() != "ANSWER":
            nxt = current.on_failure
        self.step_event(node, current.type, status.lower() or "returned", started)
        if nxt is None:
            await self.channel.hand_off({"CC_IVR_NEXT": "hangup"})
            return
        await self.run_from(nxt)

    async def run_from(self, node_name: str | None) -> None:
        while node_name is not None:
            self.steps += 1
            if self.steps > MAX_STEPS:
                raise FlowError(f"more than {MAX_STEPS} steps in flow {self.flow!r}: a loop?")
            node = self.flows.node(self.flow, node_name)
            started = time.monotonic()
            try:
                step = await HANDLERS[type(node)](self, node_name, node)
            except CallerGone:
                self.step_event(node_name, node.type, "hangup", started)
                raise
            if step.flow is not None:
                self.step_event(node_name, node.type, step.result, started)
                self.enter(step.flow)
                node_name = self.flows.flows[step.flow].start
                continue
            self.step_event(node_name, node.type, step.result, started)
            if step.handoff is not None:
                await self.channel.hand_off(step.handoff)
                return
            node_name = step.next
        await self.channel.hand_off({"CC_IVR_NEXT": "hangup"})


# ---- one handler per node type ---------------------------------------------------------------------
Handler = Callable[[Run, str, Any], Awaitable[Step]]


async def _play(run: Run, _name: str, node: PlayNode) -> Step:
    await run.channel.play(node.prompt)
    return Step(node.next)


async def _menu(run: Run, name: str, node: MenuNode) -> Step:
    extra: Sequence[str] = ()
    outcome = "timeout"
    for attempt in range(node.retries + 1):
        started = time.monotonic()
        key = await run.channel.play((*extra, *node.prompt), DTMF)
        if not key:
            key = await run.channel.wait_digit(node.timeout)
        if key in node.choices:
            return Step(node.choices[key], key)
        outcome = "invalid" if key else "timeout"
        if attempt < node.retries:
            run.step_event(name, node.type, f"invalid:{key}" if key else "timeout", started)
        extra = node.invalid_prompt if key else node.timeout_prompt
    last = f"invalid:{key}" if outcome == "invalid" else "timeout"
    return Step(node.on_invalid if outcome == "invalid" else node.on_timeout, last)


async def _collect(run: Run, name: str, node: CollectNode) -> Step:
    extra: Sequence[str] = ()
    result = "timeout"
    for attempt in range(node.retries + 1):
        started = time.monotonic()
        digits = ""
        key = await run.channel.play((*extra, *node.prompt), DTMF)
        while len(digits) < node.max_length:
            if not key:
                key = await run.channel.wait_digit(node.inter_digit_timeout if digits else node.timeout)
            if not key or (node.terminator and key == node.terminator):
                break
            digits += key
            key = ""
        ok = node.min_length <= len(digits) <= node.max_length and (
            node.pattern is None or re.fullmatch(node.pattern, digits) is not None)
        if ok:
            if node.tag:
                run.publish(ev.CallTagged(ts=time.time(), linkedid=run.call.linkedid, tags=((node.tag, digits),)))
            return Step(node.next, digits)
        result = f"invalid:{digits}" if digits else "timeout"
        if attempt < node.retries:
            run.step_event(name, node.type, result, started)
        extra = node.invalid_prompt
    return Step(node.on_failure, result)


async def _hours(run: Run, _name: str, node: HoursNode) -> Step:
    is_open = hours.is_open(run.flows.calendars[node.calendar], run.clock.now())
    return Step(node.open if is_open else node.closed, "open" if is_open else "closed")


async def _tag(run: Run, _name: str, node: TagNode) -> Step:
    run.publish(ev.CallTagged(ts=time.time(), linkedid=run.call.linkedid, tags=tuple(node.tags.items())))
    return Step(node.next, ",".join(f"{k}={v}" for k, v in node.tags.items()))


async def _queue(run: Run, name: str, node: QueueNode) -> Step:
    return Step(None, node.queue, handoff={
        "CC_IVR_NEXT": "queue", "CC_IVR_QUEUE": node.queue, "CC_IVR_MAX_WAIT": str(node.max_wait),
        "CC_IVR_RESUME": run.token(name) if node.on_timeout else "",
    })


async def _voicemail(run: Run, _name: str, node: VoicemailNode) -> Step:
    if node.prompt:
        await run.channel.play(node.prompt)
    mailbox = node.mailbox or run.call.mailbox
    message, hung_up = await run.channel.voicemail(mailbox)
    if message is not None:
        c = run.call
        run.publish(ev.VoicemailLeft(ts=time.time(), linkedid=c.linkedid, mailbox=mailbox, path=message.path,
                                     duration_s=message.duration_s, caller_number=c.caller_number,
                                     caller_name=c.caller_name, hotline=c.hotline, reason=node.reason))
    if hung_up:
        raise CallerGone(f"hung up after the voicemail ({'saved' if message else 'nothing saved'})")
    return Step(node.next, "left" if message else "none")


async def _transfer(run: Run, name: str, node: TransferNode) -> Step:
    if node.prompt:
        await run.channel.play(node.prompt)
    run.publish(ev.CallTransferredOut(ts=time.time(), linkedid=run.call.linkedid, destination=node.destination,
                                      reason=node.reason))
    return Step(None, node.destination, handoff={
        "CC_IVR_NEXT": "transfer", "CC_IVR_DEST": node.destination, "CC_IVR_TRUNK": node.trunk,
        "CC_IVR_DIAL_TIMEOUT": str(node.dial_timeout),
        "CC_IVR_RESUME": run.token(name) if node.on_failure else "",
    })


async def _subflow(_run: Run, _name: str, node: SubflowNode) -> Step:
    return Step(None, node.flow, flow=node.flow)


async def _hangup(run: Run, _name: str, node: HangupNode) -> Step:
    if node.prompt:
        await run.channel.play(node.prompt)
    return Step(None, "", handoff={"CC_IVR_NEXT": "hangup"})


HANDLERS: dict[type, Handler] = {
    PlayNode: _play,
    MenuNode: _menu,
    CollectNode: _collect,
    HoursNode: _hours,
    TagNode: _tag,
    QueueNode: _queue,
    VoicemailNode: _voicemail,
    TransferNode: _transfer,
    SubflowNode: _subflow,
    HangupNode: _hangup,
}
