"""The daemon's telephony link: AMI frames in as domain events, ACD commands out as AMI actions.

After every (re)connect it publishes :class:`~callcenter.events.TelephonyConnected`, a
QueueStatus snapshot and the list of live channels, so live state and call records resync with
whatever happened while the link was down.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, BinaryIO

from panoramisk.message import Message

from callcenter import events as ev
from callcenter.acd.commands import AcdCommand
from callcenter.asterisk.ami.actions import action_for
from callcenter.asterisk.ami.client import AmiClient
from callcenter.asterisk.ami.translate import EVENTS, queue_status_snapshot, translate
from callcenter.config import AmiConfig

log = logging.getLogger(__name__)

# What the daemon parses: the events it translates, and Shutdown (panoramisk closes on it).
WANTED_EVENTS = frozenset(EVENTS) | {"shutdown"}


class AmiTelephony:
    def __init__(
        self,
        config: AmiConfig,
        publish: Callable[[Any], None],
        capture: BinaryIO | None = None,
        clock: Callable[[], float] = time.time,
        on_frame: Callable[[Message], None] | None = None,
    ) -> None:
        self.publish = publish
        self.clock = clock
        self.on_frame = on_frame
        self.frames = 0
        self.client = AmiClient(
            config.host, config.port, config.username, config.secret,
            on_event=self._on_frame, on_connected=self._on_connected, on_disconnected=self._on_disconnected,
            capture=capture, reconnect_min_s=config.reconnect_min_s, reconnect_max_s=config.reconnect_max_s,
            action_timeout_s=config.action_timeout_s, wanted_events=WANTED_EVENTS,
        )

    def start(self) -> None:
        self.client.start()

    async def stop(self) -> None:
        await self.client.stop()

    def _on_frame(self, message: Message) -> None:
        self.frames += 1
        if self.on_frame is not None:
            self.on_frame(message)
        event = translate(message)
        if event is not None:
            self.publish(event)

    async def _on_connected(self) -> None:
        self.publish(ev.TelephonyConnected(self.clock(), self.client.version or ""))
        await self.resync()

    def _on_disconnected(self, reason: str) -> None:
        self.publish(ev.TelephonyDisconnected(self.clock(), reason))

    async def resync(self) -> None:
        """Publish a QueueStatus snapshot and the live channels (applied before later events)."""
        await self.client.action(
            {"Action": "QueueStatus"}, as_list=True,
            on_complete=lambda msgs: self.publish(queue_status_snapshot(msgs, self.clock())),
        )
        await self.client.action(
            {"Action": "CoreShowChannels"}, as_list=True,
            on_complete=lambda msgs: self.publish(ev.ActiveChannels(self.clock(), frozenset(
                m.get("Uniqueid") for m in msgs if m.get("Event") == "CoreShowChannel"))),
        )

    async def execute(self, command: AcdCommand) -> None:
        """Carry out an ACD command; raises AmiError with Asterisk's reason when it refuses."""
        await self.client.action(action_for(command))

    async def queue_status(self) -> ev.QueueStatusSnapshot:
        msgs = await self.client.action({"Action": "QueueStatus"}, as_list=True)
        return queue_status_snapshot(msgs, self.clock())
