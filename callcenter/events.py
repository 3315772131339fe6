"""Typed domain events: what happened on the telephony side, free of any protocol detail.

The AMI adapter (``callcenter.asterisk.ami.translate``) and the queue_log reader
(``callcenter.asterisk.queue_log``) produce these; domain code (ACD live state, call records,
KPIs) consumes them through explicit dispatch tables. Timestamps are UNIX epoch seconds (float)
taken from Asterisk, never from our own clock, so a replay computes exactly what live did.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ChannelCreated:
    ts: float
    uniqueid: str
    linkedid: str
    channel: str
    caller_number: str
    caller_name: str
    context: str
    exten: str


@dataclass(frozen=True, slots=True)
class ChannelHungUp:
    ts: float
    uniqueid: str
    linkedid: str
    channel: str
    cause: int
    cause_text: str


@dataclass(frozen=True, slots=True)
class CallerJoinedQueue:
    ts: float
    queue: str
    uniqueid: str
    linkedid: str
    channel: str
    position: int
    count: int
    caller_number: str
    caller_name: str


@dataclass(frozen=True, slots=True)
class AgentRung:
    ts: float
    queue: str
    uniqueid: str
    linkedid: str
    agent: str
    interface: str
    agent_uniqueid: str


@dataclass(frozen=True, slots=True)
class AgentRingNoAnswer:
    ts: float
    queue: str
    uniqueid: str
    linkedid: str
    agent: str
    interface: str
    ring_ms: int


@dataclass(frozen=True, slots=True)
class AgentConnected:
    """The queue bridged a caller to an agent (AMI AgentConnect, queue_log CONNECT)."""

    ts: float
    queue: str
    uniqueid: str
    linkedid: str
    agent: str
    interface: str
    hold_s: int
    ring_s: int
    agent_uniqueid: str
    agent_channel: str


@dataclass(frozen=True, slots=True)
class AgentCompleted:
    """The bridged call ended (AMI AgentComplete, queue_log COMPLETECALLER/AGENT, TRANSFER)."""

    ts: float
    queue: str
    uniqueid: str
    linkedid: str
    agent: str
    interface: str
    hold_s: int
    talk_s: int
    reason: str  # caller | agent | transfer


@dataclass(frozen=True, slots=True)
class CallerAbandoned:
    """app_queue's record_abandoned(): a hang-up while waiting, and (Asterisk 22) timeout/empty exits."""

    ts: float
    queue: str
    uniqueid: str
    linkedid: str
    position: int
    original_position: int
    hold_s: int


@dataclass(frozen=True, slots=True)
class CallerLeftQueue:
    ts: float
    queue: str
    uniqueid: str
    linkedid: str
    position: int
    count: int


@dataclass(frozen=True, slots=True)
class QueueExited:
    """Why Queue() returned, reported by our dialplan (QUEUESTATUS) or queue_log EXIT* lines."""

    ts: float
    queue: str
    uniqueid: str
    linkedid: str
    status: str  # TIMEOUT, LEAVEEMPTY, JOINEMPTY, FULL, EXITWITHKEY, CONTINUE, ...
    key: str = ""
    hold_s: int | None = None


@dataclass(frozen=True, slots=True)
class RecordingStarted:
    ts: float
    uniqueid: str
    linkedid: str
    path: str


@dataclass(frozen=True, slots=True)
class MemberAdded:
    ts: float
    queue: str
    agent: str
    interface: str
    paused: bool
    reason: str
    status: int


@dataclass(frozen=True, slots=True)
class MemberRemoved:
    ts: float
    queue: str
    agent: str
    interface: str


@dataclass(frozen=True, slots=True)
class MemberPaused:
    ts: float
    queue: str
    agent: str
    interface: str
    paused: bool
    reason: str


@dataclass(frozen=True, slots=True)
class MemberStatusChanged:
    ts: float
    queue: str
    agent: str
    interface: str
    status: int  # Asterisk device state: 1 not in use, 2 in use, 5 unavailable, 6 ringing, ...
    paused: bool
    reason: str
    in_call: bool
    calls_taken: int


# ---- snapshots from a QueueStatus action (resync after every (re)connect) -----------------


@dataclass(frozen=True, slots=True)
class QueueParamsSnapshot:
    queue: str
    servicelevel: int
    calls: int
    holdtime: int
    talktime: int
    completed: int
    abandoned: int
    servicelevel_perf: float
    servicelevel_perf2: float
    strategy: str


@dataclass(frozen=True, slots=True)
class QueueMemberSnapshot:
    queue: str
    agent: str
    interface: str
    status: int
    paused: bool
    reason: str
    in_call: bool
    calls_taken: int
    last_call: int
    login_time: int


@dataclass(frozen=True, slots=True)
class QueueEntrySnapshot:
    queue: str
    position: int
    uniqueid: str
    linkedid: str
    channel: str
    caller_number: str
    caller_name: str
    wait_s: int


@dataclass(frozen=True, slots=True)
class QueueStatusSnapshot:
    """Everything a QueueStatus action returned, taken at ``ts`` (our clock)."""

    ts: float
    queues: tuple[QueueParamsSnapshot, ...]
    members: tuple[QueueMemberSnapshot, ...]
    entries: tuple[QueueEntrySnapshot, ...]


# ---- connection lifecycle ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TelephonyConnected:
    ts: float
    version: str


@dataclass(frozen=True, slots=True)
class TelephonyDisconnected:
    ts: float
    reason: str


QueueEvent = (
    CallerJoinedQueue | AgentRung | AgentRingNoAnswer | AgentConnected | AgentCompleted | CallerAbandoned
    | CallerLeftQueue | QueueExited
)

DomainEvent = (
    ChannelCreated | ChannelHungUp | QueueEvent | RecordingStarted | MemberAdded | MemberRemoved | MemberPaused
    | MemberStatusChanged | QueueStatusSnapshot | TelephonyConnected | TelephonyDisconnected
)


@dataclass(frozen=True, slots=True)
class ActiveChannels:
    """The channels that exist right now (CoreShowChannels after a reconnect)."""

    ts: float
    uniqueids: frozenset[str]


# ---- IVR (FastAGI) events: produced by callcenter.ivr, recorded on the call -----------------


@dataclass(frozen=True, slots=True)
class FlowEntered:
    """A caller entered an IVR flow (the entry flow of their hotline, or a sub-flow)."""

    ts: float
    linkedid: str
    uniqueid: str
    flow: str
    version: str
    hotline: str | None = None


@dataclass(frozen=True, slots=True)
class IvrStep:
    """One node of a flow was executed (the IVR path shown on screen-pops and to inspectors)."""

    ts: float
    linkedid: str
    flow: str
    node: str
    kind: str
    result: str = ""  # e.g. the key pressed, 'timeout', 'invalid', the digits collected
    duration_ms: int = 0


@dataclass(frozen=True, slots=True)
class CallTagged:
    """Tags set on a call by the IVR (hotline, category, language, ...)."""

    ts: float
    linkedid: str
    tags: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class VoicemailLeft:
    """A caller left a voice message; it awaits intake (becomes a work order)."""

    ts: float
    linkedid: str
    mailbox: str
    path: str
    duration_s: int
    caller_number: str
    caller_name: str
    hotline: str | None = None
    reason: str = ""  # after-hours, queue-timeout, caller-choice, ...


@dataclass(frozen=True, slots=True)
class CallTransferredOut:
    """The IVR sent the call out over a trunk (emergency 110/119/120, another department)."""

    ts: float
    linkedid: str
    destination: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class OutboundCallStarted:
    """Click-to-call: the agent's phone answered and the citizen is being dialled (a call record of its own,
    direction outbound; never queued, so never in the 15-second rate)."""

    ts: float
    linkedid: str
    agent: str
    number: str
    hotline: str
    order: str = ""
    ref: str = ""


@dataclass(frozen=True, slots=True)
class OutboundCallEnded:
    """Click-to-call: the citizen's leg is over; ``dial_status`` is Dial()'s DIALSTATUS (ANSWER, BUSY, ...)."""

    ts: float
    linkedid: str
    dial_status: str
