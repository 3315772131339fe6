"""The records the call recorder keeps and persists (plain dataclasses, one per table row)."""

from __future__ import annotations

from dataclasses import dataclass, field

# Queue entry outcomes (queue_entries.outcome).
WAITING = "waiting"
ANSWERED = "answered"
ABANDONED = "abandoned"
TIMEOUT = "timeout"
EXIT_EMPTY = "exit-empty"
EXIT_WITH_KEY = "exit-with-key"
TRANSFERRED = "transferred"
FULL = "full"
LEFT = "left"  # left without a known reason (dialplan that does not report QUEUESTATUS)

# QUEUESTATUS (dialplan) / queue_log EXIT* → outcome of an entry that was not answered.
EXIT_OUTCOMES = {
    "TIMEOUT": TIMEOUT,
    "EXITWITHTIMEOUT": TIMEOUT,
    "LEAVEEMPTY": EXIT_EMPTY,
    "JOINEMPTY": EXIT_EMPTY,
    "EXITEMPTY": EXIT_EMPTY,
    "LEAVEUNAVAIL": EXIT_EMPTY,
    "JOINUNAVAIL": EXIT_EMPTY,
    "FULL": FULL,
    "EXITWITHKEY": EXIT_WITH_KEY,
}


@dataclass
class QueueEntryRecord:
    """One stay of one caller in one queue."""

    id: str
    linkedid: str
    uniqueid: str
    queue: str
    entered_at: float
    position: int
    caller_number: str = ""
    caller_name: str = ""
    outcome: str = WAITING
    left_at: float | None = None
    hold_s: int | None = None
    agent: str | None = None
    agent_uniqueid: str | None = None
    connected_at: float | None = None
    ring_s: int | None = None
    completed_at: float | None = None
    talk_s: int | None = None
    complete_reason: str | None = None
    # Set when app_queue called record_abandoned() (its "abandoned" counter), with the hold.
    abandon_hold_s: int | None = None
    exit_key: str | None = None

    @property
    def connected(self) -> bool:
        return self.connected_at is not None

    @property
    def completed(self) -> bool:
        return self.completed_at is not None


@dataclass
class CallRecord:
    """One caller's call, keyed by Asterisk's linkedid."""

    linkedid: str
    started_at: float
    channel: str = ""
    caller_number: str = ""
    caller_name: str = ""
    did: str = ""
    hotline: str | None = None
    ended_at: float | None = None
    hangup_cause: int | None = None
    disposition: str = "in-progress"
    first_queued_at: float | None = None
    first_queue: str | None = None
    answered_at: float | None = None
    answered_by: str | None = None
    answered_queue: str | None = None
    wait_s: int | None = None
    answered_within_sl: bool | None = None
    recording_path: str | None = None
    flow: str | None = None
    ivr_path: list[dict[str, object]] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    transferred_to: str | None = None
    # inbound (a citizen called) or outbound (click-to-call); outbound calls carry the order they were for
    direction: str = "inbound"
    order_number: str | None = None
    entries: list[QueueEntryRecord] = field(default_factory=list)
    # Started from a queue event, not seen arriving (the daemon restarted mid-call): its row may
    # already hold what this record does not know (flow, IVR path, DID...), which must be kept.
    adopted: bool = False


@dataclass
class AgentSessionRecord:
    """An agent logged in to one queue, from login to logout."""

    id: str
    agent: str
    queue: str
    interface: str
    login_at: float
    logout_at: float | None = None


@dataclass
class AgentPauseRecord:
    id: str
    agent: str
    queue: str
    reason: str
    started_at: float
    ended_at: float | None = None


@dataclass
class RecordingRecord:
    """A MixMonitor file of one caller's call."""

    path: str
    linkedid: str
    started_at: float
    ended_at: float | None = None
    size_bytes: int | None = None


@dataclass
class VoicemailRecord:
    """A voice message awaiting intake (status: new → taken → converted | discarded)."""

    id: str
    linkedid: str
    mailbox: str
    path: str
    created_at: float
    duration_s: int = 0
    caller_number: str = ""
    caller_name: str = ""
    hotline: str | None = None
    reason: str = ""
    status: str = "new"
