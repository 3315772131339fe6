"""Business hours of the dialplan fallback, rendered from the calendars the flows use.

When the IVR cannot take a call, ``cc-fallback`` asks the hotline's hours context
(``Gosub(${CC_HOURS},s,1)``) whether it is open: ``GOSUB_RETVAL`` is ``open`` (queue) or ``closed``
(voicemail). A hotline with a ``calendar`` gets a context generated from that calendar of
``ivr.flows_dir`` when the dialplan is rendered: one line per dated holiday (closed) and per make-up
working day (``workday_hours``, else Monday's), then the weekly ranges, all by the local date and time
in the calendar's zone (``STRFTIME``; ``GotoIfTime`` has no year, so it cannot name a date). It
decides exactly as :func:`callcenter.ivr.hours.is_open` does (ranges include their start minute and
exclude their end minute). A hotline without a calendar keeps its ``open_hours`` (one ``GotoIfTime``).

A calendar edit reaches the fallback the next time the dialplan is rendered (Asterisk's start through
the sandbox, ``callcenter sandbox render``), not on ``ivr reload``.

With ``ivr.allow_clock_override`` (tests only) calendar contexts read the time as
``${EPOCH} + ${CC_CLOCK_OFFSET}``, a global variable that tests move through AMI (``Setvar``), as the
daemon's IVR clock is moved through ``PUT /ivr/clock``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# The one loader of the calendars, shared with the work-order deadlines (callcenter.calendars).
from callcenter.calendars import load_calendars
from callcenter.config import Config, HotlineConfig
from callcenter.ivr.schema import WEEKDAYS, Calendar, parse_range

CLOCK_OFFSET_VAR = "CC_CLOCK_OFFSET"


class FallbackHoursError(Exception):
    """A hotline names a calendar that cannot be found or read; the message says which."""


@dataclass(frozen=True)
class FallbackHours:
    """Hours context per hotline number, and the dialplan text of those contexts."""

    context_of: dict[str, str]
    dialplan: str


def render(config: Config, calendars: dict[str, Calendar] | None = None,
           broken: dict[str, str] | None = None) -> FallbackHours:
    """The hours contexts of every hotline of ``config`` (calendars default: ``ivr.flows_dir``'s)."""
    if calendars is None:
        calendars, broken = load_calendars(config.ivr.flows_dir)
    broken = broken or {}
    clock = config.ivr.allow_clock_override
    context_of: dict[str, str] = {}
    blocks: dict[str, list[str]] = {}
    for h in config.hotlines:
        if h.calendar:
            cal = calendars.get(h.calendar)
            if cal is None:
                why = broken.get(h.calendar) or (
                    f"no calendar named {h.calendar!r} in {config.ivr.flows_dir} "
                    f"(have: {', '.join(sorted(calendars)) or 'none'})")
                raise FallbackHoursError(f"hotline {h.did} ({h.name}): fallback hours: {why}")
            name = context_name("cal", h.calendar)
            if name not in blocks:
                blocks[name] = calendar_context(name, h.calendar, cal, clock)
        else:
            name = context_name("line", h.did)
            blocks[name] = open_hours_context(name, h, config.timezone)
        context_of[h.did] = name
    return FallbackHours(context_of, "\n".join("\n".join(lines) + "\n" for lines in blocks.values()))


def context_name(kind: str, key: str) -> str:
    return f"cc-hours-{kind}-{re.sub(r'[^A-Za-z0-9_-]', '_', key)}"


def open_hours_context(name: str, hotline: HotlineConfig, timezone: str) -> list[str]:
    return [
        f"[{name}]",
        f"; hotline {hotline.did} ({hotline.name}): open_hours, no calendar",
        f"exten => s,1,GotoIfTime({hotline.open_hours},{timezone}?open,1)",
        " same => n,Return(closed)",
        "exten => open,1,Return(open)",
    ]


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}{minute % 60:02d}"


def _ranges(ranges: Sequence[str]) -> list[str]:
    """Dialplan lines (after an ``exten =>`` head) opening in each range, then closing."""
    lines = []
    for text in ranges:
        start, end = parse_range(text)
        # zero-padded four digits on both sides: numeric and text comparison agree
        lines.append(f"GotoIf($[${{hm}} >= {_hhmm(start)} & ${{hm}} < {_hhmm(end)}]?open,1)  ; {text}")
    lines.append("Goto(closed,1)")
    return lines


def _extension(exten: str, steps: list[str]) -> list[str]:
    return [f"exten => {exten},1,{steps[0]}", *(f" same => n,{s}" for s in steps[1:])]


def calendar_context(name: str, calendar_name: str, cal: Calendar, clock_override: bool = False) -> list[str]:
    """One Gosub context answering ``open``/``closed`` for ``cal`` (see the module docstring)."""
    tz = cal.timezone
    now = f"$[${{EPOCH}} + ${{{CLOCK_OFFSET_VAR}}}]" if clock_override else "${EPOCH}"
    steps = [
        f"Set(LOCAL(now)={now})",
        f"Set(LOCAL(day)=${{STRFTIME(${{now}},{tz},%Y-%m-%d)}})",
        f"Set(LOCAL(hm)=${{STRFTIME(${{now}},{tz},%H%M)}})",
        f"Set(LOCAL(dow)=${{STRFTIME(${{now}},{tz},%u)}})",
    ]
    steps += [f'GotoIf($["${{day}}" = "{d.isoformat()}"]?closed,1)  ; holiday' for d in sorted(cal.holidays)]
    steps += [f'GotoIf($["${{day}}" = "{d.isoformat()}"]?workday,1)  ; make-up working day'
              for d in sorted(cal.workdays)]
    steps.append("Goto(day-${dow},1)")
    lines = [
        f"[{name}]",
        f"; calendar {calendar_name!r} of the IVR flows ({tz}), rendered with the dialplan: dated holidays,",
        "; make-up working days, then the weekly hours. Returns open or closed.",
        *_extension("s", steps),
    ]
    for number, day in enumerate(WEEKDAYS, 1):
        lines += _extension(f"day-{number}", _ranges(cal.weekly.get(day, ())))  # type: ignore[call-overload]
    workday = cal.workday_hours if cal.workday_hours is not None else cal.weekly.get("mon", ())
    lines += _extension("workday", _ranges(workday))
    lines += ["exten => open,1,Return(open)", "exten => closed,1,Return(closed)"]
    return lines
