"""The city's calendars, defined once: the IVR's business hours and the work-order deadlines read them.

Calendars live with the IVR flows (``ivr.flows_dir``, e.g. ``ivr_flows/calendars.yaml``): a weekly
schedule, dated public holidays (法定节假日) and make-up working days (调休), validated by the IVR's
schema (:class:`callcenter.ivr.schema.Calendar`). The IVR asks a calendar whether it is open now
(and the dialplan fallback's hours are rendered from it, :mod:`callcenter.ivr.fallback`, through
:func:`load_calendars`); the deadline arithmetic asks it which days are working days. There is no
second list of holidays.

:func:`load_calendars` reads the calendars leniently: a broken flow in the same directory does not
hide them (the IVR's own loader refuses a broken set as a whole, which is right for flows but would
leave deadlines without holidays). :class:`CalendarFiles` re-reads them when the files change and
keeps the last good version of a calendar when an edit breaks it, as the IVR keeps its last good
flows.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pydantic import ValidationError

from callcenter import yamlfiles
from callcenter.ivr.flows import fingerprint, yaml_files
from callcenter.ivr.schema import WEEKDAYS, Calendar

log = logging.getLogger(__name__)


def load_calendars(flows_dir: str | Path) -> tuple[dict[str, Calendar], dict[str, str]]:
    """Every calendar defined in the YAML files of ``flows_dir``: the good ones by name, and for the
    others (invalid, defined twice, unreadable file) why not."""
    good: dict[str, Calendar] = {}
    where: dict[str, str] = {}
    bad: dict[str, str] = {}
    for f in yaml_files([str(flows_dir)]) if Path(flows_dir).is_dir() else []:
        try:
            data = yamlfiles.load_file(f)
        except (OSError, ValueError) as exc:  # YamlFileError is a ValueError; so is 2026-13-07
            bad[f"<{f.name}>"] = str(exc) if isinstance(exc, yamlfiles.YamlFileError) else f"{f}: cannot read: {exc}"
            continue
        raw = data.get("calendars") if isinstance(data, dict) else None
        if not isinstance(raw, dict):
            continue
        for name, body in raw.items():
            name = str(name)
            if name in where:
                bad[name] = f"{f}: calendar {name} is already defined in {where[name]}"
                good.pop(name, None)
                continue
            where[name] = str(f)
            try:
                good[name] = Calendar.model_validate(body)
            except ValidationError as exc:
                err = exc.errors()[0]
                at = ".".join(str(p) for p in err["loc"])
                bad[name] = f"{f}: calendar {name}: {at + ': ' if at else ''}{err['msg']}"
    return good, bad


@dataclass(frozen=True)
class WorkingDays:
    """Which local dates are working days, from one calendar: a weekday with opening hours in the
    weekly schedule, unless it is a holiday; a make-up day is a working day whatever its weekday."""

    name: str
    timezone: str
    weekdays: frozenset[int]  # 0 = Monday
    holidays: frozenset[date]
    workdays: frozenset[date]

    @classmethod
    def of(cls, name: str, cal: Calendar) -> WorkingDays:
        weekdays = frozenset(i for i, day in enumerate(WEEKDAYS) if cal.weekly.get(day))  # type: ignore[call-overload]
        return cls(name, cal.timezone, weekdays, frozenset(cal.holidays), frozenset(cal.workdays))

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() in self.weekdays


# Monday to Friday, no holidays: only while the named calendar cannot be read (logged as an error).
WEEKENDS_ONLY = WorkingDays("(weekends only)", "Asia/Shanghai", frozenset(range(5)), frozenset(), frozenset())


class CalendarMissing(Exception):
    """The named calendar is not defined (or not valid) in the flow directory; the message says why."""


class CalendarFiles:
    """One named calendar of a flow directory, re-read when the directory's YAML files change.

    ``current()`` is cheap (a ``stat`` of each file) and safe from any thread.
    """

    def __init__(self, flows_dir: str | Path, name: str, fallback_timezone: str = "Asia/Shanghai") -> None:
        self.flows_dir = Path(flows_dir)
        self.name = name
        self.fallback = WorkingDays(WEEKENDS_ONLY.name, fallback_timezone, WEEKENDS_ONLY.weekdays, frozenset(),
                                    frozenset())
        self._lock = threading.Lock()
        self._fingerprint: str | None = None
        self._days: WorkingDays | None = None
        self.problem = ""

    def _files_fingerprint(self) -> str:
        return fingerprint(yaml_files([str(self.flows_dir)])) if self.flows_dir.is_dir() else "missing"

    def load(self) -> WorkingDays:
        """Read the calendar now; raises :class:`CalendarMissing` when it cannot be used."""
        good, bad = load_calendars(self.flows_dir)
        cal = good.get(self.name)
        if cal is None:
            unreadable = [why for key, why in bad.items() if key.startswith("<")]
            raise CalendarMissing(bad.get(self.name) or (
                f"no calendar named {self.name!r} in {self.flows_dir} (have: {', '.join(sorted(good)) or 'none'})"
                + "".join(f"; {why}" for why in unreadable)))
        return WorkingDays.of(self.name, cal)

    def current(self) -> WorkingDays:
        """The calendar as the files say now; the last good one if an edit broke it; weekends only
        (and an error in the log) if it has never been readable."""
        fp = self._files_fingerprint()
        if fp == self._fingerprint and (self._days is not None or self.problem):
            return self._days or self.fallback
        with self._lock:
            if fp != self._fingerprint:
                try:
                    days = self.load()
                except CalendarMissing as exc:
                    self.problem = str(exc)
                    if self._days is None:
                        log.error("working-day calendar: %s; deadlines skip weekends only until it is fixed", exc)
                    else:
                        log.error("working-day calendar: %s; keeping the previous version", exc)
                else:
                    if self._days is not None and days != self._days:
                        log.info("working-day calendar %r reloaded from %s", self.name, self.flows_dir)
                    self._days, self.problem = days, ""
                self._fingerprint = fp
            return self._days or self.fallback
