"""``callcenter sms``: send, list, status, templates, opt-out list, and the standalone outbox worker."""

from __future__ import annotations

import time
from typing import Any

import click

from callcenter.cli.common import fail, get_config, print_json
from callcenter.logs import mask_number


def _db(ctx: click.Context) -> Any:
    from callcenter.store.db import Database

    return Database(get_config(ctx).effective_database_url)


def _who() -> str:
    import getpass

    return f"cli:{getpass.getuser()}"


def _row(m: Any, show: bool) -> dict[str, Any]:
    return {"id": m.id, "number": m.number if show else mask_number(m.number), "state": m.state,
            "template": m.template, "order": m.order_number, "encoding": m.encoding, "segments": m.segments,
            "attempts": m.attempts, "created_at": m.created_at.isoformat() + "Z",
            "sent_at": m.sent_at.isoformat() + "Z" if m.sent_at else None,
            "delivered_at": m.delivered_at.isoformat() + "Z" if m.delivered_at else None,
            "last_error": m.last_error, "key": m.idempotency_key}


@click.group("sms")
def sms_group() -> None:
    """SMS service (短信服务): outbox, templates, do-not-SMS list."""


@sms_group.command("send")
@click.argument("number")
@click.option("--text", default=None, help="The message text (or --template).")
@click.option("--template", default=None, help="order_receipt, callback_notice, survey_link, handled_notice")
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE", help="A template placeholder's value.")
@click.option("--order", "order_number", default=None, help="Put the message on this order's history.")
@click.option("--key", default=None, help="Idempotency key (default: a new one); the same key is queued once.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def send(ctx: click.Context, number: str, text: str | None, template: str | None, variables: tuple[str, ...],
         order_number: str | None, key: str | None, as_json: bool) -> None:
    """Queue a message (the daemon's dispatcher sends it)."""
    import uuid

    from callcenter.sms import outbox
    from callcenter.sms.templates import TemplateError

    settings = get_config(ctx).sms
    if bool(text) == bool(template):
        fail("give either --text or --template")
    values = dict(v.split("=", 1) for v in variables if "=" in v)
    key = key or f"cli:{uuid.uuid4()}"
    try:
        with _db(ctx).session() as s:
            if template:
                m, new = outbox.enqueue_template(s, settings, number, template, values, key,
                                                 order_number=order_number, created_by=_who())
            else:
                m, new = outbox.enqueue(s, settings, number, text or "", key, order_number=order_number,
                                        created_by=_who())
            row = _row(m, False)
    except (outbox.SmsError, TemplateError) as exc:
        fail(str(exc))
        return
    if as_json:
        print_json({**row, "new": new})
    else:
        click.echo(f"{'queued' if new else 'already queued'}: #{row['id']} {row['state']} "
                   f"({row['encoding']}, {row['segments']} part(s))")


@sms_group.command("list")
@click.option("--number", default=None)
@click.option("--order", "order_number", default=None)
@click.option("--state", default=None)
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.option("--show-numbers", is_flag=True, help="Print numbers in full (personal data).")
@click.pass_context
def list_cmd(ctx: click.Context, number: str | None, order_number: str | None, state: str | None, limit: int,
             as_json: bool, show_numbers: bool) -> None:
    """Messages, newest first."""
    from callcenter.sms import outbox

    with _db(ctx).session() as s:
        rows = [_row(m, show_numbers) for m in outbox.list_messages(s, number, order_number, state, limit)]
        totals = outbox.counts(s)
    if as_json:
        print_json({"messages": rows, "counts": totals})
        return
    for r in rows:
        click.echo(f"#{r['id']:<6} {r['state']:<9} {r['number']:<14} {r['template'] or '-':<16} "
                   f"{r['order'] or '-':<18} {r['segments']}p {r['attempts']}x {r['last_error']}")
    click.echo("counts: " + ", ".join(f"{k} {v}" for k, v in sorted(totals.items())))


@sms_group.command("status")
@click.argument("message_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.option("--show-numbers", is_flag=True)
@click.pass_context
def status(ctx: click.Context, message_id: int, as_json: bool, show_numbers: bool) -> None:
    """One message with its events (sent, delivery reports …)."""
    from callcenter.sms import outbox
    from callcenter.sms.models import SmsMessage

    with _db(ctx).session() as s:
        m = s.get(SmsMessage, message_id)
        if m is None:
            fail(f"no message #{message_id}")
            return
        row = {**_row(m, show_numbers), "body": m.body,
               "events": [{"kind": e.kind, "at": e.at.isoformat() + "Z", "detail": e.detail}
                          for e in outbox.events_of(s, m.id)]}
    if as_json:
        print_json(row)
        return
    click.echo(f"#{row['id']} {row['state']} to {row['number']} ({row['segments']} part(s)): {row['body']}")
    for e in row["events"]:
        click.echo(f"  {e['at']} {e['kind']} {e['detail'] or ''}")


@sms_group.group("templates")
def templates_group() -> None:
    """The message templates (edit with `set`; placeholders are checked)."""


@templates_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def templates_list(ctx: click.Context, as_json: bool) -> None:
    from callcenter.sms import outbox

    with _db(ctx).session() as s:
        rows = outbox.list_templates(s)
    if as_json:
        print_json(rows)
        return
    for r in rows:
        click.echo(f"{r['name']:<16} v{r['version']} {r['body']}")


@templates_group.command("set")
@click.argument("name")
@click.argument("body")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def templates_set(ctx: click.Context, name: str, body: str, as_json: bool) -> None:
    from callcenter.sms import outbox
    from callcenter.sms.templates import TemplateError

    try:
        with _db(ctx).session() as s:
            row = outbox.set_template(s, name, body, _who(), get_config(ctx).sms)
            out = {"name": row.name, "version": row.version, "body": row.body}
    except TemplateError as exc:
        fail(f"template refused: {exc}")
        return
    print_json(out) if as_json else click.echo(f"{out['name']} v{out['version']} saved")


@templates_group.command("reset")
@click.argument("name")
@click.pass_context
def templates_reset(ctx: click.Context, name: str) -> None:
    from callcenter.sms import outbox

    with _db(ctx).session() as s:
        outbox.reset_template(s, name)
    click.echo(f"{name}: default restored")


@sms_group.group("optout")
def optout_group() -> None:
    """The do-not-SMS list (citizens who replied TD / 退订, or were added here)."""


@optout_group.command("add")
@click.argument("number")
@click.option("--note", default="")
@click.pass_context
def optout_add(ctx: click.Context, number: str, note: str) -> None:
    from callcenter.sms import outbox

    try:
        with _db(ctx).session() as s:
            added = outbox.opt_out(s, number, "cli", note)
    except outbox.SmsError as exc:
        fail(str(exc))
        return
    click.echo("added" if added else "already on the list")


@optout_group.command("remove")
@click.argument("number")
@click.pass_context
def optout_remove(ctx: click.Context, number: str) -> None:
    from callcenter.sms import outbox

    with _db(ctx).session() as s:
        removed = outbox.opt_in(s, number)
    click.echo("removed" if removed else "not on the list")


@optout_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.option("--show-numbers", is_flag=True)
@click.pass_context
def optout_list(ctx: click.Context, as_json: bool, show_numbers: bool) -> None:
    from callcenter.sms import outbox

    with _db(ctx).session() as s:
        rows = [{"number": o.number if show_numbers else mask_number(o.number), "at": o.at.isoformat() + "Z",
                 "source": o.source, "note": o.note} for o in outbox.list_optouts(s)]
    if as_json:
        print_json(rows)
        return
    for r in rows:
        click.echo(f"{r['number']:<14} {r['at']} {r['source']} {r['note']}")


@sms_group.command("worker")
@click.option("--port", type=int, default=None, help="Serve the callback routes (/sms/…) on this port.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.pass_context
def worker(ctx: click.Context, port: int | None, host: str) -> None:
    """The outbox dispatcher and the gateway callbacks without the rest of the daemon (scaling out, tests)."""
    from twisted.internet import reactor
    from twisted.web.resource import Resource
    from twisted.web.server import Site

    from callcenter.logs import setup_logging
    from callcenter.sms.plugin import start_dispatcher
    from callcenter.sms.web import CallbackWeb
    from callcenter.store.db import Database

    config = get_config(ctx)
    setup_logging(config.log_level, config.log_format)
    db = Database(config.effective_database_url)
    if port:
        root = Resource()
        root.putChild(b"sms", CallbackWeb(db, config.sms).app.resource())
        site = Site(root)
        site.noisy = False
        reactor.listenTCP(port, site, backlog=1024, interface=host)  # type: ignore[attr-defined]
    dispatcher = start_dispatcher(config, db)
    reactor.addSystemEventTrigger("before", "shutdown", dispatcher.stop)  # type: ignore[attr-defined]
    click.echo(f"sms worker running (pid {__import__('os').getpid()}, {time.strftime('%H:%M:%S')})", err=True)
    reactor.run()  # type: ignore[attr-defined]
    db.dispose()


def register(cli: click.Group) -> None:
    cli.add_command(sms_group)
