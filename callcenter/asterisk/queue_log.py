"""Read Asterisk's queue_log (``time|callid|queue|agent|event|data…``) into domain events.

queue_log has whole-second timestamps and no linkedid: the caller's channel uniqueid stands in
for it (for calls from the trunk they are the same). ``EXITWITHTIMEOUT`` and ``EXITEMPTY`` also
yield :class:`~callcenter.events.CallerAbandoned`, because app_queue counts them as abandoned
(``record_abandoned()``), which ServicelevelPerf2 depends on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from callcenter import bounds
from callcenter import events as ev
from callcenter.asterisk.callerid import clean_number

log = logging.getLogger(__name__)


def _int(fields: list[str], i: int) -> int:
    try:
        return int(fields[i])
    except (IndexError, ValueError):
        return 0


def _enter(ts: float, callid: str, queue: str, agent: str, d: list[str]) -> Iterable[Any]:
    callerid = clean_number(d[1] if len(d) > 1 else "")
    yield ev.CallerJoinedQueue(ts, queue, callid, callid, "", _int(d, 2), 0, callerid, "")


def _connect(ts: float, callid: str, queue: str, agent: str, d: list[str]) -> Iterable[Any]:
    yield ev.AgentConnected(
        ts, queue, callid, callid, agent, "", _int(d, 0), _int(d, 2), d[1] if len(d) > 1 else "", "",
    )


def _complete(reason: str) -> Callable[..., Iterable[Any]]:
    def handler(ts: float, callid: str, queue: str, agent: str, d: list[str]) -> Iterable[Any]:
        yield ev.AgentCompleted(ts, queue, callid, callid, agent, "", _int(d, 0), _int(d, 1), reason)
    return handler


def _transfer(ts: float, callid: str, queue: str, agent: str, d: list[str]) -> Iterable[Any]:
    # TRANSFER/BLINDTRANSFER: exten|context|holdtime|calltime|origpos;
    # ATTENDEDTRANSFER: method|data|holdtime|calltime|origpos (the same positions).
    yield ev.AgentCompleted(ts, queue, callid, callid, agent, "", _int(d, 2), _int(d, 3), "transfer")


def _abandon(ts: float, callid: str, queue: str, agent: str, d: list[str]) -> Iterable[Any]:
    yield ev.CallerAbandoned(ts, queue, callid, callid, _int(d, 0), _int(d, 1), _int(d, 2))


def _exit(status: str, abandoned: bool) -> Callable[..., Iterable[Any]]:
    def handler(ts: float, callid: str, queue: str, agent: str, d: list[str]) -> Iterable[Any]:
        if abandoned:
            yield ev.CallerAbandoned(ts, queue, callid, callid, _int(d, 0), _int(d, 1), _int(d, 2))
        yield ev.QueueExited(ts, queue, callid, callid, status, "", _int(d, 2))
    return handler


def _exit_key(ts: float, callid: str, queue: str, agent: str, d: list[str]) -> Iterable[Any]:
    yield ev.QueueExited(ts, queue, callid, callid, "EXITWITHKEY", d[0] if d else "", _int(d, 3))


def _rna(ts: float, callid: str, queue: str, agent: str, d: list[str]) -> Iterable[Any]:
    yield ev.AgentRingNoAnswer(ts, queue, callid, callid, agent, "", _int(d, 0))


def _add_member(ts: float, callid: str, queue: str, agent: str, d: list[str]) -> Iterable[Any]:
    yield ev.MemberAdded(ts, queue, agent, "", False, "", 0)


def _remove_member(ts: float, callid: str, queue: str, agent: str, d: list[str]) -> Iterable[Any]:
    yield ev.MemberRemoved(ts, queue, agent, "")


def _pause(paused: bool) -> Callable[..., Iterable[Any]]:
    def handler(ts: float, callid: str, queue: str, agent: str, d: list[str]) -> Iterable[Any]:
        yield ev.MemberPaused(ts, queue, agent, "", paused, d[0] if (paused and d) else "")
    return handler


HANDLERS: dict[str, Callable[..., Iterable[Any]]] = {
    "ENTERQUEUE": _enter,
    "CONNECT": _connect,
    "COMPLETECALLER": _complete("caller"),
    "COMPLETEAGENT": _complete("agent"),
    "TRANSFER": _transfer,
    "BLINDTRANSFER": _transfer,
    "ATTENDEDTRANSFER": _transfer,
    "ABANDON": _abandon,
    "EXITWITHTIMEOUT": _exit("TIMEOUT", abandoned=True),
    "EXITEMPTY": _exit("LEAVEEMPTY", abandoned=True),
    "EXITWITHKEY": _exit_key,
    "RINGNOANSWER": _rna,
    "ADDMEMBER": _add_member,
    "REMOVEMEMBER": _remove_member,
    "PAUSE": _pause(True),
    "PAUSEALL": _pause(True),
    "UNPAUSE": _pause(False),
    "UNPAUSEALL": _pause(False),
}


def parse_lines(lines: Iterable[str]) -> Iterator[Any]:
    """Domain events from queue_log lines; malformed lines are logged and skipped."""
    for lineno, line in enumerate(lines, 1):
        line = line.rstrip("\r\n")
        if not line:
            continue
        fields = line.split("|")
        if len(fields) < 5:
            log.warning("queue_log line %d is malformed, skipped: %r", lineno, line[:200])
            continue
        try:
            ts = float(fields[0])
        except ValueError:
            log.warning("queue_log line %d has no timestamp, skipped: %r", lineno, line[:200])
            continue
        handler = HANDLERS.get(fields[4])
        if handler is None:
            continue
        # Bounded at entry: ids to 64, data fields (caller id in ENTERQUEUE) to a number's width.
        callid, queue, agent = (bounds.ident(f) for f in fields[1:4])
        yield from handler(ts, callid, queue, agent, [bounds.fit(f, bounds.NUMBER_MAX) for f in fields[5:]])


def read_queue_log(path: str) -> Iterator[Any]:
    with open(path, encoding="utf-8", errors="replace") as f:
        yield from parse_lines(f)
