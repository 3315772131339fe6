"""``callcenter ami capture``: write the raw AMI byte stream to a file, for audit and KPI replay."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import click

from callcenter.cli.common import get_config


@click.group("ami")
def ami_group() -> None:
    """Asterisk Manager Interface tools."""


@ami_group.command("capture")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
@click.option("--duration", type=float, default=None, metavar="SECONDS", help="Stop after SECONDS.")
@click.pass_context
def capture(ctx: click.Context, file: str, duration: float | None) -> None:
    """Append everything Asterisk sends on AMI to FILE (exactly as received) until interrupted."""
    from callcenter.asterisk.ami.client import AmiClient

    config = get_config(ctx)

    async def main() -> None:
        with open(file, "ab", buffering=0) as out:
            client = AmiClient(config.ami.host, config.ami.port, config.ami.username, config.ami.secret,
                               on_event=lambda _m: None, capture=out)
            client.start()
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            waits: list[Any] = [asyncio.ensure_future(stop.wait())]
            await asyncio.wait(waits, timeout=duration)
            for w in waits:
                w.cancel()
            await client.stop()

    asyncio.run(main())
    click.echo(f"capture written to {file}", err=True)


def register(cli: click.Group) -> None:
    cli.add_command(ami_group)
