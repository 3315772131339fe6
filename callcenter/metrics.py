"""Prometheus metrics of the daemon (served on ``/metrics`` to holders of the ops token)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from callcenter import events as ev
from callcenter.calls import records as r


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.ami_frames = Counter("callcenter_ami_frames", "AMI frames parsed (translated events and action answers)",
                                  registry=self.registry)
        self.events = Counter("callcenter_events", "Domain events by type", ["type"], registry=self.registry)
        self.queue_joins = Counter("callcenter_queue_joins", "Callers entering a queue", ["queue"],
                                   registry=self.registry)
        self.connects = Counter("callcenter_agent_connects", "Callers connected to an agent", ["queue"],
                                registry=self.registry)
        self.abandons = Counter("callcenter_queue_abandons", "app_queue abandons", ["queue"],
                                registry=self.registry)
        self.calls_ended = Counter("callcenter_calls_ended", "Calls ended, by disposition", ["disposition"],
                                   registry=self.registry)
        self.ami_connected = Gauge("callcenter_ami_connected", "1 while AMI is connected", registry=self.registry)
        self.writer_backlog = Gauge("callcenter_writer_backlog_rows", "Rows journaled but not in the database",
                                    registry=self.registry)
        self.db_ok = Gauge("callcenter_database_ok", "1 while database writes succeed", registry=self.registry)
        self.dead_letters = Gauge("callcenter_dead_letters_since_start",
                                  "Rows the database refused for their content, set aside since start",
                                  registry=self.registry)
        self.background_failures = Gauge("callcenter_background_failures",
                                         "Failures of supervised background tasks since start",
                                         registry=self.registry)
        self.journal_ok = Gauge("callcenter_journal_ok", "1 while the journal can be written",
                                registry=self.registry)
        self.waiting = Gauge("callcenter_queue_waiting", "Callers waiting", ["queue"], registry=self.registry)
        self._event_counters: dict[type, Any] = {}
        self._handlers = {
            ev.CallerJoinedQueue: lambda e: self.queue_joins.labels(e.queue).inc(),
            ev.AgentConnected: lambda e: self.connects.labels(e.queue).inc(),
            ev.CallerAbandoned: lambda e: self.abandons.labels(e.queue).inc(),
            ev.TelephonyConnected: lambda e: self.ami_connected.set(1),
            ev.TelephonyDisconnected: lambda e: self.ami_connected.set(0),
        }

    def apply(self, event: Any) -> None:
        kind = type(event)
        counter = self._event_counters.get(kind)
        if counter is None:  # labels() is a dict lookup plus locking: resolve each child once
            counter = self._event_counters[kind] = self.events.labels(kind.__name__)
        counter.inc()
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def record(self, record: Any) -> None:
        if isinstance(record, r.CallRecord) and record.ended_at is not None:
            self.calls_ended.labels(record.disposition).inc()
