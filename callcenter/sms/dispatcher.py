"""The outbox dispatcher: a thread that claims due messages, sends them through the gateway with a
few worker threads (at most ``overall_per_second``), and records the answers, batch by batch.

It runs beside the reactor (never on it). Killed at any point, nothing is lost: claimed rows go back
to pending after the lease, so a message is sent at least once and recorded once.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from callcenter.sms import outbox
from callcenter.sms.gateway import RETRY, Gateway, OutgoingSms, SendResult
from callcenter.sms.settings import SmsSettings
from callcenter.store.db import Database
from callcenter.store.models import now_utc

log = logging.getLogger(__name__)


class TokenBucket:
    """At most ``rate`` takes per second on average, bursts up to ``rate`` (thread-safe)."""

    def __init__(self, rate: float, clock: Any = time.monotonic, sleep: Any = time.sleep) -> None:
        self.rate = max(0.001, float(rate))
        self.capacity = max(1.0, self.rate)
        self.tokens = self.capacity
        self.clock, self.sleep = clock, sleep
        self.last = clock()
        self.lock = threading.Lock()

    def wait_time(self) -> float:
        """Take one token; the seconds to wait before using it (0 if one was there)."""
        with self.lock:
            now = self.clock()
            self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
            self.last = now
            self.tokens -= 1
            return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    def take(self) -> None:
        delay = self.wait_time()
        if delay > 0:
            self.sleep(delay)


class Dispatcher:
    def __init__(self, db: Database, settings: SmsSettings, gateway: Gateway) -> None:
        self.db = db
        self.settings = settings
        self.gateway = gateway
        self.bucket = TokenBucket(settings.overall_per_second)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(max(1, settings.concurrency), thread_name_prefix="sms-send")
        self.sent = 0
        self.failures_in_row = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="sms-dispatcher", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look at the outbox now (a message was just queued)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.gateway.close()

    def _send(self, msg: OutgoingSms) -> SendResult:
        self.bucket.take()
        try:
            return self.gateway.send(msg)
        except Exception as exc:  # an adapter's bug must not lose the message
            log.exception("sms gateway failed on message %d", msg.id)
            return SendResult(RETRY, f"{type(exc).__name__}: {exc}"[:200])

    def drain_once(self) -> int:
        """Claim one batch, send it, record it; the number of messages handed to the gateway."""
        with self.db.session() as session:
            batch = outbox.claim(session, self.settings, now_utc(), self.settings.batch)
        if not batch:
            return 0
        results = list(zip([m.id for m in batch], self._pool.map(self._send, batch), strict=True))
        with self.db.session() as session:
            outbox.record(session, self.settings, results, now_utc())
        ok = sum(1 for _id, r in results if r.outcome != RETRY)
        if ok < len(results):
            self.failures_in_row += 1
            if self.failures_in_row in (1, 10) or self.failures_in_row % 100 == 0:
                log.warning("sms gateway: %d of %d not accepted (%s); retrying with backoff",
                            len(results) - ok, len(results), results[0][1].reply)
        else:
            self.failures_in_row = 0
        self.sent += ok
        return ok

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                n = self.drain_once()
            except Exception:
                log.exception("sms outbox pass failed (database away?); trying again")
                n = 0
                self._stop.wait(1.0)
            if n == 0 or self.failures_in_row:
                self._wake.wait(self.settings.poll_s)
                self._wake.clear()
