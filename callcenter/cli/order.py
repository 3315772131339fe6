"""``callcenter order``: work orders from the command line (list, show, the front-desk KPI)."""

from __future__ import annotations

from typing import Any

import click

from callcenter.cli.common import get_config, parse_time, print_json

# The CLI acts with the database owner's authority: it reads everything.
CLI_ACTOR_ROLE = "admin"


def _services(ctx: click.Context):  # type: ignore[no-untyped-def]
    from callcenter.store.db import Database
    from callcenter.workorders.services import Services

    config = get_config(ctx)
    return Database(config.effective_database_url), Services.for_config(config)


def _cli_actor():  # type: ignore[no-untyped-def]
    import getpass

    from callcenter.auth.services import Actor

    return Actor(0, f"cli:{getpass.getuser()}", CLI_ACTOR_ROLE)


@click.group("order")
def order_group() -> None:
    """Work orders (工单)."""


@order_group.command("list")
@click.option("--state", default=None)
@click.option("--due", type=click.Choice(["overdue", "due_soon", "flagged"]), default=None,
              help="Only open orders near or past their deadline.")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.option("--show-numbers", is_flag=True, help="Print callers' numbers in full (personal data).")
@click.pass_context
def list_orders(ctx: click.Context, state: str | None, due: str | None, limit: int, as_json: bool,
                show_numbers: bool) -> None:
    """Newest orders first (or the most urgent first with --due)."""
    from callcenter.desk.views import order_brief
    from callcenter.workorders.states import WorkOrderError

    db, svc = _services(ctx)
    try:
        with db.session() as session:
            rows = [{**order_brief(o, mask=not show_numbers), "due": svc.due(o)}
                    for o in svc.list_orders(session, _cli_actor(), state=state, due=due, limit=limit)]
    except (WorkOrderError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        db.dispose()
    if as_json:
        print_json(rows)
        return
    for r in rows:
        flag = {"overdue": " OVERDUE", "due_soon": " due soon"}.get(r["due"], "")
        click.echo(f"{r['number']}  {r['state']:<12} {r['source']:<9} {r['category'] or '-':<22} "
                   f"{r['department'] or '-':<10} {r['title'][:30]}{flag}")


@order_group.command("show")
@click.argument("number")
@click.option("--json", "as_json", is_flag=True)
@click.option("--show-numbers", is_flag=True)
@click.pass_context
def show(ctx: click.Context, number: str, as_json: bool, show_numbers: bool) -> None:
    """One order with its full history."""
    from callcenter.desk.views import event_view, order_full
    from callcenter.workorders.states import WorkOrderError

    db, svc = _services(ctx)
    try:
        with db.session() as session:
            o = svc.get(session, number)
            data: dict[str, Any] = {**order_full(o, mask=not show_numbers), "due": svc.due(o),
                                    "calls": [c["linkedid"] for c in svc.calls_of(session, o)],
                                    "history": [event_view(e) for e in svc.history(session, o)]}
    except WorkOrderError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        db.dispose()
    if as_json:
        print_json(data)
        return
    for key in ("number", "state", "source", "hotline", "caller_number", "caller_name", "district", "address",
                "category", "urgency", "handling_mode", "department", "deadline_at", "closed_at", "content"):
        click.echo(f"{key:>14}: {data.get(key) if data.get(key) is not None else '-'}")
    click.echo("history:")
    for e in data["history"]:
        click.echo(f"  {e['at']:.3f} {e['actor']} ({e['role']}) {e['action']}: {e['from_state']} → {e['to_state']}"
                   f" {e['detail'] or ''}")


@order_group.command("kpi")
@click.option("--since", metavar="T")
@click.option("--until", metavar="T")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def kpi(ctx: click.Context, since: str | None, until: str | None, as_json: bool) -> None:
    """Front-desk on-time closure: immediate/coordinated orders closed within their limit."""
    config = get_config(ctx)
    db, svc = _services(ctx)
    try:
        with db.session() as session:
            data = svc.front_desk_on_time(session, parse_time(since, config.timezone),
                                          parse_time(until, config.timezone))
    finally:
        db.dispose()
    if as_json:
        print_json(data)
        return
    rate = "-" if data["rate"] is None else f"{data['rate']}%"
    click.echo(f"front-desk on-time closure: {rate} ({data['closed_on_time']}/{data['orders']})")


def register(cli: click.Group) -> None:
    cli.add_command(order_group)
