"""``callcenter call``: call controls from the command line, with the same checks as the desk.

``hangup|hold|resume AGENT``, ``transfer AGENT TARGET [--attended]``, ``transfer-complete AGENT``,
``conference AGENT TARGET``, ``dial AGENT NUMBER [--order N]``, ``spy LEADER AGENT --mode listen``,
``state AGENT``, ``actions [--linkedid L]``. TARGET: ``agent:ID``, ``queue:NAME``, ``book:KEY``,
``number:DIGITS``. Every control is recorded in ``call_actions`` (actor ``cli:<user>``).
"""

from __future__ import annotations

import getpass
from collections.abc import Awaitable, Callable
from typing import Any

import click

from callcenter.cli.common import get_config, print_json, run_ami
from callcenter.config import Config


def _run(ctx: click.Context, op: str, *args: Any, as_json: bool = False) -> None:
    from callcenter.asterisk.ami.callcontrol import AmiCallControl
    from callcenter.callctl.addressbook import AddressBook
    from callcenter.callctl.numbers import CallRefusal
    from callcenter.callctl.plugin import action_row, book_path
    from callcenter.callctl.services import ActionRecord, CallControl
    from callcenter.dialer.service import Dialer
    from callcenter.store.db import Database

    config: Config = get_config(ctx)
    db = Database(config.effective_database_url)

    async def record(rec: ActionRecord) -> None:
        with db.session() as session:  # a short CLI run: blocking here is fine
            session.add(action_row(rec))

    async def work(client: Any) -> Any:
        c = config.callctl
        trunks = config.asterisk.trunks
        control = CallControl(AmiCallControl(client, trunks[0].name if trunks else "carrier"),
                              AddressBook(book_path(config)),
                              Dialer(c.hotline_number, c.max_outbound, c.outbound_interval_s),
                              {q.name for q in config.queues}, {a.id for a in config.agents}, record,
                              c.allow_free_numbers)
        method: Callable[..., Awaitable[Any]] = getattr(control, op)
        if op == "state":
            return await method(*args)
        return await method(f"cli:{getpass.getuser()}"[:64], *args)

    try:
        result = run_ami(config, work)
    except CallRefusal as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        db.dispose()
    if as_json:
        print_json(result)
    else:
        click.echo(" ".join(f"{k}={v}" for k, v in result.items() if v not in (None, "")))


@click.group("call")
def call_group() -> None:
    """Call controls: hang up, hold, resume, transfer, three-way, click-to-call, listen-in."""


@call_group.command("state")
@click.argument("agent")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def state(ctx: click.Context, agent: str, as_json: bool) -> None:
    """AGENT's phone: registered, unreachable, ringing, talking, on hold … and the call's seconds."""
    _run(ctx, "state", agent, as_json=as_json)


@call_group.command("hangup")
@click.argument("agent")
@click.pass_context
def hangup(ctx: click.Context, agent: str) -> None:
    """Hang up AGENT's current call."""
    _run(ctx, "hangup", agent)


@call_group.command("hold")
@click.argument("agent")
@click.pass_context
def hold(ctx: click.Context, agent: str) -> None:
    """Put the caller of AGENT's current call on hold (the caller hears music)."""
    _run(ctx, "hold", agent)


@call_group.command("resume")
@click.argument("agent")
@click.pass_context
def resume(ctx: click.Context, agent: str) -> None:
    """Take AGENT's caller off hold (also ends a consultation)."""
    _run(ctx, "resume", agent)


@call_group.command("transfer")
@click.argument("agent")
@click.argument("target")
@click.option("--attended", is_flag=True, help="Consult the target first (complete with transfer-complete).")
@click.pass_context
def transfer(ctx: click.Context, agent: str, target: str, attended: bool) -> None:
    """Transfer AGENT's caller to TARGET (agent:ID, queue:NAME, book:KEY, number:DIGITS)."""
    _run(ctx, "transfer", agent, target, attended)


@call_group.command("transfer-complete")
@click.argument("agent")
@click.pass_context
def transfer_complete(ctx: click.Context, agent: str) -> None:
    """Join AGENT's caller with the consulted target; AGENT's leg ends."""
    _run(ctx, "complete_transfer", agent)


@call_group.command("conference")
@click.argument("agent")
@click.argument("target")
@click.pass_context
def conference(ctx: click.Context, agent: str, target: str) -> None:
    """Three-way call: bring TARGET into AGENT's call (AGENT may then hang up or stay)."""
    _run(ctx, "conference", agent, target)


@call_group.command("dial")
@click.argument("agent")
@click.argument("number")
@click.option("--order", default="", help="The work order the call is about.")
@click.pass_context
def dial(ctx: click.Context, agent: str, number: str, order: str) -> None:
    """Click-to-call: ring AGENT's phone, then NUMBER with the hotline number as caller id."""
    _run(ctx, "dial", agent, number, order)


@call_group.command("spy")
@click.argument("leader")
@click.argument("agent")
@click.option("--mode", type=click.Choice(["listen", "whisper", "barge"]), default="listen", show_default=True)
@click.pass_context
def spy(ctx: click.Context, leader: str, agent: str, mode: str) -> None:
    """Listen in on AGENT's call from LEADER's phone (whisper: AGENT hears LEADER; barge: both do)."""
    _run(ctx, "spy", leader, agent, mode)


@call_group.command("actions")
@click.option("--linkedid", default="")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def actions(ctx: click.Context, linkedid: str, limit: int, as_json: bool) -> None:
    """The recorded call controls (newest first), of one call with --linkedid."""
    from sqlalchemy import select

    from callcenter.callctl.models import CallAction
    from callcenter.callctl.plugin import action_view
    from callcenter.store.db import Database

    config = get_config(ctx)
    db = Database(config.effective_database_url)
    try:
        with db.session() as session:
            q = select(CallAction).order_by(CallAction.id.desc()).limit(max(1, min(limit, 1000)))
            if linkedid:
                q = q.where(CallAction.linkedid == linkedid[:64])
            rows = [action_view(r) for r in session.scalars(q)]
    finally:
        db.dispose()
    if as_json:
        print_json(rows)
        return
    click.echo("at\tactor\tagent\taction\ttarget\tresult\tlinkedid\tdetail")
    for r in rows:
        click.echo("\t".join(str(r[k] or "") for k in ("at", "actor", "agent", "action", "target", "result",
                                                     "linkedid", "detail")))


def register(cli: click.Group) -> None:
    cli.add_command(call_group)
