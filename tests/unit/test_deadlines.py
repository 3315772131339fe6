"""Deadline arithmetic on the working calendar: weekends, holidays, make-up working days."""

from __future__ import annotations

from datetime import date, datetime

from callcenter.workorders.deadlines import WorkCalendar, due_status, limit_for
from callcenter.workorders.settings import TimeLimit, WorkOrderSettings

# 2025 National Day + Mid-Autumn: Oct 1-8 off; Sun Sep 28 and Sat Oct 11 are make-up working days.
NATIONAL_DAY = [date(2025, 10, d) for d in range(1, 9)]
MAKE_UP = [date(2025, 9, 28), date(2025, 10, 11)]
CAL = WorkCalendar(NATIONAL_DAY, MAKE_UP, "Asia/Shanghai")


def utc(*args: int) -> datetime:
    return datetime(*args)


def test_working_days() -> None:
    assert CAL.is_working_day(date(2025, 9, 26))  # Friday
    assert not CAL.is_working_day(date(2025, 9, 27))  # Saturday
    assert CAL.is_working_day(date(2025, 9, 28))  # Sunday, make-up day
    assert not CAL.is_working_day(date(2025, 10, 6))  # Monday, holiday
    assert CAL.is_working_day(date(2025, 10, 11))  # Saturday, make-up day


def test_friday_plus_one_working_day_is_monday() -> None:
    assert WorkCalendar().add_working_days(date(2025, 3, 7), 1) == date(2025, 3, 10)
    assert WorkCalendar().add_working_days(date(2025, 3, 7), 5) == date(2025, 3, 14)
    assert WorkCalendar().add_working_days(date(2025, 3, 8), 1) == date(2025, 3, 10)  # from Saturday
    assert WorkCalendar().add_working_days(date(2025, 3, 7), 0) == date(2025, 3, 7)


def test_across_the_national_day_holiday() -> None:
    # Tue Sep 30 + 1 working day: Oct 1-8 are off, so Thursday Oct 9
    assert CAL.add_working_days(date(2025, 9, 30), 1) == date(2025, 10, 9)
    # Fri Sep 26 + 1: Saturday off, Sunday Sep 28 is a make-up working day
    assert CAL.add_working_days(date(2025, 9, 26), 1) == date(2025, 9, 28)
    # Tue Sep 30 + 3: Oct 9 (Thu), Oct 10 (Fri), Oct 11 (make-up Saturday)
    assert CAL.add_working_days(date(2025, 9, 30), 3) == date(2025, 10, 11)
    assert CAL.working_days_between(date(2025, 9, 30), date(2025, 10, 11)) == 3


def test_deadline_keeps_the_local_clock_time_and_returns_utc() -> None:
    # Fri 2025-03-07 17:30 in Kunming (UTC+8) = 09:30 UTC; 1 working day → Mon 17:30 local = 09:30 UTC
    assert CAL.deadline(utc(2025, 3, 7, 9, 30), TimeLimit(working_days=1)) == utc(2025, 3, 10, 9, 30)
    # 23:30 local Friday is 15:30 UTC Friday: the local day (Friday) is what counts
    assert CAL.deadline(utc(2025, 3, 7, 15, 30), TimeLimit(working_days=1)) == utc(2025, 3, 10, 15, 30)
    # 01:00 local Saturday is 17:00 UTC Friday: counts from Saturday → Monday
    assert CAL.deadline(utc(2025, 3, 7, 17, 0), TimeLimit(working_days=1)) == utc(2025, 3, 9, 17, 0)


def test_hours_are_natural_hours() -> None:
    assert CAL.deadline(utc(2025, 9, 30, 15, 0), TimeLimit(hours=2)) == utc(2025, 9, 30, 17, 0)
    assert CAL.deadline(utc(2025, 9, 30, 15, 0), TimeLimit(working_days=1, hours=2)) == utc(2025, 10, 9, 17, 0)


def test_limits_by_mode_and_urgency() -> None:
    s = WorkOrderSettings()
    assert limit_for(s, "immediate") == TimeLimit(hours=2)
    assert limit_for(s, "dispatch") == TimeLimit(working_days=5)
    assert limit_for(s, "dispatch", "urgent") == TimeLimit(working_days=2)
    assert limit_for(s, "coordinated", "urgent") == TimeLimit(working_days=1)


def test_due_status() -> None:
    now = utc(2025, 3, 7, 12, 0)
    assert due_status(None, now, 4) == "none"
    assert due_status(utc(2025, 3, 7, 11, 59), now, 4) == "overdue"
    assert due_status(utc(2025, 3, 7, 15, 0), now, 4) == "due_soon"
    assert due_status(utc(2025, 3, 8, 12, 0), now, 4) == "on_time"
