"""What every CLI command shares: finding the config, parsing times, printing JSON, running AMI."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from callcenter import times
from callcenter.config import Config, ConfigError, load_config

T = TypeVar("T")

CONFIG_SEARCH = ("callcenter.yaml", ".run/sandbox/callcenter.yaml", "/etc/callcenter/callcenter.yaml")


def find_config(explicit: str | None) -> str | None:
    """--config, else $CALLCENTER_CONFIG, else the first of CONFIG_SEARCH that exists."""
    if explicit:
        return explicit
    if os.environ.get("CALLCENTER_CONFIG"):
        return os.environ["CALLCENTER_CONFIG"]
    for candidate in CONFIG_SEARCH:
        if Path(candidate).exists():
            return candidate
    return None


def get_config(ctx: click.Context) -> Config:
    obj = ctx.ensure_object(dict)
    if "config" not in obj:
        try:
            obj["config"] = load_config(find_config(obj.get("config_path")))
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from exc
    return obj["config"]


def parse_time(value: str | None, tz: str) -> datetime | None:
    """:func:`callcenter.times.parse_time` with a click error for bad input."""
    try:
        return times.parse_time(value, tz)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=None, sort_keys=False))


def run_ami(config: Config, fn: Callable[[Any], Awaitable[T]], timeout: float = 5.0) -> T:
    """Open a short AMI session, run ``fn(client)``, close it; clear error if Asterisk is away."""
    from callcenter.asterisk.ami.client import AmiClient, AmiError

    async def main() -> T:
        client = AmiClient(config.ami.host, config.ami.port, config.ami.username, config.ami.secret,
                           on_event=lambda _m: None, action_timeout_s=min(timeout, config.ami.action_timeout_s))
        where = f"Asterisk AMI at {config.ami.host}:{config.ami.port}"
        try:
            await client.open()
        except (OSError, TimeoutError) as exc:
            raise click.ClickException(f"cannot reach {where} ({exc}): is Asterisk running?") from exc
        except AmiError as exc:
            raise click.ClickException(f"{where} refused us ({exc}): check ami.username/secret") from exc
        try:
            return await fn(client)
        except AmiError as exc:
            raise click.ClickException(str(exc)) from exc
        finally:
            await client.close()

    return asyncio.run(main())


def fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def ago(ts: float | None) -> str:
    if not ts:
        return "-"
    return f"{int(time.time() - ts)}s"


async def live_snapshot(client: Any) -> Any:
    """A LiveState filled from one QueueStatus (what Asterisk reports right now)."""
    from callcenter.acd.live import LiveState
    from callcenter.asterisk.ami.translate import queue_status_snapshot

    msgs = await client.action({"Action": "QueueStatus"}, as_list=True)
    live = LiveState()
    live.resync(queue_status_snapshot(msgs, time.time()))
    return live

