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


def _window(ctx: click.Context, since: str | None, until: str | None):  # type: ignore[no-untyped-def]
    from callcenter.kpi.registry import Window

    config = get_config(ctx)
    return config, Window(parse_time(since, config.timezone), parse_time(until, config.timezone))


@kpi_group.command("all")
@click.option("--since", metavar="T", help="From T (each KPI's window basis is in its definition).")
@click.option("--until", metavar="T", help="Until T (exclusive).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def all_kpis(ctx: click.Context, since: str | None, until: str | None, as_json: bool) -> None:
    """The nine contract KPIs: target, actual, numerator/denominator (or why one is not measured)."""
    from callcenter.kpi.registry import compute_all
    from callcenter.store.db import Database

    config, window = _window(ctx, since, until)
    db = Database(config.effective_database_url)
    try:
        with db.session() as session:
            data = compute_all(session, window, config)
    finally:
        db.dispose()
    if as_json:
        print_json(data)
        return
    for k in data["kpis"]:
        target = f"{k['comparison']} {k['target']:g}%"
        if k["status"] == "unavailable":
            click.echo(f"{k['id']}. {k['name_en']} ({k['name_zh']}), target {target}: not measured: {k['reason']}")
            continue
        value = "n/a" if k["value"] is None else f"{k['value']:.2f}%"
        flag = {True: "met", False: "MISSED", None: "no data"}[k["met"]]
        click.echo(f"{k['id']}. {k['name_en']} ({k['name_zh']}): {value} ({k['numerator']}/{k['denominator']}), "
                   f"target {target}: {flag}")


@kpi_group.command("cases")
@click.argument("kpi")
@click.option("--since", metavar="T")
@click.option("--until", metavar="T")
@click.option("--failed", is_flag=True, help="Only the cases that count against the KPI.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most N cases.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def cases(ctx: click.Context, kpi: str, since: str | None, until: str | None, failed: bool, limit: int | None,
          as_json: bool) -> None:
    """The very records a KPI counted (KPI is its number or key, e.g. 1 or answer_rate_15s)."""
    import json

    from callcenter.kpi.registry import get
    from callcenter.store.db import Database

    try:
        definition = get(kpi)
    except KeyError:
        raise click.BadParameter(f"unknown KPI {kpi!r} (see `callcenter kpi all`)", param_hint="KPI") from None
    if definition.cases is None:
        raise click.ClickException(f"KPI {definition.id} is not measured yet: {definition.unavailable}")
    config, window = _window(ctx, since, until)
    db = Database(config.effective_database_url)
    shown = 0
    try:
        with db.session() as session:
            for case in definition.cases(session, window, config):
                if failed and case.ok:
                    continue
                if as_json:
                    click.echo(json.dumps({"kind": case.kind, "id": case.id, "ok": case.ok, "at": case.at,
                                           "note": case.note}, ensure_ascii=False))
                else:
                    click.echo(f"{case.kind} {case.id} {'ok' if case.ok else 'against'} {case.note}")
                shown += 1
                if limit is not None and shown >= limit:
                    break
    finally:
        db.dispose()


def register(cli: click.Group) -> None:
    cli.add_command(kpi_group)
