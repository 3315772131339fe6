"""AMI frames → typed domain events, through one explicit table keyed by event name.

Unknown events cost one dict lookup and are dropped. Header lookups are case-insensitive
(panoramisk's Message): Asterisk writes ``ServicelevelPerf`` where its documentation says
``ServiceLevelPerf``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from callcenter import bounds
from callcenter import events as ev
from callcenter.asterisk.callerid import clean_name, clean_number

log = logging.getLogger(__name__)

Frame = Mapping[str, Any]


# Every header value is bounded where it enters (see callcenter.bounds): caller ids to what the
# columns hold, identifiers to 64, anything else to 512 characters; control characters removed.
_LIMITS = {
    "calleridnum": bounds.NUMBER_MAX, "connectedlinenum": bounds.NUMBER_MAX, "exten": bounds.NUMBER_MAX,
    "calleridname": bounds.NAME_MAX, "connectedlinename": bounds.NAME_MAX,
    "uniqueid": bounds.ID_MAX, "linkedid": bounds.ID_MAX, "queue": bounds.ID_MAX,
    "destuniqueid": bounds.ID_MAX, "destlinkedid": bounds.ID_MAX, "membername": bounds.ID_MAX,
}


def _s(msg: Frame, key: str) -> str:
    value = msg.get(key, "")
    if isinstance(value, list):  # duplicated header: the channel's own value comes first
        value = value[0] if value else ""
    if not value:
        return ""
    return bounds.fit(value, _LIMITS.get(key.lower(), bounds.TEXT_MAX))


def _i(msg: Frame, key: str, default: int = 0) -> int:
    value = _s(msg, key).strip()
    try:
        return int(value)
    except ValueError:
        try:
            return int(float(value))
        except ValueError:
            return default


def _f(msg: Frame, key: str) -> float:
    try:
        return float(_s(msg, key))
    except ValueError:
        return 0.0


def _ts(msg: Frame) -> float:
    value = _s(msg, "Timestamp")
    if value:
        try:
            return float(value)
        except ValueError:
            pass
    # manager.conf must say timestampevents = yes; without it replays cannot be exact.
    log.warning("AMI event %s has no Timestamp header; using the local clock", _s(msg, "Event"))
    return time.time()


def _bool(msg: Frame, key: str) -> bool:
    return _s(msg, key).strip().lower() in ("1", "yes", "true", "on")


def agent_of(member_name: str, interface: str) -> str:
    """The agent id: the queue member name, else the endpoint part of ``PJSIP/1001``."""
    if member_name:
        return member_name
    return interface.split("/", 1)[-1] if interface else ""


def _caller_join(m: Frame) -> ev.CallerJoinedQueue:
    return ev.CallerJoinedQueue(
        _ts(m), _s(m, "Queue"), _s(m, "Uniqueid"), _s(m, "Linkedid"), _s(m, "Channel"),
        _i(m, "Position"), _i(m, "Count"), clean_number(_s(m, "CallerIDNum")), clean_name(_s(m, "CallerIDName")),
    )


def _agent_called(m: Frame) -> ev.AgentRung:
    iface = _s(m, "Interface")
    return ev.AgentRung(
        _ts(m), _s(m, "Queue"), _s(m, "Uniqueid"), _s(m, "Linkedid"),
        agent_of(_s(m, "MemberName"), iface), iface, _s(m, "DestUniqueid"),
    )


def _agent_rna(m: Frame) -> ev.AgentRingNoAnswer:
    iface = _s(m, "Interface")
    return ev.AgentRingNoAnswer(
        _ts(m), _s(m, "Queue"), _s(m, "Uniqueid"), _s(m, "Linkedid"),
        agent_of(_s(m, "MemberName"), iface), iface, _i(m, "RingTime"),
    )


def _agent_connect(m: Frame) -> ev.AgentConnected:
    iface = _s(m, "Interface")
    return ev.AgentConnected(
        _ts(m), _s(m, "Queue"), _s(m, "Uniqueid"), _s(m, "Linkedid"),
        agent_of(_s(m, "MemberName"), iface), iface, _i(m, "HoldTime"), _i(m, "RingTime"),
        _s(m, "DestUniqueid"), _s(m, "DestChannel"),
    )


def _agent_complete(m: Frame) -> ev.AgentCompleted:
    iface = _s(m, "Interface")
    return ev.AgentCompleted(
        _ts(m), _s(m, "Queue"), _s(m, "Uniqueid"), _s(m, "Linkedid"),
        agent_of(_s(m, "MemberName"), iface), iface, _i(m, "HoldTime"), _i(m, "TalkTime"),
        _s(m, "Reason"),
    )


def _abandon(m: Frame) -> ev.CallerAbandoned:
    return ev.CallerAbandoned(
        _ts(m), _s(m, "Queue"), _s(m, "Uniqueid"), _s(m, "Linkedid"),
        _i(m, "Position"), _i(m, "OriginalPosition"), _i(m, "HoldTime"),
    )


def _leave(m: Frame) -> ev.CallerLeftQueue:
    return ev.CallerLeftQueue(
        _ts(m), _s(m, "Queue"), _s(m, "Uniqueid"), _s(m, "Linkedid"), _i(m, "Position"), _i(m, "Count"),
    )


def _newchannel(m: Frame) -> ev.ChannelCreated:
    return ev.ChannelCreated(
        _ts(m), _s(m, "Uniqueid"), _s(m, "Linkedid"), _s(m, "Channel"), clean_number(_s(m, "CallerIDNum")),
        clean_name(_s(m, "CallerIDName")), _s(m, "Context"), _s(m, "Exten"),
    )


def _hangup(m: Frame) -> ev.ChannelHungUp:
    return ev.ChannelHungUp(
        _ts(m), _s(m, "Uniqueid"), _s(m, "Linkedid"), _s(m, "Channel"), _i(m, "Cause"), _s(m, "Cause-txt"),
    )


def _member_added(m: Frame) -> ev.MemberAdded:
    iface = _s(m, "Interface") or _s(m, "Location")
    return ev.MemberAdded(
        _ts(m), _s(m, "Queue"), agent_of(_s(m, "MemberName"), iface), iface, _bool(m, "Paused"),
        _s(m, "PausedReason"), _i(m, "Status"),
    )


def _member_removed(m: Frame) -> ev.MemberRemoved:
    iface = _s(m, "Interface") or _s(m, "Location")
    return ev.MemberRemoved(_ts(m), _s(m, "Queue"), agent_of(_s(m, "MemberName"), iface), iface)


def _member_pause(m: Frame) -> ev.MemberPaused:
    iface = _s(m, "Interface") or _s(m, "Location")
    return ev.MemberPaused(
        _ts(m), _s(m, "Queue"), agent_of(_s(m, "MemberName"), iface), iface, _bool(m, "Paused"),
        _s(m, "PausedReason") or _s(m, "Reason"),
    )


def _member_status(m: Frame) -> ev.MemberStatusChanged:
    iface = _s(m, "Interface") or _s(m, "Location")
    return ev.MemberStatusChanged(
        _ts(m), _s(m, "Queue"), agent_of(_s(m, "MemberName"), iface), iface, _i(m, "Status"),
        _bool(m, "Paused"), _s(m, "PausedReason"), _bool(m, "InCall"), _i(m, "CallsTaken"),
    )


def _queue_result(m: Frame) -> ev.QueueExited:
    return ev.QueueExited(
        _ts(m), _s(m, "Queue"), _s(m, "Uniqueid"), _s(m, "Linkedid"),
        (_s(m, "QueueStatus") or "CONTINUE").upper(), _s(m, "Key"),
    )


def _recording(m: Frame) -> ev.RecordingStarted:
    return ev.RecordingStarted(_ts(m), _s(m, "Uniqueid"), _s(m, "Linkedid"), _s(m, "File"))


def _outbound(m: Frame) -> ev.OutboundCallStarted:
    return ev.OutboundCallStarted(_ts(m), _s(m, "Linkedid"), _s(m, "Agent")[:64], _s(m, "Number")[:64],
                                  _s(m, "Hotline")[:64], _s(m, "Order")[:40], _s(m, "Ref")[:40])


def _control(m: Frame) -> ev.OutboundCallEnded | None:
    if _s(m, "Step") == "outbound-end":
        return ev.OutboundCallEnded(_ts(m), _s(m, "Linkedid"), _s(m, "Dest")[:32].upper())
    return None


# UserEvents our dialplan raises (asterisk_conf/extensions.conf).
USER_EVENTS: dict[str, Callable[[Frame], Any]] = {
    "callcenterqueueresult": _queue_result,
    "callcenterrecording": _recording,
    "callcenteroutbound": _outbound,
    "callcentercontrol": _control,
}


def _user_event(m: Frame) -> Any:
    handler = USER_EVENTS.get(_s(m, "UserEvent").lower())
    return handler(m) if handler is not None else None


EVENTS: dict[str, Callable[[Frame], Any]] = {
    "newchannel": _newchannel,
    "hangup": _hangup,
    "queuecallerjoin": _caller_join,
    "agentcalled": _agent_called,
    "agentringnoanswer": _agent_rna,
    "agentconnect": _agent_connect,
    "agentcomplete": _agent_complete,
    "queuecallerabandon": _abandon,
    "queuecallerleave": _leave,
    "queuememberadded": _member_added,
    "queuememberremoved": _member_removed,
    "queuememberpause": _member_pause,
    "queuememberpaused": _member_pause,  # Asterisk 12's spelling
    "queuememberstatus": _member_status,
    "userevent": _user_event,
}


def translate(msg: Frame) -> Any:
    """The domain event for one AMI event frame, or None when we do not care about it."""
    name = msg.get("Event")
    if not name:
        return None
    handler = EVENTS.get(name.lower() if isinstance(name, str) else str(name).lower())
    if handler is None:
        return None
    try:
        return handler(msg)
    except Exception:
        log.exception("could not translate AMI event %s; skipped", name)
        return None


def queue_status_snapshot(messages: Iterable[Frame], ts: float) -> ev.QueueStatusSnapshot:
    """Build a snapshot from the messages a ``QueueStatus`` action returned."""
    queues: list[ev.QueueParamsSnapshot] = []
    members: list[ev.QueueMemberSnapshot] = []
    entries: list[ev.QueueEntrySnapshot] = []
    for m in messages:
        kind = _s(m, "Event").lower()
        if kind == "queueparams":
            queues.append(ev.QueueParamsSnapshot(
                _s(m, "Queue"), _i(m, "ServiceLevel"), _i(m, "Calls"), _i(m, "Holdtime"), _i(m, "TalkTime"),
                _i(m, "Completed"), _i(m, "Abandoned"), _f(m, "ServicelevelPerf"), _f(m, "ServicelevelPerf2"),
                _s(m, "Strategy"),
            ))
        elif kind == "queuemember":
            iface = _s(m, "StateInterface") if not _s(m, "Location") else _s(m, "Location")
            members.append(ev.QueueMemberSnapshot(
                _s(m, "Queue"), agent_of(_s(m, "Name"), iface), iface, _i(m, "Status"), _bool(m, "Paused"),
                _s(m, "PausedReason"), _bool(m, "InCall"), _i(m, "CallsTaken"), _i(m, "LastCall"),
                _i(m, "LoginTime"),
            ))
        elif kind == "queueentry":
            entries.append(ev.QueueEntrySnapshot(
                _s(m, "Queue"), _i(m, "Position"), _s(m, "Uniqueid"), _s(m, "Linkedid"), _s(m, "Channel"),
                clean_number(_s(m, "CallerIDNum")), clean_name(_s(m, "CallerIDName")), _i(m, "Wait"),
            ))
    return ev.QueueStatusSnapshot(ts, tuple(queues), tuple(members), tuple(entries))
