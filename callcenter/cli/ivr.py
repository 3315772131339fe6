"""``callcenter ivr validate|reload|show``: check, apply and picture the IVR flows."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

import click

from callcenter.cli.common import get_config


@click.group("ivr")
def ivr_group() -> None:
    """IVR flows (ivr_flows/*.yaml)."""


@ivr_group.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.pass_context
def validate(ctx: click.Context, paths: tuple[str, ...]) -> None:
    """Check flow files as one set (default: ivr.flows_dir); print file:line: node: message per problem."""
    from callcenter.ivr.plugin import load_flows

    config = get_config(ctx)
    flows, problems = load_flows(config, list(paths) or None)
    for p in problems:
        click.echo(str(p))
    if flows is None:
        click.echo(f"{len(problems)} problem(s)", err=True)
        sys.exit(1)
    click.echo(f"ok: {len(flows.flows)} flow(s) ({', '.join(sorted(flows.flows))}), "
               f"{len(flows.calendars)} calendar(s), version {flows.version}", err=True)


@ivr_group.command("reload")
@click.pass_context
def reload(ctx: click.Context) -> None:
    """Ask the running daemon to validate and swap in the flows (nothing changes if any is broken)."""
    config = get_config(ctx)
    url = f"{config.web.base_url}/ivr/reload"
    req = urllib.request.Request(url, method="POST", data=b"",
                                 headers={"Authorization": f"Bearer {config.web.ops_token}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            body = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        if exc.code != 422:
            raise click.ClickException(f"{url}: HTTP {exc.code}: {exc.read().decode(errors='replace')}") from exc
        body = json.loads(exc.read())
    except (urllib.error.URLError, OSError) as exc:
        raise click.ClickException(f"cannot reach the daemon at {url} ({exc}): is it running?") from exc
    if not body["ok"]:
        for p in body["problems"]:
            click.echo(p)
        click.echo(f"reload refused; version {body['version']} stays in force", err=True)
        sys.exit(1)
    state = "now in force" if body.get("changed") else "unchanged"
    click.echo(f"version {body['version']} {state}: {', '.join(body['flows'])}")


@ivr_group.command("show")
@click.argument("flow")
@click.option("-o", "--output", metavar="FILE", help="Where to write (default FLOW.FORMAT; '-' for stdout).")
@click.option("-f", "--format", "fmt", type=click.Choice(["svg", "png", "dot"]), default=None,
              help="Picture format (default: from the output's extension, else svg).")
@click.pass_context
def show(ctx: click.Context, flow: str, output: str | None, fmt: str | None) -> None:
    """Draw FLOW as a picture with Graphviz."""
    from callcenter.ivr import graph
    from callcenter.ivr.plugin import load_flows

    config = get_config(ctx)
    flows, problems = load_flows(config)
    if flows is None:
        for p in problems:
            click.echo(str(p), err=True)
        raise click.ClickException("the flows do not validate (see above)")
    if flow not in flows.flows:
        raise click.ClickException(f"no flow named {flow!r} (have: {', '.join(sorted(flows.flows))})")
    fmt = fmt or (Path(output).suffix.lstrip(".") if output and output != "-" else "") or "svg"
    if fmt not in ("svg", "png", "dot"):
        raise click.ClickException(f"unknown picture format {fmt!r}")
    text = graph.to_dot(flows.flows[flow])
    try:
        data = text.encode() if fmt == "dot" else graph.render(text, fmt)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc
    if output == "-":
        sys.stdout.buffer.write(data)
        return
    target = Path(output or f"{flow}.{fmt}")
    target.write_bytes(data)
    click.echo(f"wrote {target}", err=True)


def register(cli: click.Group) -> None:
    cli.add_command(ivr_group)
