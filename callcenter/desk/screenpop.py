"""Screen-pop: when the queue rings or connects an agent, their desk shows who is calling.

Subscribed to the daemon's event bus. The call's data (number, name, hotline, IVR path, tags)
comes from the call recorder's in-memory record, so the pop goes out at once; the caller's
earlier orders and calls and possible duplicates follow from the database a moment later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from callcenter import events as ev
from callcenter.calls.records import CallRecord
from callcenter.desk.push import PushHub

log = logging.getLogger(__name__)


def call_payload(call: CallRecord | None, linkedid: str, fallback_number: str = "",
                 fallback_name: str = "") -> dict[str, Any]:
    """What the desk shows about a call (plain data; the browser renders it as text, never HTML)."""
    if call is None:
        return {"linkedid": linkedid, "caller_number": fallback_number, "caller_name": fallback_name,
                "did": "", "hotline": "", "ivr_path": [], "tags": {}, "started_at": None}
    return {
        "linkedid": call.linkedid,
        "caller_number": call.caller_number,
        "caller_name": call.caller_name,
        "did": call.did,
        "hotline": call.hotline or "",
        "flow": getattr(call, "flow", None),
        "ivr_path": [dict(step) for step in getattr(call, "ivr_path", [])],
        "tags": dict(getattr(call, "tags", {})),
        "started_at": call.started_at,
    }


class ScreenPop:
    """Turns AgentRung/AgentConnected into 'pop' events on the agent's desk streams."""

    def __init__(self, hub: PushHub, find_call: Callable[[str], CallRecord | None],
                 history: Callable[[dict[str, Any]], Any],
                 decorate: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> None:
        self.hub = hub
        # decorate(payload) adds the flow file's labels to IVR steps and tags (identity when absent)
        self.decorate = decorate or (lambda payload: payload)
        self.find_call = find_call
        # history(payload) → Deferred firing with {"orders": [...], "calls": [...], "duplicates": [...]}
        self.history = history
        # agent → payload of the call they are being offered or talking to (a desk opened mid-call gets it)
        self.current: dict[str, dict[str, Any]] = {}
        self.pops = 0
        self._handlers: dict[type, Callable[[Any], None]] = {
            ev.AgentRung: self._on_rung,
            ev.AgentConnected: self._on_connected,
            ev.AgentRingNoAnswer: self._on_no_answer,
            ev.AgentCompleted: self._on_completed,
            ev.IvrStep: self._on_call_changed,
            ev.CallTagged: self._on_call_changed,
        }

    def apply(self, event: Any) -> None:
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def _pop(self, agent: str, linkedid: str, phase: str) -> None:
        call = self.find_call(linkedid)
        payload = self.decorate({**call_payload(call, linkedid), "phase": phase, "agent": agent})
        self.current[agent] = payload
        self.pops += 1
        self.hub.to_agent(agent, "pop", payload)
        d = self.history(payload)
        d.addCallback(lambda extra: self.hub.to_agent(agent, "history", {"linkedid": linkedid, **extra}))
        d.addErrback(lambda f: log.error("screen-pop history for %s failed: %s", linkedid, f.getErrorMessage()))

    def _on_rung(self, e: ev.AgentRung) -> None:
        self._pop(e.agent, e.linkedid, "ringing")

    def _on_connected(self, e: ev.AgentConnected) -> None:
        self._pop(e.agent, e.linkedid, "connected")

    def _on_no_answer(self, e: ev.AgentRingNoAnswer) -> None:
        current = self.current.get(e.agent)
        if current and current["linkedid"] == e.linkedid and current["phase"] == "ringing":
            del self.current[e.agent]
            self.hub.to_agent(e.agent, "pop_cancel", {"linkedid": e.linkedid})

    def _on_completed(self, e: ev.AgentCompleted) -> None:
        current = self.current.get(e.agent)
        if current and current["linkedid"] == e.linkedid:
            current["phase"] = "ended"
            self.hub.to_agent(e.agent, "call_ended", {"linkedid": e.linkedid})

    def _on_call_changed(self, e: Any) -> None:
        # IVR steps or tags that arrive after the pop (rare): refresh the agents showing that call.
        for agent, current in list(self.current.items()):
            if current["linkedid"] == e.linkedid and current["phase"] != "ended":
                fresh = self.decorate({**call_payload(self.find_call(e.linkedid), e.linkedid),
                                       "phase": current["phase"], "agent": agent})
                self.current[agent] = fresh
                self.hub.to_agent(agent, "pop_update", fresh)
