"""One calendar for the city: the deadlines count the working days of the calendar the IVR's
business hours use (ivr_flows/calendars.yaml), follow its edits, and never invent their own."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from callcenter.auth.services import Actor
from callcenter.calendars import CalendarFiles, CalendarMissing, WorkingDays, load_calendars
from callcenter.config import Config
from callcenter.ivr import fallback
from callcenter.ivr.flows import load_files, yaml_files
from callcenter.ivr.hours import is_open
from callcenter.store import migrate
from callcenter.store.db import Database
from callcenter.workorders.deadlines import WorkCalendar
from callcenter.workorders.services import Services

SHIPPED = Path(__file__).parents[2] / "ivr_flows"
KUNMING = ZoneInfo("Asia/Shanghai")
AGENT = Actor(1, "agent1", "agent", agent_id="1001")
FIELDS = {"caller_number": "13800001111", "category": "housing.fund", "content": "咨询公积金提取"}


def _config(flows_dir: Path) -> Config:
    return Config().model_copy(update={"ivr": Config().ivr.model_copy(update={"flows_dir": str(flows_dir)})})


def _utc(local: datetime) -> datetime:
    return local.replace(tzinfo=KUNMING).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def test_the_deadline_calendar_is_the_ivr_calendar_day_by_day() -> None:
    good, bad = load_calendars(SHIPPED)
    assert bad == {} and "government" in good
    cal = good["government"]
    # the very calendar the IVR engine loads with its flows, and the loader its dialplan fallback uses
    flows, problems = load_files(yaml_files([SHIPPED]))
    assert problems == [] and flows is not None and flows.calendars["government"] == cal
    assert fallback.load_calendars is load_calendars
    days = WorkingDays.of("government", cal)
    day = date(2026, 1, 1)
    while day.year == 2026:
        # open at 10:00 for the IVR ⇔ a working day for the deadlines
        ten = datetime(day.year, day.month, day.day, 10, 0, tzinfo=KUNMING).timestamp()
        assert days.is_working_day(day) == is_open(cal, ten), day
        day += timedelta(days=1)
    assert not days.is_working_day(date(2026, 10, 1)) and days.is_working_day(date(2026, 10, 10))  # Sat, 调休
    # a calendar open every day makes every day a working day
    assert all(WorkingDays.of("always", good["always"]).is_working_day(date(2026, 10, d)) for d in range(1, 8))


def test_a_deadline_across_the_2026_national_day_honours_the_shipped_calendar(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cal.sqlite'}"
    migrate.upgrade(url)
    db = Database(url)
    # Wed 30 Sep 2026, 10:00 in Kunming: 1 Oct - 7 Oct are off (3-4 Oct a weekend), Sat 10 Oct is worked
    now = _utc(datetime(2026, 9, 30, 10, 0))
    svc = Services.for_config(_config(SHIPPED), clock=lambda: now)
    try:
        with db.session() as s:
            dispatched = svc.create(s, AGENT, "call", FIELDS, register=True)
            svc.act(s, AGENT, dispatched, "dispatch", {"department": "fund"})
            coordinated = svc.create(s, AGENT, "call", FIELDS, register=True)
            svc.act(s, AGENT, coordinated, "coordinate", {})
            # 5 working days: Thu 8, Fri 9, Sat 10 (make-up day), Mon 12, Tue 13 Oct
            assert dispatched.deadline_at == _utc(datetime(2026, 10, 13, 10, 0))
            # 1 working day: Thursday 8 Oct, the first day back
            assert coordinated.deadline_at == _utc(datetime(2026, 10, 8, 10, 0))
    finally:
        db.dispose()
    # without the shipped calendar the same limit would have ended during the holiday
    assert WorkCalendar().deadline(now, svc.settings.deadlines["dispatch"]) == _utc(datetime(2026, 10, 7, 10, 0))


def test_an_edit_of_the_calendar_counts_from_the_next_deadline_and_a_broken_one_keeps_the_last(
        tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    shutil.copy(SHIPPED / "calendars.yaml", flows / "calendars.yaml")
    source = CalendarFiles(flows, "government")
    assert not source.current().is_working_day(date(2026, 10, 1))
    assert source.current().is_working_day(date(2026, 12, 31))
    text = (flows / "calendars.yaml").read_text(encoding="utf-8")
    edited = text.replace("      - 2026-10-07\n", "      - 2026-10-07\n      - 2026-12-31\n")
    (flows / "calendars.yaml").write_text(edited, encoding="utf-8")
    assert not source.current().is_working_day(date(2026, 12, 31))
    # a typo: the last good version stays, and says why
    (flows / "calendars.yaml").write_text(text.replace("2026-10-07", "2026-13-07"), encoding="utf-8")
    assert not source.current().is_working_day(date(2026, 12, 31))
    assert "government" in source.problem and "calendars.yaml" in source.problem
    # a broken flow next to it does not hide the calendar
    (flows / "calendars.yaml").write_text(text, encoding="utf-8")
    (flows / "broken.yaml").write_text("flow: [\n", encoding="utf-8")
    assert source.current().is_working_day(date(2026, 12, 31)) and source.problem == ""


def test_a_missing_calendar_is_an_error_not_a_silent_guess(tmp_path: Path) -> None:
    source = CalendarFiles(tmp_path, "government")
    with pytest.raises(CalendarMissing, match="no calendar named 'government'"):
        source.load()
    days = source.current()
    assert days.is_working_day(date(2026, 10, 1))  # weekends only: the holiday is not known...
    assert "no calendar named 'government'" in source.problem  # ...and that is said (and logged)
    (tmp_path / "a.yaml").write_text("calendars:\n  government: {weekly: {mon: '08:00-17:00'}}\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("calendars:\n  government: {weekly: {tue: '08:00-17:00'}}\n", encoding="utf-8")
    with pytest.raises(CalendarMissing, match="already defined"):
        source.load()


def test_the_desk_uses_the_ivr_flow_directory(tmp_path: Path) -> None:
    from callcenter.desk.plugin import Desk

    flows = tmp_path / "flows"
    flows.mkdir()
    shutil.copy(SHIPPED / "calendars.yaml", flows / "calendars.yaml")
    desk = Desk(_config(flows))
    assert desk.orders.calendar_files is not None and desk.orders.calendar_files.flows_dir == flows
    assert not desk.orders.calendar.is_working_day(date(2026, 10, 5))
    assert desk.orders.calendar.is_working_day(date(2026, 9, 20))  # Sunday, 调休
