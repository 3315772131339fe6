"""Deadline arithmetic on the hotline's working calendar (weekends, public holidays, make-up days).

The working days are those of the city's calendar that the IVR's business hours use too
(:mod:`callcenter.calendars`, ``ivr_flows/calendars.yaml``); there is no separate holiday list.
A limit of N working days from a moment ends at the same local clock time on the Nth working day
after that moment's day (the day the order starts does not count, as in "N个工作日内办结"). Hours
are natural hours (an immediate-handling limit runs through the night). Times in and out are naive
UTC, like the database; the calendar is local (the calendar's time zone).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from callcenter.calendars import WorkingDays
from callcenter.workorders.settings import TimeLimit, WorkOrderSettings


class WorkCalendar:
    """Which local days are working days, and deadlines counted in them."""

    def __init__(self, holidays: Iterable[date] = (), workdays: Iterable[date] = (), tz: str = "Asia/Shanghai",
                 weekdays: Iterable[int] = range(5)):
        self.holidays = frozenset(holidays)
        # Make-up working days (调休): weekends that are worked.
        self.workdays = frozenset(workdays)
        # Weekdays that are working days when nothing else is said (0 = Monday).
        self.weekdays = frozenset(weekdays)
        self.zone = ZoneInfo(tz)

    @classmethod
    def of(cls, days: WorkingDays) -> WorkCalendar:
        """The deadline calendar of one of the city's calendars."""
        return cls(days.holidays, days.workdays, days.timezone, days.weekdays)

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() in self.weekdays

    def add_working_days(self, day: date, n: int) -> date:
        """The ``n``-th working day after ``day`` (``n`` ≥ 1), or ``day`` itself for ``n`` = 0."""
        if n < 0:
            raise ValueError("n must be >= 0")
        current = day
        left = n
        while left > 0:
            current += timedelta(days=1)
            if self.is_working_day(current):
                left -= 1
        return current

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]: how many the clock has used from ``start`` to ``end``."""
        count, current = 0, start
        while current < end:
            current += timedelta(days=1)
            if self.is_working_day(current):
                count += 1
        return count

    def local(self, at_utc: datetime) -> datetime:
        return at_utc.replace(tzinfo=UTC).astimezone(self.zone)

    def deadline(self, start_utc: datetime, limit: TimeLimit) -> datetime:
        """When a limit that starts at ``start_utc`` (naive UTC) runs out, as naive UTC."""
        local = self.local(start_utc)
        if limit.working_days:
            target_day = self.add_working_days(local.date(), limit.working_days)
            local = datetime.combine(target_day, local.timetz().replace(tzinfo=None), tzinfo=self.zone)
        end = local.astimezone(UTC).replace(tzinfo=None)
        return end + timedelta(hours=limit.hours)


def limit_for(settings: WorkOrderSettings, mode: str, urgency: str = "normal") -> TimeLimit:
    """The time limit of an order handled in ``mode`` (urgency shortens dispatched orders' limits)."""
    limit = settings.deadlines[mode]
    if mode == "dispatch" and urgency in settings.urgency_deadlines:
        return settings.urgency_deadlines[urgency]
    return limit


def due_status(deadline_at: datetime | None, now_utc: datetime, warn_before_hours: float) -> str:
    """'overdue', 'due_soon', 'on_time' or 'none' (no deadline)."""
    if deadline_at is None:
        return "none"
    if now_utc > deadline_at:
        return "overdue"
    if deadline_at - now_utc <= timedelta(hours=warn_before_hours):
        return "due_soon"
    return "on_time"
