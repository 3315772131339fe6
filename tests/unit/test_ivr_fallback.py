"""The dialplan fallback's business hours, rendered from the IVR calendars.

The generated context is run here by a small interpreter of the few dialplan forms it uses
(``Set(LOCAL(x)=…)`` of STRFTIME, ``GotoIf`` on a date or a time range, ``Goto``, ``Return``), and its
answer is compared with :func:`callcenter.ivr.hours.is_open` over a year and at every boundary. That
Asterisk 16 and 22 read those forms the same way is what the end-to-end test with an injected date
checks (``tests/e2e/test_ivr.py``).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from callcenter.asterisk.sandbox import Sandbox, SandboxError
from callcenter.config import AgentConfig, Config
from callcenter.ivr import fallback, hours
from callcenter.ivr.schema import Calendar

REPO = Path(__file__).resolve().parents[2]
SHANGHAI = ZoneInfo("Asia/Shanghai")


def government() -> Calendar:
    cals, broken = fallback.load_calendars(REPO / "ivr_flows")
    assert not broken
    return cals["government"]


Step = tuple[str, ...]


def compile_context(lines: list[str]) -> dict[str, list[Step]]:
    """Each extension's steps, parsed (only the forms the renderer writes; anything else fails)."""
    raw: dict[str, list[str]] = {}
    current = ""
    for line in lines:
        line = line.split(";", 1)[0].strip()
        if m := re.match(r"^exten => ([^,]+),1,(.*)$", line):
            current = m.group(1)
            raw[current] = [m.group(2)]
        elif m := re.match(r"^same => n,(.*)$", line):
            raw[current].append(m.group(1))
    program: dict[str, list[Step]] = {}
    for exten, apps in raw.items():
        steps: list[Step] = []
        for app in apps:
            if m := re.match(r"^Set\(LOCAL\((\w+)\)=\$\{EPOCH\}\)$", app):
                steps.append(("now", m.group(1)))
            elif m := re.match(r"^Set\(LOCAL\((\w+)\)=\$\{STRFTIME\(\$\{now\},([\w/]+),(.*)\)\}\)$", app):
                steps.append(("strftime", m.group(1), m.group(2), m.group(3)))
            elif m := re.match(r'^GotoIf\(\$\["\$\{(\w+)\}" = "(.*)"\]\?(\S+),1\)$', app):
                steps.append(("if-equal", m.group(1), m.group(2), m.group(3)))
            elif m := re.match(r"^GotoIf\(\$\[\$\{hm\} >= (\d{4}) & \$\{hm\} < (\d{4})\]\?(\S+),1\)$", app):
                steps.append(("if-between", m.group(1), m.group(2), m.group(3)))
            elif m := re.match(r"^Goto\(([^,]+),1\)$", app):
                steps.append(("goto", m.group(1)))
            elif m := re.match(r"^Return\((\w+)\)$", app):
                steps.append(("return", m.group(1)))
            else:
                raise AssertionError(f"unexpected application: {app}")
        program[exten] = steps
    return program


def run_context(program: dict[str, list[Step]], epoch: float) -> str:
    """What ``Gosub(<context>,s,1)`` returns at ``epoch``."""
    local: dict[str, str] = {}
    exten, pc = "s", 0
    for _ in range(1000):
        step = program[exten][pc]
        pc += 1
        kind = step[0]
        if kind == "now":
            local[step[1]] = str(int(epoch))
        elif kind == "strftime":
            when = datetime.fromtimestamp(int(local["now"]), UTC).astimezone(ZoneInfo(step[2]))
            local[step[1]] = when.strftime(step[3])
        elif kind == "if-equal" and local[step[1]] == step[2]:
            exten, pc = step[3], 0
        elif kind == "if-between" and int(step[1]) <= int(local["hm"]) < int(step[2]):
            exten, pc = step[3], 0
        elif kind == "goto":
            exten, pc = step[1].replace("${dow}", local.get("dow", "")), 0
        elif kind == "return":
            return step[1]
    raise AssertionError("no Return")


def at(day: date, hh: int, mm: int) -> float:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=SHANGHAI).timestamp()


def test_the_rendered_calendar_decides_like_the_ivr_every_half_hour_of_a_year_and_at_every_edge() -> None:
    cal = government()
    lines = compile_context(fallback.calendar_context("cc-hours-cal-government", "government", cal))
    instants = []
    day = date(2025, 12, 29)
    while day < date(2027, 1, 4):
        instants += [at(day, h, m) for h in range(24) for m in (0, 30)]
        day += timedelta(days=1)
    for d in [*cal.holidays, *cal.workdays, date(2026, 11, 25), date(2026, 11, 28)]:
        instants += [at(d, h, m) for h, m in ((8, 29), (8, 30), (11, 59), (12, 0), (13, 29), (13, 30),
                                             (17, 29), (17, 30), (0, 0), (23, 59))]
    wrong = [datetime.fromtimestamp(t, SHANGHAI).isoformat() for t in instants
             if (run_context(lines, t) == "open") != hours.is_open(cal, t)]
    assert not wrong, wrong[:10]
    # and the cases that made this change: a weekday holiday morning is closed, a make-up Saturday open
    assert run_context(lines, at(date(2026, 10, 1), 10, 0)) == "closed"  # 国庆, a Thursday
    assert run_context(lines, at(date(2026, 10, 10), 10, 0)) == "open"  # 调休, a Saturday
    assert run_context(lines, at(date(2026, 10, 17), 10, 0)) == "closed"  # an ordinary Saturday


def test_workday_hours_and_other_zones() -> None:
    cal = Calendar(timezone="Asia/Urumqi", weekly={"mon": ["10:00-19:00"], "sat": ["00:00-24:00"]},
                   holidays=[date(2026, 3, 2)], workdays=[date(2026, 3, 8)], workday_hours=["09:00-12:00"])
    text = fallback.calendar_context("cc-hours-cal-x", "x", cal)
    assert "%Y-%m-%d" in text[4] and "Asia/Urumqi" in text[4]
    lines = compile_context(text)
    urumqi = ZoneInfo("Asia/Urumqi")
    for day in (date(2026, 3, 2), date(2026, 3, 7), date(2026, 3, 8), date(2026, 3, 9)):
        for h in range(24):
            t = datetime(day.year, day.month, day.day, h, 0, tzinfo=urumqi).timestamp()
            assert (run_context(lines, t) == "open") == hours.is_open(cal, t), (day, h)


def test_the_test_clock_is_rendered_only_when_allowed() -> None:
    cal = government()
    assert "CC_CLOCK_OFFSET" not in "\n".join(fallback.calendar_context("c", "government", cal))
    assert "Set(LOCAL(now)=$[${EPOCH} + ${CC_CLOCK_OFFSET}])" in fallback.calendar_context("c", "government",
                                                                                           cal, True)[3]


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config().with_overrides(
        asterisk={"flavour": "16", "sip_port": 15999}, agents=[AgentConfig(id="1001")],
        ivr={**Config().ivr.model_dump(), "flows_dir": str(REPO / "ivr_flows"), "fallback_prompt": "zh/short"},
        hotlines=[{"did": "12345", "name": "12345", "queue": "main", "flow": "12345"},
                  {"did": "12319", "name": "12319", "queue": "main", "flow": "12319", "calendar": "government",
                   "open_hours": "08:30-17:30,mon-fri,*,*"},
                  {"did": "12320", "name": "12320", "queue": "main", "calendar": "government"}],
    )


def test_the_dialplan_sends_each_hotline_to_its_hours(config: Config, tmp_path: Path) -> None:
    box = Sandbox(config, tmp_path / "run")
    box.render()
    text = (box.etc_dir / "extensions.conf").read_text()
    # a hotline with a calendar follows it; one without keeps its open_hours
    assert "exten => 12319,1,NoOp(hotline 12319)" in text
    assert text.count("Set(CC_HOURS=cc-hours-cal-government)") == 2  # 12319, 12320: one context for both
    assert text.count("[cc-hours-cal-government]") == 1
    assert "Set(CC_HOURS=cc-hours-line-12345)" in text
    assert "[cc-hours-line-12345]\n" in text and "GotoIfTime(00:00-23:59,mon-sun,*,*,Asia/Shanghai?open,1)" in text
    assert '; holiday' in text and 'GotoIf($["${day}" = "2026-10-01"]?closed,1)' in text
    assert 'GotoIf($["${day}" = "2026-10-10"]?workday,1)' in text
    fallback_ctx = text[text.index("[cc-fallback]"):text.index("[cc-enqueue]")]
    assert "Gosub(${CC_HOURS},s,1)" in fallback_ctx and '"${GOSUB_RETVAL}" = "open"' in fallback_ctx
    assert "GotoIfTime" not in fallback_ctx
    assert f"Playback({box.sounds_dir}/zh/short)" in fallback_ctx
    # the fallback's voicemail names its call and why in the message's metadata
    assert "Set(VM_CATEGORY=linkedid=${CHANNEL(linkedid)}&hotline=${URIENCODE(${CC_HOTLINE})}&reason=fallback)" \
        in fallback_ctx
    assert "load => func_uri.so" in (box.etc_dir / "modules.conf").read_text()
    assert "CC_CLOCK_OFFSET" not in text
    box.wipe()


def test_the_test_clock_global_is_declared_when_calendars_read_it(config: Config, tmp_path: Path) -> None:
    config = config.with_overrides(ivr={**config.ivr.model_dump(), "allow_clock_override": True})
    box = Sandbox(config, tmp_path / "run")
    box.render()
    text = (box.etc_dir / "extensions.conf").read_text()
    globals_ = text[text.index("\n[globals]\n"):text.index("\n[from-trunk]\n")]
    assert "CC_CLOCK_OFFSET = 0" in globals_
    assert "${EPOCH} + ${CC_CLOCK_OFFSET}" in text
    box.wipe()


def test_an_unknown_calendar_stops_the_render(config: Config, tmp_path: Path) -> None:
    config = config.with_overrides(hotlines=[{"did": "12319", "name": "12319", "queue": "main",
                                              "calendar": "nope"}])
    with pytest.raises(SandboxError, match=r"hotline 12319 .*no calendar named 'nope'.*government"):
        Sandbox(config, tmp_path / "run").render()


def test_a_broken_calendar_says_why(tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "calendars.yaml").write_text("calendars:\n  c:\n    weekly: {mon: '09:00-08:00'}\n")
    (flows / "broken.yaml").write_text("flow: [\n")  # a broken flow elsewhere does not matter
    config = Config().with_overrides(ivr={**Config().ivr.model_dump(), "flows_dir": str(flows)},
                                     hotlines=[{"did": "1", "name": "one", "queue": "main", "calendar": "c"}])
    with pytest.raises(fallback.FallbackHoursError, match=r"calendar c: .*ends before it starts"):
        fallback.render(config)
