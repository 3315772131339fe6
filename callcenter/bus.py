"""The in-process event bus: an explicit, ordered list of subscribers; one failing never stops the rest."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Subscriber = Callable[[Any], None]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[tuple[str, Subscriber]] = []
        self.errors = 0

    def subscribe(self, name: str, subscriber: Subscriber) -> None:
        """Add ``subscriber(event)``; subscribers run in the order they were added."""
        self._subscribers.append((name, subscriber))

    def publish(self, event: Any) -> None:
        for name, subscriber in self._subscribers:
            try:
                subscriber(event)
            except Exception:
                self.errors += 1
                log.exception("subscriber %s failed on %s", name, type(event).__name__)
