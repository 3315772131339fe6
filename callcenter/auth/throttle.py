"""Per-address rate limit for the login and public forms (a sliding window in memory).

Per-username locking lives in the database (:func:`callcenter.auth.services.authenticate`), so it
holds across daemons; this limiter only blunts floods from one address at one daemon.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}

    def allow(self, key: str) -> bool:
        """Record a hit for ``key``; False when it made more than ``per_minute`` in the last 60 s."""
        now = self.clock()
        hits = self._hits.setdefault(key, deque())
        while hits and now - hits[0] >= 60.0:
            hits.popleft()
        if len(hits) >= self.per_minute:
            return False
        hits.append(now)
        if len(self._hits) > 10000:  # forget idle addresses
            for k in [k for k, v in self._hits.items() if not v or now - v[-1] >= 60.0]:
                del self._hits[k]
        return True
