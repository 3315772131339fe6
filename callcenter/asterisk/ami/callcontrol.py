"""Call control over AMI: the one action path for hang-up, hold, transfers, three-way calls, click-to-call
and listen-in. Works the same on Asterisk 16 and 22 (only actions both have: CoreShowChannels,
Hangup, Redirect with ExtraChannel, Bridge, BlindTransfer, Originate).

How each control is built (the dialplan side is in ``asterisk_conf/extensions.conf``, contexts ``cc-ctl-*``):

- hold: Redirect the caller to ``cc-ctl-hold`` (MusicOnHold) and the agent to ``cc-ctl-wait`` in one action;
  resume: Bridge the two again. The caller's MixMonitor moves with its channel, so the recording goes on.
- blind transfer: BlindTransfer on the agent's channel sends the caller to ``cc-ctl-dest,<dest>``.
- attended transfer: the caller goes to hold and the agent to ``cc-ctl-consult,<dest>`` (dials the target);
  complete: Bridge the caller with the target (the agent's leg ends); cancel: hang up the target.
- three-way: caller and agent move into a ConfBridge room, the target is originated into it over
  ``cc-ctl-dest``; the agent may hang up (the others stay) or stay.
- click-to-call: Originate the agent's phone into ``cc-ctl-out,<number>`` which records and dials the citizen.
- listen-in / whisper / barge: Originate the team leader's phone into ``cc-ctl-spy`` (ChanSpy q/w/B).

Values reaching here are already validated by the callers (``callcenter.callctl.numbers``); this
module checks them once more against the same patterns, since a dialplan string is the last gate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from callcenter.asterisk.ami.client import AmiClient, AmiError

# What may reach the dialplan: exten-safe destinations and agent ids.
_DEST = re.compile(r"^(a[0-9]{1,10}|q[A-Za-z0-9_-]{1,64}|d\+?[0-9]{1,20})$")
_NUMBER = re.compile(r"^\+?[0-9]{1,20}$")
_AGENT = re.compile(r"^[0-9]{1,10}$")
_ROOM = re.compile(r"^[0-9]{1,40}$")
SPY_OPTIONS = {"listen": "qE", "whisper": "qwE", "barge": "qBE"}


class CallControlError(Exception):
    """A value that must not reach the dialplan, or a channel that is not there."""


def _check(pattern: re.Pattern[str], value: str, what: str) -> str:
    if not pattern.match(value or ""):
        raise CallControlError(f"invalid {what}: {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """One live channel as CoreShowChannels reports it."""

    channel: str
    uniqueid: str
    linkedid: str
    context: str
    exten: str
    state: str  # Up, Ring, Ringing, ...
    application: str
    bridge_id: str
    caller_number: str
    connected_number: str
    duration_s: int

    @property
    def on_hold(self) -> bool:
        return self.application.lower() == "musiconhold" and self.context == "cc-ctl-hold"


def channel_of(msg: Any) -> ChannelInfo:
    def g(name: str) -> str:
        return str(msg.get(name) or "")

    duration = g("Duration")
    try:
        h, m, s = (int(x) for x in duration.split(":"))
        seconds = h * 3600 + m * 60 + s
    except ValueError:
        seconds = int(duration) if duration.isdigit() else 0
    return ChannelInfo(g("Channel"), g("Uniqueid"), g("Linkedid"), g("Context"), g("Exten"),
                       g("ChannelStateDesc"), g("Application"), g("BridgeId"), g("CallerIDNum"),
                       g("ConnectedLineNum"), seconds)


def agent_prefix(agent: str) -> str:
    return f"PJSIP/{_check(_AGENT, agent, 'agent')}-"


class AmiCallControl:
    """The AMI actions of call control, on an open :class:`AmiClient` (the daemon's or the CLI's)."""

    def __init__(self, client: AmiClient, trunk: str = "carrier") -> None:
        self.client = client
        self.trunk = trunk

    async def channels(self) -> list[ChannelInfo]:
        msgs = await self.client.action({"Action": "CoreShowChannels"}, as_list=True)
        return [channel_of(m) for m in msgs if str(m.get("Event", "")) == "CoreShowChannel"]

    async def contacts(self, agent: str) -> str:
        """The agent's phone as Asterisk's device state says (NOT_INUSE, INUSE, RINGING, ONHOLD, UNAVAILABLE …),
        '' when Asterisk knows none. DEVICE_STATE() through Getvar needs only the call/reporting class;
        PJSIPShowEndpoint would need ``system``, which the daemon's AMI user does not get (manager.conf)."""
        reply = await self.client.action(
            {"Action": "Getvar", "Variable": f"DEVICE_STATE(PJSIP/{_check(_AGENT, agent, 'agent')})"})
        state = str(reply.get("Value") or "").strip().upper()
        return "" if state in ("UNKNOWN", "INVALID") else state

    async def hangup(self, channel: str, missing_ok: bool = False) -> None:
        """Hang a channel up; ``missing_ok``: a channel already gone is fine (a leg that ends by itself)."""
        try:
            await self.client.action({"Action": "Hangup", "Channel": channel, "Cause": "16"})
        except AmiError as exc:
            if not (missing_ok and "no such channel" in str(exc).lower()):
                raise

    async def hold(self, caller: str, agent: str) -> None:
        await self.client.action({"Action": "Redirect", "Channel": caller, "Context": "cc-ctl-hold", "Exten": "s",
                                  "Priority": "1", "ExtraChannel": agent, "ExtraContext": "cc-ctl-wait",
                                  "ExtraExten": "s", "ExtraPriority": "1"})

    async def bridge(self, a: str, b: str) -> None:
        await self.client.action({"Action": "Bridge", "Channel1": a, "Channel2": b, "Tone": "no"})

    async def blind_transfer(self, agent_channel: str, dest: str) -> None:
        await self.client.action({"Action": "BlindTransfer", "Channel": agent_channel, "Context": "cc-ctl-dest",
                                  "Exten": _check(_DEST, dest, "destination")})

    async def redirect_to(self, channel: str, dest: str) -> None:
        await self.client.action({"Action": "Redirect", "Channel": channel, "Context": "cc-ctl-dest",
                                  "Exten": _check(_DEST, dest, "destination"), "Priority": "1"})

    async def consult(self, caller: str, agent: str, dest: str) -> None:
        """Caller to music on hold, agent dials the target (the first half of an attended transfer)."""
        await self.client.action({"Action": "Redirect", "Channel": caller, "Context": "cc-ctl-hold", "Exten": "s",
                                  "Priority": "1", "ExtraChannel": agent, "ExtraContext": "cc-ctl-consult",
                                  "ExtraExten": _check(_DEST, dest, "destination"), "ExtraPriority": "1"})

    async def conference(self, caller: str, agent: str, room: str, dest: str, hotline: str) -> None:
        """Move caller and agent into a ConfBridge room and call the target into it."""
        _check(_ROOM, room, "room")
        await self.client.action({"Action": "Redirect", "Channel": caller, "Context": "cc-ctl-conf", "Exten": room,
                                  "Priority": "1", "ExtraChannel": agent, "ExtraContext": "cc-ctl-conf",
                                  "ExtraExten": room, "ExtraPriority": "1"})
        await self.client.action({
            "Action": "Originate", "Channel": f"Local/{_check(_DEST, dest, 'destination')}@cc-ctl-dest/n",
            "Context": "cc-ctl-conf", "Exten": room, "Priority": "1", "Async": "true", "Timeout": "30000",
            "CallerID": f"<{_check(_NUMBER, hotline, 'hotline number')}>",
        })

    async def dial_out(self, agent: str, number: str, hotline: str, order: str, action_id: str) -> None:
        """Ring the agent's phone; when answered, the dialplan records and dials the citizen."""
        variables = [f"CC_OUT_AGENT={_check(_AGENT, agent, 'agent')}",
                     f"CC_OUT_CLI={_check(_NUMBER, hotline, 'hotline number')}",
                     f"CC_OUT_ORDER={re.sub(r'[^A-Za-z0-9-]', '', order)[:40]}",
                     f"CC_OUT_REF={re.sub(r'[^A-Za-z0-9-]', '', action_id)[:40]}"]
        await self.client.action({
            "Action": "Originate", "Channel": f"PJSIP/{agent}", "Context": "cc-ctl-out",
            "Exten": _check(_NUMBER, number, "number"), "Priority": "1", "Async": "true", "Timeout": "30000",
            "CallerID": f"\"{hotline}\" <{number}>", "Variable": ",".join(variables),
        })

    async def spy(self, leader: str, target_agent: str, mode: str) -> None:
        """Ring the team leader's phone; when answered, ChanSpy on the agent's channel."""
        if mode not in SPY_OPTIONS:
            raise CallControlError(f"invalid spy mode: {mode!r}")
        await self.client.action({
            "Action": "Originate", "Channel": f"PJSIP/{_check(_AGENT, leader, 'agent')}", "Context": "cc-ctl-spy",
            "Exten": mode, "Priority": "1", "Async": "true", "Timeout": "30000",
            "Variable": f"CC_SPY_TARGET={_check(_AGENT, target_agent, 'agent')}",
        })
