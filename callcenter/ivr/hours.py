"""Business hours: is a calendar open at a given instant? And the clock the IVR asks."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from callcenter.ivr.schema import WEEKDAYS, Calendar, parse_range


def is_open(calendar: Calendar, epoch: float) -> bool:
    """True when ``epoch`` falls in an opening range of ``calendar`` (in the calendar's zone)."""
    local = datetime.fromtimestamp(epoch, UTC).astimezone(ZoneInfo(calendar.timezone))
    day = local.date()
    if day in calendar.holidays:
        return False
    if day in calendar.workdays:
        ranges = calendar.workday_hours if calendar.workday_hours is not None else calendar.weekly.get("mon", ())
    else:
        ranges = calendar.weekly.get(WEEKDAYS[local.weekday()], ())  # type: ignore[call-overload]
    minute = local.hour * 60 + local.minute
    return any(start <= minute < end for start, end in map(parse_range, ranges))


class Clock:
    """The IVR's idea of now: the system clock plus an offset that tests may set (see the ops route)."""

    def __init__(self, offset_s: float = 0.0) -> None:
        self.offset_s = offset_s

    def now(self) -> float:
        return time.time() + self.offset_s

    def set_now(self, epoch: float | None) -> None:
        """Pretend it is ``epoch`` from now on (``None``: back to the real time)."""
        self.offset_s = 0.0 if epoch is None else epoch - time.time()
