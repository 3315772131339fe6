"""Commands an agent, the CLI or the web gives the ACD (turned into AMI actions by the adapter)."""

from __future__ import annotations

from dataclasses import dataclass

# Pause reasons with a meaning of their own (free text is allowed too).
WRAP_UP = "wrap-up"
PAUSE_REASONS = ("break", "meal", "training", "meeting", "toilet", WRAP_UP)


@dataclass(frozen=True, slots=True)
class LoginAgent:
    agent: str
    queue: str
    interface: str
    penalty: int = 0
    paused: bool = False
    reason: str = ""


@dataclass(frozen=True, slots=True)
class LogoutAgent:
    agent: str
    queue: str
    interface: str


@dataclass(frozen=True, slots=True)
class PauseAgent:
    agent: str
    interface: str
    reason: str
    queue: str | None = None  # None: every queue


@dataclass(frozen=True, slots=True)
class UnpauseAgent:
    agent: str
    interface: str
    queue: str | None = None


AcdCommand = LoginAgent | LogoutAgent | PauseAgent | UnpauseAgent


def interface_of(agent: str) -> str:
    """The Asterisk interface an agent's softphone is reached on."""
    return f"PJSIP/{agent}"
