"""``callcenter calls list``: recent calls from the database."""

from __future__ import annotations

import click

from callcenter.cli.common import get_config, parse_time, print_json
from callcenter.logs import mask_number
from callcenter.store.models import epoch


@click.group("calls")
def calls_group() -> None:
    """Call records."""


@calls_group.command("list")
@click.option("--since", metavar="T")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.option("--show-numbers", is_flag=True, help="Print callers' numbers in full (personal data).")
@click.pass_context
def list_calls(ctx: click.Context, since: str | None, limit: int, as_json: bool, show_numbers: bool) -> None:
    """The newest calls: hotline, caller, disposition, wait, agent, recording."""
    from callcenter.calls.queries import recent_calls
    from callcenter.store.db import Database

    config = get_config(ctx)
    db = Database(config.effective_database_url)
    try:
        with db.session() as session:
            calls = recent_calls(session, parse_time(since, config.timezone), limit)
            rows = [{
                "linkedid": c.linkedid, "started_at": epoch(c.started_at), "hotline": c.hotline, "did": c.did,
                "caller_number": c.caller_number if show_numbers else mask_number(c.caller_number),
                "caller_name": c.caller_name, "disposition": c.disposition, "wait_s": c.wait_s,
                "answered_by": c.answered_by, "recording_path": c.recording_path,
                "duration_s": None if c.ended_at is None else round((c.ended_at - c.started_at).total_seconds()),
            } for c in calls]
    finally:
        db.dispose()
    if as_json:
        print_json(rows)
        return
    from datetime import datetime
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(config.timezone)
    click.echo(f"{'STARTED (' + config.timezone + ')':<25} {'DURATION':>8}  {'OUTCOME':<14} {'HOTLINE':<8} "
               f"{'CALLER':<14} {'NAME':<10} {'WAIT':>5}  {'AGENT':<6} LINKEDID")
    for row in rows:
        wait = "-" if row["wait_s"] is None else f"{row['wait_s']}s"
        started = datetime.fromtimestamp(row["started_at"], zone).strftime("%Y-%m-%d %H:%M:%S") \
            if row["started_at"] else "-"
        duration = "-" if row["duration_s"] is None else f"{row['duration_s']}s"
        click.echo(f"{started:<25} {duration:>8}  {row['disposition']:<14} {row['hotline'] or '-':<8} "
                   f"{row['caller_number']:<14} {row['caller_name'] or '-':<10} {wait:>5}  "
                   f"{row['answered_by'] or '-':<6} {row['linkedid']}")


def register(cli: click.Group) -> None:
    cli.add_command(calls_group)
