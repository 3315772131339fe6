"""ACD commands → AMI actions (one small function each, dispatched by command type)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from callcenter.acd import commands as c


def _login(cmd: c.LoginAgent) -> dict[str, Any]:
    action = {
        "Action": "QueueAdd", "Queue": cmd.queue, "Interface": cmd.interface, "MemberName": cmd.agent,
        "StateInterface": cmd.interface, "Penalty": str(cmd.penalty), "Paused": "true" if cmd.paused else "false",
    }
    if cmd.paused and cmd.reason:
        action["Reason"] = cmd.reason
    return action


def _logout(cmd: c.LogoutAgent) -> dict[str, Any]:
    return {"Action": "QueueRemove", "Queue": cmd.queue, "Interface": cmd.interface}


def _pause(cmd: c.PauseAgent) -> dict[str, Any]:
    action = {"Action": "QueuePause", "Interface": cmd.interface, "Paused": "true", "Reason": cmd.reason}
    if cmd.queue:
        action["Queue"] = cmd.queue
    return action


def _unpause(cmd: c.UnpauseAgent) -> dict[str, Any]:
    action = {"Action": "QueuePause", "Interface": cmd.interface, "Paused": "false"}
    if cmd.queue:
        action["Queue"] = cmd.queue
    return action


ACTIONS: dict[type, Callable[[Any], dict[str, Any]]] = {
    c.LoginAgent: _login,
    c.LogoutAgent: _logout,
    c.PauseAgent: _pause,
    c.UnpauseAgent: _unpause,
}


def action_for(cmd: c.AcdCommand) -> dict[str, Any]:
    return ACTIONS[type(cmd)](cmd)
