"""``callcenter staffing``: how many agents the 15-second target needs (Erlang C and A), and a forecast."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import click

from callcenter.cli.common import get_config, print_json


@click.group("staffing")
def staffing_group() -> None:
    """Staffing to the 15-second target (排班与话务预测)."""


@staffing_group.command("required")
@click.option("--calls", type=click.FloatRange(min=0), required=True, help="Calls offered in the period.")
@click.option("--per", type=click.Choice(["30m", "1h"]), default="1h", show_default=True)
@click.option("--aht", type=click.FloatRange(min=1), required=True, help="Average handling time, seconds.")
@click.option("--patience", type=click.FloatRange(min=1), default=None,
              help="Callers' mean patience, seconds (Erlang A); omitted: nobody abandons (Erlang C).")
@click.option("--target", type=click.FloatRange(min=1, max=99.99), default=None,
              help="Percent answered within the threshold (default: staffing.target).")
@click.option("--within", type=click.FloatRange(min=1), default=None, help="Seconds (default: kpi.threshold_s).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def required(ctx: click.Context, calls: float, per: str, aht: float, patience: float | None, target: float | None,
             within: float | None, as_json: bool) -> None:
    """Agents needed on the phones for CALLS per period (and the service level, abandonment, occupancy)."""
    from callcenter.staffing.erlang import erlang_a, required_agents

    config = get_config(ctx)
    share = (target / 100) if target else config.staffing.target
    t = within or float(config.kpi.threshold_s)
    rate = calls / (1800 if per == "30m" else 3600)
    agents = required_agents(rate, aht, share, t, patience)
    figures = erlang_a(agents, rate, aht, patience, t) if agents else None
    data = {"calls": calls, "per": per, "aht_s": aht, "patience_s": patience, "target": round(100 * share, 2),
            "within_s": t, "traffic_erlangs": round(rate * aht, 3), "agents": agents,
            "staff": math.ceil(agents / (1 - config.staffing.shrinkage) - 1e-9),
            "service_level": round(100 * figures.service_level, 2) if figures else 100.0,
            "abandon_rate": round(100 * figures.abandon_rate, 2) if figures else 0.0,
            "occupancy": round(100 * figures.occupancy, 2) if figures else 0.0}
    if as_json:
        print_json(data)
        return
    click.echo(f"{agents} agents on the phones ({data['staff']} to schedule at {config.staffing.shrinkage:.0%} "
               f"shrinkage) for {calls:g} calls per {per} at {aht:g} s: {data['service_level']:.2f}% answered "
               f"within {t:g} s, {data['abandon_rate']:.2f}% abandon, occupancy {data['occupancy']:.1f}%")


@staffing_group.command("forecast")
@click.option("--from", "start", metavar="DATE", default=None, help="First local date (default: tomorrow).")
@click.option("--days", type=click.IntRange(1, 62), default=7, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def forecast(ctx: click.Context, start: str | None, days: int, as_json: bool) -> None:
    """Calls per half hour for the coming days from history, and the agents each half hour needs."""
    from zoneinfo import ZoneInfo

    from callcenter.calendars import CalendarFiles
    from callcenter.staffing.forecast import plan
    from callcenter.store.db import Database

    config = get_config(ctx)
    tz = ZoneInfo(config.timezone)
    try:
        first = date.fromisoformat(start) if start else datetime.now(tz).date() + timedelta(days=1)
    except ValueError:
        raise click.BadParameter(f"not a date (YYYY-MM-DD): {start!r}", param_hint="--from") from None
    calendar = CalendarFiles(config.ivr.flows_dir, config.desk.workorders.calendar, config.timezone)
    days_of = calendar.current()
    s = config.staffing
    db = Database(config.effective_database_url)
    try:
        with db.session() as session:
            data = plan(session, first, days, timezone=config.timezone, is_working_day=days_of.is_working_day,
                        target=s.target, within_s=float(config.kpi.threshold_s), shrinkage=s.shrinkage,
                        history_weeks=s.history_weeks, measure_days=s.measure_days, default_aht_s=s.default_aht_s,
                        after_call_s=s.after_call_s)
    finally:
        db.dispose()
    data["calendar"] = days_of.name
    if as_json:
        print_json(data)
        return
    h = data["handling"]
    patience = "none abandoned" if h["patience_s"] is None else f"{h['patience_s']:g} s"
    click.echo(f"history {data['history']['from']} – {data['history']['until']} "
               f"({data['history']['days_with_calls']} days with calls, calendar {data['calendar']}); "
               f"handling time {h['aht_s']:g} s, patience {patience}; target {data['target']:g}% within "
               f"{data['within_s']:g} s")
    for day in data["days"]:
        kind = "working day" if day["working_day"] else "rest day"
        click.echo(f"{day['date']} ({kind}): {day['calls']:g} calls, peak {day['peak_agents']} agents")
        for slot in day["slots"]:
            if slot["calls"] or slot["agents"]:
                click.echo(f"  {slot['start'][11:]}  {slot['calls']:7.2f} calls  {slot['agents']:4d} agents "
                           f"({slot['agents_erlang_c']} by Erlang C, {slot['staff']} to schedule)")


def register(cli: click.Group) -> None:
    cli.add_command(staffing_group)
