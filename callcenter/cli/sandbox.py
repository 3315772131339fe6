"""``callcenter sandbox``: render and run a private Asterisk (tests and development)."""

from __future__ import annotations

import signal
import time

import click

from callcenter.asterisk.sandbox import Sandbox, SandboxError
from callcenter.cli.common import get_config


def _box(ctx: click.Context, run_dir: str, flavour: str | None) -> Sandbox:
    config = get_config(ctx)
    if flavour:
        config = config.with_overrides(asterisk={**config.asterisk.model_dump(), "flavour": flavour})
    try:
        return Sandbox(config, run_dir)
    except SandboxError as exc:
        raise click.ClickException(str(exc)) from exc


run_dir_option = click.option("--run-dir", default=".run/sandbox", show_default=True)
flavour_option = click.option("--flavour", type=click.Choice(["16", "22"]))


@click.group("sandbox")
def sandbox_group() -> None:
    """A private Asterisk rendered from asterisk_conf/ (loopback, own directories)."""


@sandbox_group.command("render")
@run_dir_option
@flavour_option
@click.pass_context
def render(ctx: click.Context, run_dir: str, flavour: str | None) -> None:
    """Write the configuration into the run directory without starting Asterisk."""
    box = _box(ctx, run_dir, flavour)
    box.render()
    click.echo(f"rendered {box.etc_dir}; daemon config {box.config_file}")


@sandbox_group.command("start")
@run_dir_option
@flavour_option
@click.option("--foreground", is_flag=True, help="Stay attached; stop Asterisk on Ctrl-C.")
@click.pass_context
def start(ctx: click.Context, run_dir: str, flavour: str | None, foreground: bool) -> None:
    """Start Asterisk and wait until AMI answers."""
    box = _box(ctx, run_dir, flavour)
    try:
        box.start()
    except SandboxError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Asterisk running from {box.run_dir}; daemon config {box.config_file}")
    if foreground:
        stop = False

        def handler(_sig: int, _frame: object) -> None:
            nonlocal stop
            stop = True

        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)
        while not stop and box.is_running():
            time.sleep(0.2)
        box.stop()


@sandbox_group.command("stop")
@run_dir_option
@flavour_option
@click.pass_context
def stop(ctx: click.Context, run_dir: str, flavour: str | None) -> None:
    """Stop the sandbox's Asterisk."""
    box = _box(ctx, run_dir, flavour)
    box.stop()
    click.echo("stopped")


@sandbox_group.command("status")
@run_dir_option
@flavour_option
@click.pass_context
def status(ctx: click.Context, run_dir: str, flavour: str | None) -> None:
    """Is the sandbox's Asterisk running?"""
    box = _box(ctx, run_dir, flavour)
    if box.is_running():
        click.echo(f"running ({box.install.version()}) from {box.run_dir}")
    else:
        click.echo("stopped")
        ctx.exit(3)


@sandbox_group.command("cli")
@run_dir_option
@flavour_option
@click.argument("command", nargs=-1, required=True)
@click.pass_context
def asterisk_cli(ctx: click.Context, run_dir: str, flavour: str | None, command: tuple[str, ...]) -> None:
    """Run one Asterisk CLI command in the sandbox (e.g. 'pjsip show contacts')."""
    click.echo(_box(ctx, run_dir, flavour).cli(" ".join(command)))


def register(cli: click.Group) -> None:
    cli.add_command(sandbox_group)
