"""Reading the times people type (CLI options, API query strings)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


def parse_time(value: str | None, tz: str) -> datetime | None:
    """ISO 8601 (no zone = hotline local time), epoch seconds, 'today', 'yesterday' or '-2h'/'-30m'/'-7d'.

    Returns naive UTC, like the database; raises ValueError with the reason.
    """
    if value is None:
        return None
    zone = ZoneInfo(tz)
    v = value.strip()
    now = datetime.now(zone)
    try:
        if v in ("today", "yesterday"):
            day = now.replace(hour=0, minute=0, second=0, microsecond=0)
            dt = day - timedelta(days=1) if v == "yesterday" else day
        elif v.startswith("-") and v[-1:] in ("s", "m", "h", "d") and v[1:-1].isdigit():
            unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[v[-1]]
            dt = now - timedelta(**{unit: int(v[1:-1])})
        elif v.replace(".", "", 1).isdigit():
            dt = datetime.fromtimestamp(float(v), UTC)
        else:
            dt = datetime.fromisoformat(v)
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=zone)
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"cannot read time {value!r} ({exc})") from exc
    return dt.astimezone(UTC).replace(tzinfo=None)
