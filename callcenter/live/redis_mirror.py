"""Mirror live queue/agent state into Redis and publish each change (optional, ``REDIS_URL``).

Keys (``<node>`` is this daemon's ``node``, so several daemons, one per Asterisk, can share one Redis):
``callcenter:<node>:queue:<name>`` (JSON of waiting callers), ``callcenter:<node>:agent:<id>`` (JSON of
the agent's state), ``callcenter:<node>:board`` (the whole view); channel ``callcenter:live`` carries each
change as ``{"node": ..., "kind": ..., "payload": ...}`` (for a queue: its name and how many wait).
Writes are coalesced and sent by one asyncio task, so the reactor never waits on Redis; if Redis is
down, changes are dropped and the whole board is rewritten once it is back (Redis is a mirror, never
the record).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from callcenter.acd.live import LiveState

log = logging.getLogger(__name__)

CHANNEL = "callcenter:live"


class RedisMirror:
    def __init__(self, url: str, live: LiveState, node: str = "cc1", clock: Callable[[], float] = time.time,
                 interval: float = 0.05) -> None:
        self.url = url
        self.node = node
        self.prefix = f"callcenter:{node}"
        self.live = live
        self.clock = clock
        self.interval = interval
        self.client = aioredis.from_url(url, decode_responses=True)
        self._pending: dict[str, tuple[str, dict[str, Any]]] = {}
        self._changes: list[dict[str, Any]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._full_resync = True
        self.ok = False
        self.keepalive_s = 5.0

    def start(self, supervisor: Any = None) -> None:
        """Start mirroring (under ``supervisor``: a failure is logged, counted and restarted)."""
        from callcenter.supervise import Supervisor

        self._task = (supervisor or Supervisor()).task("redis-mirror", self._run)  # type: ignore[assignment]

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        await self.client.aclose()

    def on_change(self, kind: str, payload: dict[str, Any]) -> None:
        """LiveState listener (runs on the reactor thread: only queues work)."""
        if kind == "reset":
            self._full_resync = True
        elif kind == "queue":
            self._pending[f"{self.prefix}:queue:{payload['queue']}"] = (kind, payload)
        elif kind == "agent":
            self._pending[f"{self.prefix}:agent:{payload['agent']}"] = (kind, payload)
        if kind == "reset":  # the whole board: only masked numbers leave the process
            payload = self.live.view(self.clock(), masked=True)
        self._changes.append({"node": self.node, "kind": kind, "payload": payload})
        if len(self._changes) > 10000:  # Redis away for long: keep the newest only
            del self._changes[:5000]
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.keepalive_s)
            except TimeoutError:
                pass  # quiet for a while: still check Redis is there (health must not say ok when it is not)
            self._wake.clear()
            await asyncio.sleep(self.interval)
            pending, changes = self._pending, self._changes
            self._pending, self._changes = {}, []
            full = self._full_resync
            try:
                async with self.client.pipeline(transaction=False) as pipe:
                    now = self.clock()
                    if full:
                        board = self.live.view(now, masked=True)
                        pipe.set(f"{self.prefix}:board", json.dumps(board, ensure_ascii=False))
                        for name, q in board["queues"].items():
                            pipe.set(f"{self.prefix}:queue:{name}", json.dumps(q["waiting"], ensure_ascii=False))
                        for agent, state in board["agents"].items():
                            pipe.set(f"{self.prefix}:agent:{agent}", json.dumps(state, ensure_ascii=False))
                    for key, (kind, payload) in pending.items():
                        body = self.live.queue_view(payload["queue"], now, masked=True) if kind == "queue" else payload
                        pipe.set(key, json.dumps(body, ensure_ascii=False))
                    if not full and pending:
                        board = self.live.view(now, masked=True)
                        pipe.set(f"{self.prefix}:board", json.dumps(board, ensure_ascii=False))
                    for change in changes:
                        pipe.publish(CHANNEL, json.dumps(change, ensure_ascii=False))
                    pipe.ping()
                    await pipe.execute()
                self._full_resync = False
                if not self.ok:
                    log.info("Redis mirror connected to %s", self.url)
                self.ok = True
            except (aioredis.RedisError, OSError) as exc:
                if self.ok or full:
                    log.warning("Redis mirror unavailable (%s); will resync when it returns", exc)
                self.ok = False
                self._full_resync = True
                await asyncio.sleep(1.0)
                self._wake.set()
