"""Supervision of background work: no thread, LoopingCall or asyncio task may die silently.

Why: the database writer thread once died on ``ENOSPC`` with a bare traceback on stderr and nothing
was written until a restart. Everything that runs in the background is started through a
:class:`Supervisor`, which logs a failure with its traceback, counts it, and starts the work again
after a backoff (0.5 s doubling to 30 s, reset after a minute without failure). ``status()`` feeds
``/ops/health``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class Supervised:
    """What the supervisor knows about one piece of background work."""

    name: str
    kind: str
    running: bool = False
    failures: int = 0
    last_error: str | None = None
    last_failure_at: float | None = None
    backoff_s: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "running": self.running, "failures": self.failures,
                "last_error": self.last_error}


class Supervisor:
    """Starts background work and restarts it with backoff when it fails."""

    def __init__(self, min_backoff_s: float = 0.5, max_backoff_s: float = 30.0, calm_s: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.min_backoff_s, self.max_backoff_s, self.calm_s = min_backoff_s, max_backoff_s, calm_s
        self.items: dict[str, Supervised] = {}
        self._sleep = sleep
        self._stopping = False
        self._lock = threading.Lock()

    @property
    def failures(self) -> int:
        return sum(item.failures for item in list(self.items.values()))

    def status(self) -> dict[str, dict[str, Any]]:
        return {name: item.as_json() for name, item in list(self.items.items())}

    def stop(self) -> None:
        """No more restarts (the daemon is stopping)."""
        self._stopping = True

    def _failed(self, item: Supervised, error: BaseException | str) -> float:
        """Record a failure; returns the delay before the restart."""
        now = time.monotonic()
        with self._lock:
            if item.last_failure_at is None or now - item.last_failure_at > self.calm_s:
                item.backoff_s = self.min_backoff_s
            else:
                item.backoff_s = min(max(item.backoff_s * 2, self.min_backoff_s), self.max_backoff_s)
            item.failures += 1
            item.last_failure_at = now
            item.last_error = error if isinstance(error, str) else f"{error.__class__.__name__}: {error}"
            item.running = False
        return item.backoff_s

    def _register(self, name: str, kind: str) -> Supervised:
        item = self.items.get(name)
        if item is None:
            item = self.items[name] = Supervised(name, kind)
        return item

    # ---- threads ---------------------------------------------------------------------------------------
    def thread(self, name: str, target: Callable[[], None]) -> threading.Thread:
        """Run ``target`` in a daemon thread; if it raises, log, count and run it again after a backoff.

        A ``target`` that returns normally has finished its work (e.g. after a stop request).
        """
        item = self._register(name, "thread")

        def run() -> None:
            while not self._stopping:
                item.running = True
                try:
                    target()
                    item.running = False
                    return
                except BaseException as exc:
                    delay = self._failed(item, exc)
                    log.exception("background thread %s failed (failure %d); restarting in %.1f s",
                                  name, item.failures, delay)
                    self._sleep(delay)

        thread = threading.Thread(target=run, name=name, daemon=True)
        thread.start()
        return thread

    # ---- Twisted LoopingCall ---------------------------------------------------------------------------
    def looping(self, name: str, fn: Callable[[], Any], interval_s: float, now: bool = False,
                clock: Any = None) -> Any:
        """A LoopingCall of ``fn`` that is started again (after a backoff) when ``fn`` fails."""
        from twisted.internet import reactor, task

        clock = clock or reactor
        item = self._register(name, "loop")
        loop = task.LoopingCall(fn)
        loop.clock = clock

        def start(first: bool) -> None:
            if self._stopping:
                return
            item.running = True
            d = loop.start(interval_s, now=now if first else True)
            d.addErrback(failed)

        def failed(failure: Any) -> None:
            delay = self._failed(item, failure.getErrorMessage() or failure.type.__name__)
            log.error("background loop %s failed (failure %d); restarting in %.1f s\n%s", name, item.failures,
                      delay, failure.getTraceback())
            clock.callLater(delay, start, False)

        start(True)
        return loop

    # ---- asyncio tasks ---------------------------------------------------------------------------------
    def task(self, name: str, factory: Callable[[], Awaitable[Any]]) -> SupervisedTask:
        """Run ``factory()`` as an asyncio task; if it raises, log, count and start a new one."""
        return SupervisedTask(self, self._register(name, "task"), factory)


class SupervisedTask:
    """An asyncio task restarted (new coroutine from its factory) after a failure; cancel() ends it."""

    def __init__(self, supervisor: Supervisor, item: Supervised, factory: Callable[[], Awaitable[Any]]) -> None:
        self.supervisor, self.item, self.factory = supervisor, item, factory
        try:
            self.loop = asyncio.get_running_loop()
        except RuntimeError:  # started from the reactor before its asyncio loop runs
            self.loop = asyncio.get_event_loop()
        self.current: asyncio.Task[Any] | None = None
        self.cancelled = False
        self._start()

    def _start(self) -> None:
        if self.cancelled or self.supervisor._stopping:
            return
        self.item.running = True
        self.current = self.loop.create_task(self.factory(), name=self.item.name)  # type: ignore[arg-type]
        self.current.add_done_callback(self._done)

    def _done(self, t: asyncio.Task[Any]) -> None:
        self.item.running = False
        if t.cancelled() or t.exception() is None or self.cancelled:
            return
        exc = t.exception()
        delay = self.supervisor._failed(self.item, exc)  # type: ignore[arg-type]
        log.error("background task %s failed (failure %d); restarting in %.1f s", self.item.name,
                  self.item.failures, delay, exc_info=exc)
        self.loop.call_later(delay, self._start)

    def cancel(self) -> None:
        self.cancelled = True
        if self.current is not None:
            self.current.cancel()

    def done(self) -> bool:
        return self.current is None or self.current.done()

    def __await__(self) -> Any:
        assert self.current is not None
        return self.current.__await__()
