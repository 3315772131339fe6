"""Live ACD state (who waits where, what each agent is doing), built from domain events.

Kept in memory by the daemon; :mod:`callcenter.live.redis_mirror` copies it to Redis so
several processes can share it. Resynced from a QueueStatus snapshot after every (re)connect,
because events missed while disconnected are gone for good.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from callcenter import events as ev
from callcenter.logs import mask_number

# Asterisk device states (include/asterisk/devicestate.h).
DEVICE_STATES = {
    0: "unknown", 1: "not_in_use", 2: "in_use", 3: "busy", 4: "invalid", 5: "unavailable",
    6: "ringing", 7: "ringinuse", 8: "onhold",
}
IN_USE = frozenset({2, 3, 8})  # in use, busy, on hold
RINGING = frozenset({6, 7})


@dataclass
class WaitingCaller:
    uniqueid: str
    linkedid: str
    queue: str
    caller_number: str
    caller_name: str
    joined_at: float
    position: int
    ringing_agent: str | None = None


@dataclass
class Membership:
    queue: str
    paused: bool = False
    reason: str = ""
    status: int = 0
    in_call: bool = False
    calls_taken: int = 0


@dataclass
class AgentState:
    agent: str
    interface: str
    memberships: dict[str, Membership] = field(default_factory=dict)
    logged_in_at: float | None = None
    call_linkedid: str | None = None
    call_queue: str | None = None
    call_caller: str | None = None
    talking_since: float | None = None
    ringing_for: str | None = None

    @property
    def state(self) -> str:
        """One word for boards: talking, ringing, paused, ready, unavailable, logged_out."""
        if not self.memberships:
            return "logged_out"
        if self.call_linkedid:
            return "talking"
        if self.ringing_for:
            return "ringing"
        # What Asterisk says about the member (QueueStatus snapshot, QueueMemberStatus): a snapshot
        # has no call of ours yet, but an agent Asterisk sees in a call or ringing is not ready.
        members = self.memberships.values()
        if any(m.in_call or m.status in IN_USE for m in members):
            return "talking"
        if any(m.status in RINGING for m in members):
            return "ringing"
        if self.memberships and all(m.paused for m in members):
            return "paused"
        if any(m.status in (4, 5) for m in self.memberships.values()):
            return "unavailable"
        return "ready"

    @property
    def pause_reason(self) -> str:
        reasons = {m.reason for m in self.memberships.values() if m.paused and m.reason}
        return ",".join(sorted(reasons))


Listener = Callable[[str, dict[str, Any]], None]


class LiveState:
    """Queues' waiting callers and agents' states. ``apply(event)`` is the only mutator."""

    def __init__(self) -> None:
        self.waiting: dict[str, dict[str, WaitingCaller]] = {}
        self.agents: dict[str, AgentState] = {}
        self.queue_params: dict[str, ev.QueueParamsSnapshot] = {}
        self.connected = False
        self._listeners: list[Listener] = []
        self._handlers: dict[type, Callable[[Any], None]] = {
            ev.CallerJoinedQueue: self._on_join,
            ev.CallerLeftQueue: self._on_leave,
            ev.CallerAbandoned: self._on_abandon,
            ev.AgentRung: self._on_rung,
            ev.AgentRingNoAnswer: self._on_rna,
            ev.AgentConnected: self._on_connect,
            ev.AgentCompleted: self._on_complete,
            ev.MemberAdded: self._on_member_added,
            ev.MemberRemoved: self._on_member_removed,
            ev.MemberPaused: self._on_member_paused,
            ev.MemberStatusChanged: self._on_member_status,
            ev.QueueStatusSnapshot: self.resync,
            ev.TelephonyConnected: self._on_connected,
            ev.TelephonyDisconnected: self._on_disconnected,
        }

    # ---- subscription ------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        """``listener(kind, payload)`` after each change.

        kind 'agent': payload is the agent's view; 'queue': ``{"queue": name, "waiting": n}`` (call
        :meth:`queue_view` for the callers: building it on every event costs too much on a busy
        hotline); 'reset': the whole board after a resync.
        """
        self._listeners.append(listener)

    def _notify(self, kind: str, payload: dict[str, Any]) -> None:
        for listener in self._listeners:
            listener(kind, payload)

    def apply(self, event: Any) -> None:
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    # ---- queue side ----------------------------------------------------------------------------
    def _queue_changed(self, queue: str) -> None:
        if self._listeners:
            self._notify("queue", {"queue": queue, "waiting": len(self.waiting.get(queue, ()))})

    def _on_join(self, e: ev.CallerJoinedQueue) -> None:
        self.waiting.setdefault(e.queue, {})[e.uniqueid] = WaitingCaller(
            e.uniqueid, e.linkedid, e.queue, e.caller_number, e.caller_name, e.ts, e.position
        )
        self._queue_changed(e.queue)

    def _stop_ringing(self, linkedid: str, except_agent: str | None = None) -> None:
        """Agents rung for a caller who is now gone or answered elsewhere stop ringing.

        (Asterisk 16 sends no QueueMemberStatus for a ring cancelled because another agent answered.)
        """
        for agent in self.agents.values():
            if agent.ringing_for == linkedid and agent.agent != except_agent:
                agent.ringing_for = None
                self._agent_changed(agent)

    def _drop_caller(self, queue: str, uniqueid: str) -> None:
        caller = self.waiting.get(queue, {}).get(uniqueid)
        if caller is not None:
            self._stop_ringing(caller.linkedid)
        if self.waiting.get(queue, {}).pop(uniqueid, None) is not None:
            for pos, caller in enumerate(sorted(self.waiting[queue].values(), key=lambda c: c.position), 1):
                caller.position = pos
            self._queue_changed(queue)

    def _on_leave(self, e: ev.CallerLeftQueue) -> None:
        self._drop_caller(e.queue, e.uniqueid)

    def _on_abandon(self, e: ev.CallerAbandoned) -> None:
        self._drop_caller(e.queue, e.uniqueid)

    # ---- agent side ----------------------------------------------------------------------------
    def _agent(self, agent: str, interface: str) -> AgentState:
        state = self.agents.get(agent)
        if state is None:
            state = self.agents[agent] = AgentState(agent, interface)
        elif interface:
            state.interface = interface
        return state

    def _agent_changed(self, state: AgentState) -> None:
        if self._listeners:
            self._notify("agent", self.agent_view(state))

    def _on_rung(self, e: ev.AgentRung) -> None:
        state = self._agent(e.agent, e.interface)
        state.ringing_for = e.linkedid
        caller = self.waiting.get(e.queue, {}).get(e.uniqueid)
        if caller is not None:
            caller.ringing_agent = e.agent
        self._agent_changed(state)

    def _on_rna(self, e: ev.AgentRingNoAnswer) -> None:
        state = self._agent(e.agent, e.interface)
        if state.ringing_for == e.linkedid:
            state.ringing_for = None
        caller = self.waiting.get(e.queue, {}).get(e.uniqueid)
        if caller is not None and caller.ringing_agent == e.agent:
            caller.ringing_agent = None
        self._agent_changed(state)

    def _on_connect(self, e: ev.AgentConnected) -> None:
        self._stop_ringing(e.linkedid, except_agent=e.agent)
        state = self._agent(e.agent, e.interface)
        state.ringing_for = None
        state.call_linkedid = e.linkedid
        state.call_queue = e.queue
        state.talking_since = e.ts
        self._drop_caller(e.queue, e.uniqueid)
        self._agent_changed(state)

    def _on_complete(self, e: ev.AgentCompleted) -> None:
        state = self._agent(e.agent, e.interface)
        # (an AgentComplete without the caller's fields still ends this agent's call in that queue)
        if state.call_linkedid == e.linkedid or (not e.linkedid and state.call_queue == e.queue):
            state.call_linkedid = state.call_queue = state.talking_since = None
        membership = state.memberships.get(e.queue)
        if membership is not None:
            membership.calls_taken += 1
        self._agent_changed(state)

    def _on_member_added(self, e: ev.MemberAdded) -> None:
        state = self._agent(e.agent, e.interface)
        state.memberships[e.queue] = Membership(e.queue, e.paused, e.reason, e.status)
        if state.logged_in_at is None:
            state.logged_in_at = e.ts
        self._agent_changed(state)

    def _on_member_removed(self, e: ev.MemberRemoved) -> None:
        state = self._agent(e.agent, e.interface)
        state.memberships.pop(e.queue, None)
        if not state.memberships:
            # logged out everywhere: nothing of the old shift may leak into the next login
            state.logged_in_at = state.ringing_for = None
            state.call_linkedid = state.call_queue = state.talking_since = None
        self._agent_changed(state)

    def _on_member_paused(self, e: ev.MemberPaused) -> None:
        state = self._agent(e.agent, e.interface)
        membership = state.memberships.setdefault(e.queue, Membership(e.queue))
        membership.paused, membership.reason = e.paused, (e.reason if e.paused else "")
        self._agent_changed(state)

    def _on_member_status(self, e: ev.MemberStatusChanged) -> None:
        state = self._agent(e.agent, e.interface)
        membership = state.memberships.setdefault(e.queue, Membership(e.queue))
        membership.status, membership.paused, membership.in_call = e.status, e.paused, e.in_call
        membership.reason = e.reason if e.paused else ""
        membership.calls_taken = e.calls_taken
        if e.status not in (6, 7) and state.ringing_for and not e.in_call and state.call_linkedid is None:
            state.ringing_for = None
        self._agent_changed(state)

    # ---- connection and resync ----------------------------------------------------------------
    def _on_connected(self, e: ev.TelephonyConnected) -> None:
        self.connected = True

    def _on_disconnected(self, e: ev.TelephonyDisconnected) -> None:
        self.connected = False

    def resync(self, snap: ev.QueueStatusSnapshot) -> None:
        """Replace everything with what Asterisk reports now."""
        self.queue_params = {q.queue: q for q in snap.queues}
        self.waiting = {q.queue: {} for q in snap.queues}
        for entry in snap.entries:
            self.waiting.setdefault(entry.queue, {})[entry.uniqueid] = WaitingCaller(
                entry.uniqueid, entry.linkedid or entry.uniqueid, entry.queue, entry.caller_number,
                entry.caller_name, snap.ts - entry.wait_s, entry.position,
            )
        previous = self.agents
        self.agents = {}
        for m in snap.members:
            state = self._agent(m.agent, m.interface)
            state.memberships[m.queue] = Membership(m.queue, m.paused, m.reason, m.status, m.in_call, m.calls_taken)
            old = previous.get(m.agent)
            if old is not None:
                state.logged_in_at = old.logged_in_at
                if m.in_call:
                    state.call_linkedid, state.call_queue = old.call_linkedid, old.call_queue
                    state.talking_since = old.talking_since
            if state.logged_in_at is None:
                state.logged_in_at = float(m.login_time) if m.login_time else None
        self._notify("reset", self.view(snap.ts))

    # ---- views ------------------------------------------------------------------------------
    def callers(self, queue: str) -> list[WaitingCaller]:
        return sorted(self.waiting.get(queue, {}).values(), key=lambda c: c.position)

    def agent_view(self, state: AgentState) -> dict[str, Any]:
        return {
            "agent": state.agent,
            "interface": state.interface,
            "state": state.state,
            "pause_reason": state.pause_reason,
            "queues": sorted(state.memberships),
            "paused_queues": sorted(q for q, m in state.memberships.items() if m.paused),
            "logged_in_at": state.logged_in_at,
            "call_linkedid": state.call_linkedid,
            "call_queue": state.call_queue,
            "talking_since": state.talking_since,
            "ringing_for": state.ringing_for,
        }

    def queue_view(self, queue: str, now: float, masked: bool = False) -> list[dict[str, Any]]:
        """The callers waiting in ``queue``, in position order, with their wait so far (numbers masked
        when ``masked``: what leaves the process, Redis and ``/ops/live``, unless asked otherwise)."""
        rows = [{**asdict(c), "wait_s": max(0, int(now - c.joined_at))} for c in self.callers(queue)]
        if masked:
            for row in rows:
                row["caller_number"] = mask_number(row["caller_number"])
        return rows

    def view(self, now: float, masked: bool = False) -> dict[str, Any]:
        """The whole board as plain data (CLI ``queue status``, wallboard, Redis); ``masked``: caller
        numbers masked."""
        queues = sorted(set(self.waiting) | set(self.queue_params))
        return {
            "connected": self.connected,
            "queues": {
                q: {
                    "waiting": self.queue_view(q, now, masked),
                    "agents": sorted(a.agent for a in self.agents.values() if q in a.memberships),
                }
                for q in queues
            },
            "agents": {a: self.agent_view(s) for a, s in sorted(self.agents.items())},
        }
