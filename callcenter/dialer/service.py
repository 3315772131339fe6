"""One outbound-call service: the agent's phone rings first, then the citizen over the carrier trunk.

Callers of this service (the desk's click-to-call today; callback tasks, follow-up campaigns and
emergency notification later) hand it an :class:`OutboundRequest`; it enforces pacing: at most
``max_outbound`` outbound calls in progress at once, counted from Asterisk's live channels (so the CLI
and every daemon see the same count), and at least ``interval_s`` between two originations of this
process. The call itself becomes a call record (direction outbound) from the dialplan's UserEvent.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from callcenter.asterisk.ami.callcontrol import AmiCallControl, ChannelInfo
from callcenter.callctl.numbers import CallRefusal


@dataclass(frozen=True, slots=True)
class OutboundRequest:
    agent: str  # whose phone rings first (validated)
    number: str  # the citizen (validated)
    order: str = ""  # the work order it is about, if any
    purpose: str = "click-to-call"  # click-to-call | callback | follow-up | notification


class Dialer:
    def __init__(self, hotline_number: str, max_outbound: int, interval_s: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.hotline_number = hotline_number
        self.max_outbound = max_outbound
        self.interval_s = interval_s
        self.clock = clock
        self._last = float("-inf")

    @staticmethod
    def in_progress(channels: list[ChannelInfo]) -> int:
        """Outbound calls Asterisk has now: agents' legs in the click-to-call context."""
        return sum(1 for c in channels if c.context == "cc-ctl-out")

    async def place(self, ami: AmiCallControl, request: OutboundRequest, channels: list[ChannelInfo]) -> str:
        """Originate the call; returns its reference (carried into the call's UserEvent)."""
        if self.in_progress(channels) >= self.max_outbound:
            raise CallRefusal(429, "call_dialer_busy", limit=self.max_outbound)
        now = self.clock()
        if now - self._last < self.interval_s:
            raise CallRefusal(429, "call_dialer_paced", seconds=self.interval_s)
        self._last = now
        ref = uuid.uuid4().hex[:16]
        await ami.dial_out(request.agent, request.number, self.hotline_number, request.order, ref)
        return ref
