"""The flow engine over a scripted channel: each node type, retries, hand-offs, resume, hang-ups."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from callcenter import events as ev
from callcenter.ivr.engine import CallerGone, CallInfo, FlowError, Run, VoicemailMessage
from callcenter.ivr.flows import CheckContext, FlowSet, load_files
from callcenter.ivr.hours import Clock

FLOWS = Path(__file__).resolve().parents[1] / "ivr_flows"
OPEN = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
CLOSED = datetime(2026, 10, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()  # National Day
CALL = CallInfo(linkedid="L1", uniqueid="L1", caller_number="13800000000", caller_name="", did="12346",
                hotline="e2e", default_queue="main", mailbox="12346", max_wait=60)


class ScriptedChannel:
    """Keys come from a script: one entry per digit wait or interruptible prompt; '' = silence."""

    def __init__(self, keys: Sequence[str] = (), hang_up_after: int | None = None,
                 message: VoicemailMessage | None = None, vm_hangup: bool = True) -> None:
        self.keys = list(keys)
        self.played: list[str] = []
        self.handed_off: dict[str, str] | None = None
        self.ops = 0
        self.hang_up_after = hang_up_after
        self.message, self.vm_hangup = message, vm_hangup

    def _tick(self) -> None:
        self.ops += 1
        if self.hang_up_after is not None and self.ops > self.hang_up_after:
            raise CallerGone("scripted hang-up")

    async def play(self, prompts: Sequence[str], escape_digits: str = "") -> str:
        self._tick()
        self.played.extend(prompts)
        if escape_digits and self.keys and self.keys[0]:
            return self.keys.pop(0)
        return ""

    async def wait_digit(self, timeout_s: float) -> str:
        self._tick()
        return self.keys.pop(0) if self.keys else ""

    async def voicemail(self, mailbox: str) -> tuple[VoicemailMessage | None, bool]:
        self._tick()
        return self.message, self.vm_hangup

    async def hand_off(self, variables: dict[str, str]) -> None:
        self._tick()
        self.handed_off = dict(variables)


@pytest.fixture(scope="module")
def flows() -> FlowSet:
    calendars = Path(__file__).parents[2] / "ivr_flows" / "calendars.yaml"
    fs, problems = load_files([*sorted(FLOWS.glob("*.yaml")), calendars], CheckContext())
    assert problems == [] and fs is not None
    return fs


def walk(flows: FlowSet, channel: ScriptedChannel, now: float = OPEN, flow: str = "e2e",
         resume: tuple[str, str, str] | None = None) -> tuple[Run, list[Any]]:
    events: list[Any] = []
    run = Run(flows, channel, CALL, events.append, Clock())
    run.clock.set_now(now)
    if resume:
        asyncio.run(run.resume(*resume))
    else:
        asyncio.run(run.start(flow))
    return run, events


def steps(events: list[Any]) -> list[tuple[str, str]]:
    return [(e.node, e.result) for e in events if isinstance(e, ev.IvrStep)]


def test_invalid_key_then_valid_key_reaches_the_queue(flows: FlowSet) -> None:
    ch = ScriptedChannel(["5", "1"])
    _run, events = walk(flows, ch)
    assert steps(events) == [("hello", ""), ("tag-hotline", "hotline=e2e,language=zh"), ("hours", "open"),
                             ("menu", "invalid:5"), ("menu", "1"), ("consult", "category=consultation"),
                             ("queue-main", "main")]
    assert ch.handed_off == {"CC_IVR_NEXT": "queue", "CC_IVR_QUEUE": "main", "CC_IVR_MAX_WAIT": "60",
                             "CC_IVR_RESUME": f"{flows.version}|e2e|queue-main"}
    assert ch.played[-2:] == ["zh/short", "zh/short"]  # the invalid prompt, then the menu again
    entered = [e for e in events if isinstance(e, ev.FlowEntered)]
    assert [(e.flow, e.version, e.hotline) for e in entered] == [("e2e", flows.version, "e2e")]
    tags = [dict(e.tags) for e in events if isinstance(e, ev.CallTagged)]
    assert tags == [{"hotline": "e2e", "language": "zh"}, {"category": "consultation"}]


def test_silence_runs_out_the_retries_to_on_timeout(flows: FlowSet) -> None:
    ch = ScriptedChannel([])
    _run, events = walk(flows, ch)
    assert steps(events)[-3:] == [("menu", "timeout"), ("menu", "timeout"), ("bye", "")]
    assert ch.handed_off == {"CC_IVR_NEXT": "hangup"}


def test_closed_hours_take_a_voicemail_on_a_public_holiday(flows: FlowSet) -> None:
    events: list[Any] = []
    run = Run(flows, ScriptedChannel([], message=VoicemailMessage("/spool/msg0000.wav", 7)), CALL, events.append,
              Clock())
    run.clock.set_now(CLOSED)
    with pytest.raises(CallerGone):
        asyncio.run(run.start("e2e"))
    assert ("hours", "closed") in steps(events) and ("closed-message", "hangup") in steps(events)
    [vm] = [e for e in events if isinstance(e, ev.VoicemailLeft)]
    assert (vm.path, vm.duration_s, vm.mailbox, vm.hotline, vm.reason) == ("/spool/msg0000.wav", 7, "12346", "e2e",
                                                                           "after-hours")


def test_collect_validates_digits_and_tags_the_call(flows: FlowSet) -> None:
    ch = ScriptedChannel(["2", "1", "2", "3", "#", "2", "0", "2", "6", "0", "8", "#"])
    _run, events = walk(flows, ch)
    assert [r for n, r in steps(events) if n == "order"] == ["invalid:123", "202608"]
    assert {"order_number": "202608"} in [dict(e.tags) for e in events if isinstance(e, ev.CallTagged)]


def test_collect_stops_at_max_length_without_a_terminator(flows: FlowSet) -> None:
    ch = ScriptedChannel(["2", *"20261234", "9"])
    _run, events = walk(flows, ch)
    assert [r for n, r in steps(events) if n == "order"] == ["20261234"]


def test_transfer_hands_off_the_trunk_and_records_it(flows: FlowSet) -> None:
    ch = ScriptedChannel(["0"])
    _run, events = walk(flows, ch)
    assert ch.handed_off is not None and ch.handed_off["CC_IVR_NEXT"] == "transfer"
    assert (ch.handed_off["CC_IVR_DEST"], ch.handed_off["CC_IVR_TRUNK"]) == ("110", "emergency")
    [out] = [e for e in events if isinstance(e, ev.CallTransferredOut)]
    assert (out.destination, out.reason) == ("110", "emergency")


def test_sub_flow_enters_the_other_flow(flows: FlowSet) -> None:
    ch = ScriptedChannel(["7"])
    _run, events = walk(flows, ch)
    assert [e.flow for e in events if isinstance(e, ev.FlowEntered)] == ["e2e", "e2e-sub"]
    assert [(e.flow, e.node) for e in events if isinstance(e, ev.IvrStep)][-2:] == [("e2e-sub", "tag"),
                                                                                    ("e2e-sub", "bye")]


def test_resume_after_a_queue_timeout_goes_to_on_timeout(flows: FlowSet) -> None:
    ch = ScriptedChannel([], message=VoicemailMessage("/spool/msg0001.wav", 3), vm_hangup=False)
    _run, events = walk(flows, ch, resume=("e2e", "queue-short", "TIMEOUT"))
    assert steps(events) == [("queue-short", "timeout"), ("timeout-message", "left"), ("bye", "")]
    assert [e.reason for e in events if isinstance(e, ev.VoicemailLeft)] == ["queue-timeout"]


def test_resume_after_an_answered_transfer_just_hangs_up(flows: FlowSet) -> None:
    ch = ScriptedChannel([])
    _run, events = walk(flows, ch, resume=("e2e", "emergency", "ANSWER"))
    assert steps(events) == [("emergency", "answer")]
    assert ch.handed_off == {"CC_IVR_NEXT": "hangup"}


def test_resume_at_a_node_that_no_longer_exists_is_a_flow_error(flows: FlowSet) -> None:
    with pytest.raises(FlowError):
        walk(flows, ScriptedChannel([]), resume=("e2e", "gone", "TIMEOUT"))


def test_a_hang_up_mid_menu_is_recorded_and_ends_the_run(flows: FlowSet) -> None:
    events: list[Any] = []
    run = Run(flows, ScriptedChannel([], hang_up_after=3), CALL, events.append, Clock())
    run.clock.set_now(OPEN)
    with pytest.raises(CallerGone):
        asyncio.run(run.start("e2e"))
    assert steps(events)[-1] == ("menu", "hangup")


def test_a_runaway_flow_is_stopped(tmp_path: Path) -> None:
    (tmp_path / "spin.yaml").write_text(
        "flow: spin\nstart: m\nnodes:\n  m:\n    type: menu\n    prompt: zh/short\n    retries: 0\n"
        "    choices: {'1': bye}\n    on_invalid: m\n    on_timeout: m\n  bye: {type: hangup}\n")
    fs, problems = load_files([tmp_path / "spin.yaml"], CheckContext())
    assert fs is not None, problems
    with pytest.raises(FlowError, match="steps"):
        walk(fs, ScriptedChannel([]), flow="spin")
