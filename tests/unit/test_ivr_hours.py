"""Business hours: weekly ranges, holidays, make-up working days, time zones."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from callcenter.ivr.hours import Clock, is_open
from callcenter.ivr.schema import Calendar

SH = ZoneInfo("Asia/Shanghai")
OFFICE = Calendar(weekly={"mon": ("08:30-12:00", "13:30-17:30"), "tue": ("08:30-12:00", "13:30-17:30"),
                          "sat": ()},
                  holidays=(date(2026, 10, 6),), workdays=(date(2026, 10, 10),))


def at(*args: int, tz: ZoneInfo = SH) -> float:
    return datetime(*args, tzinfo=tz).timestamp()


@pytest.mark.parametrize(("when", "expected"), [
    (at(2026, 11, 23, 8, 29), False),   # Monday before opening
    (at(2026, 11, 23, 8, 30), True),
    (at(2026, 11, 23, 12, 0), False),   # lunch: ranges end exclusive
    (at(2026, 11, 23, 17, 29), True),
    (at(2026, 11, 23, 17, 30), False),
    (at(2026, 11, 25, 10, 0), False),   # Wednesday: not in the schedule
    (at(2026, 10, 6, 10, 0), False),    # a Tuesday holiday
    (at(2026, 10, 10, 10, 0), True),    # a Saturday worked (调休), Monday's hours
    (at(2026, 10, 10, 12, 30), False),
])
def test_is_open(when: float, expected: bool) -> None:
    assert is_open(OFFICE, when) is expected


def test_the_calendar_zone_decides_the_local_time() -> None:
    # 01:00 UTC on a Monday is 09:00 in Shanghai (open) but 20:00 on Sunday in New York (closed)
    when = at(2026, 11, 23, 1, 0, tz=ZoneInfo("UTC"))
    assert is_open(OFFICE, when) is True
    assert is_open(OFFICE.model_copy(update={"timezone": "America/New_York"}), when) is False


def test_a_whole_day() -> None:
    always = Calendar(weekly={"sun": ("00:00-24:00",)})
    assert is_open(always, at(2026, 11, 29, 23, 59)) is True


def test_clock_can_be_moved_and_put_back() -> None:
    clock = Clock()
    clock.set_now(1000.0)
    assert abs(clock.now() - 1000.0) < 1
    clock.set_now(None)
    assert clock.offset_s == 0.0
