"""Server-sent events to browsers: each signed-in desk page holds one stream.

Events go to the streams of one agent (screen-pops, their state) or of everybody with a
permission (the work list changed). A comment line every 15 s keeps proxies from closing idle
streams; a stream whose browser went away is dropped.
"""

from __future__ import annotations

import itertools
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from callcenter.auth.roles import Perm, has
from callcenter.auth.services import Actor

log = logging.getLogger(__name__)

KEEPALIVE_S = 15.0


@dataclass(eq=False)
class Stream:
    request: Any
    actor: Actor
    open: bool = True
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def send(self, event: str, data: Any) -> None:
        if not self.open:
            return
        payload = json.dumps(data, ensure_ascii=False, default=str)
        frame = f"id: {next(self.ids)}\nevent: {event}\ndata: {payload}\n\n"
        try:
            self.request.write(frame.encode("utf-8"))
        except Exception:  # the connection went away between our check and the write
            self.open = False


class PushHub:
    def __init__(self) -> None:
        self.streams: set[Stream] = set()
        self._keepalive: Any = None
        self.sent = 0

    def start(self) -> None:
        from twisted.internet import task

        self._keepalive = task.LoopingCall(self._ping)
        self._keepalive.start(KEEPALIVE_S, now=False)

    def stop(self) -> None:
        if self._keepalive is not None and self._keepalive.running:
            self._keepalive.stop()
        for stream in list(self.streams):
            stream.open = False
            try:
                stream.request.finish()
            except Exception:
                pass
        self.streams.clear()

    def attach(self, request: Any, actor: Actor) -> Stream:
        """Turn ``request`` into an event stream for ``actor``; it stays open until the browser leaves."""
        request.setHeader(b"content-type", b"text/event-stream; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        request.setHeader(b"x-accel-buffering", b"no")
        stream = Stream(request, actor)
        self.streams.add(stream)
        request.write(b"retry: 2000\n\n")

        def gone(_: Any) -> None:
            stream.open = False
            self.streams.discard(stream)

        request.notifyFinish().addBoth(gone)
        return stream

    def to_agent(self, agent_id: str, event: str, data: Any) -> int:
        """Send to every stream of the users who answer calls as ``agent_id``; returns how many."""
        n = 0
        for stream in list(self.streams):
            if stream.actor.agent_id == agent_id:
                stream.send(event, data)
                n += 1
        self.sent += n
        return n

    def to_perm(self, perm: Perm, event: str, data: Any) -> int:
        n = 0
        for stream in list(self.streams):
            if has(stream.actor.role, perm):
                stream.send(event, data)
                n += 1
        return n

    def to_all(self, event: str, data: Any) -> int:
        """Send to every open stream (each page then asks for its own view, e.g. its inbox count)."""
        n = 0
        for stream in list(self.streams):
            stream.send(event, data)
            n += 1
        return n

    def _ping(self) -> None:
        for stream in list(self.streams):
            if stream.open:
                try:
                    stream.request.write(b": keepalive\n\n")
                except Exception:
                    stream.open = False
            if not stream.open:
                self.streams.discard(stream)
