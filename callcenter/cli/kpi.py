"""``callcenter kpi``: the 15-second answer rate from the database or recomputed from raw sources.

JSON contract (operators' scripts depend on it):
``{"threshold_s", "offered", "answered", "answered_within_threshold", "abandoned", "rate",
"queues": {NAME: {"offered", "answered", "abandoned", "servicelevel_perf", "servicelevel_perf2"}}}``
"""

from __future__ import annotations

import click

from callcenter.cli.common import get_config, parse_time, print_json
from callcenter.config import Config
from callcenter.kpi.service_level import ServiceLevelReport


def _servicelevels(config: Config) -> dict[str, int]:
    return {q.name: q.servicelevel for q in config.queues}


def _show(report: ServiceLevelReport, as_json: bool) -> None:
    data = report.as_json()
    if as_json:
        print_json(data)
        return
    rate = "n/a" if data["rate"] is None else f"{data['rate']:.2f}%"
    click.echo(f"{data['threshold_s']}-second answer rate: {rate}  "
               f"({data['answered_within_threshold']} of {data['offered']} callers; "
               f"answered {data['answered']}, not answered {data['abandoned']})")
    for name, q in data["queues"].items():
        click.echo(f"  {name}: offered {q['offered']}, answered {q['answered']}, abandoned {q['abandoned']}, "
                   f"ServicelevelPerf {q['servicelevel_perf']:.2f}%, ServicelevelPerf2 {q['servicelevel_perf2']:.2f}%")


@click.group("kpi")
def kpi_group() -> None:
    """Key performance indicators."""


@kpi_group.command("service-level")
@click.option("--since", metavar="T", help="From T (ISO time, epoch, 'today', '-1h'); callers by first entry.")
@click.option("--until", metavar="T", help="Until T (exclusive).")
@click.option("--queue", default=None, help="Only this queue.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def service_level(ctx: click.Context, since: str | None, until: str | None, queue: str | None,
                  as_json: bool) -> None:
    """The answer rate from the call records in the database."""
    from callcenter.calls.queries import stay_facts
    from callcenter.kpi.service_level import compute
    from callcenter.store.db import Database

    config = get_config(ctx)
    start, end = parse_time(since, config.timezone), parse_time(until, config.timezone)
    db = Database(config.effective_database_url)
    try:
        with db.session() as session:
            report = compute(stay_facts(session, start, end, queue), config.kpi.threshold_s,
                             config.kpi.short_abandon_grace_s, _servicelevels(config),
                             default_servicelevel=config.kpi.threshold_s, grouped=True)
    finally:
        db.dispose()
    _show(report, as_json)


@kpi_group.command("replay")
@click.option("--ami", "ami_file", metavar="FILE", help="A raw AMI capture (callcenter ami capture).")
@click.option("--queue-log", "queue_log", metavar="FILE", help="An Asterisk queue_log file.")
@click.option("--since", metavar="T", help="Only callers first queued from T on.")
@click.option("--until", metavar="T", help="Only callers first queued before T.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def replay(ctx: click.Context, ami_file: str | None, queue_log: str | None, since: str | None, until: str | None,
           as_json: bool) -> None:
    """Recompute the answer rate from a recorded AMI stream or a queue_log."""
    from callcenter.kpi.replay import replay_ami, replay_queue_log
    from callcenter.store.models import epoch

    if bool(ami_file) == bool(queue_log):
        raise click.UsageError("give exactly one of --ami FILE or --queue-log FILE")
    config = get_config(ctx)
    window = (epoch(parse_time(since, config.timezone)), epoch(parse_time(until, config.timezone)))
    args = (config.kpi.threshold_s, config.kpi.short_abandon_grace_s, _servicelevels(config), *window)
    try:
        report = replay_ami(ami_file, *args) if ami_file else replay_queue_log(queue_log, *args)  # type: ignore[arg-type]
    except OSError as exc:
        raise click.ClickException(f"cannot read {exc.filename}: {exc.strerror}") from exc
    _show(report, as_json)


def register(cli: click.Group) -> None:
    cli.add_command(kpi_group)
