"""Recompute the service level offline, from a raw AMI capture or a queue_log file."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from callcenter.asterisk.ami.framing import read_capture
from callcenter.asterisk.ami.translate import translate
from callcenter.asterisk.queue_log import read_queue_log
from callcenter.calls.recorder import CallRecorder
from callcenter.kpi.service_level import ServiceLevelReport, compute, in_window


def _report(events: Iterable[Any], threshold_s: int, grace_s: int, servicelevels: Mapping[str, int] | None,
            since: float | None, until: float | None) -> ServiceLevelReport:
    recorder = CallRecorder(sink=lambda _record: None, threshold_s=threshold_s, retention_s=None)
    for event in events:
        recorder.apply(event)
    recorder.finish()
    entries = in_window(recorder.all_entries(), since, until)
    return compute(entries, threshold_s, grace_s, servicelevels, default_servicelevel=threshold_s)


def ami_events(path: str) -> Iterable[Any]:
    for message in read_capture(path):
        event = translate(message)
        if event is not None:
            yield event


def replay_ami(path: str, threshold_s: int = 15, grace_s: int = 0, servicelevels: Mapping[str, int] | None = None,
               since: float | None = None, until: float | None = None) -> ServiceLevelReport:
    """The report from a raw AMI byte stream as Asterisk sent it (callers first queued in [since, until))."""
    return _report(ami_events(path), threshold_s, grace_s, servicelevels, since, until)


def replay_queue_log(path: str, threshold_s: int = 15, grace_s: int = 0,
                     servicelevels: Mapping[str, int] | None = None,
                     since: float | None = None, until: float | None = None) -> ServiceLevelReport:
    """The report from an Asterisk queue_log file (callers first queued in [since, until))."""
    return _report(read_queue_log(path), threshold_s, grace_s, servicelevels, since, until)
