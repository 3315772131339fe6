"""``callcenter queue status``: callers waiting (with wait times) and agents, live from Asterisk."""

from __future__ import annotations

import time

import click

from callcenter.cli.common import get_config, live_snapshot, print_json, run_ami
from callcenter.logs import mask_number


@click.group("queue")
def queue_group() -> None:
    """ACD queues."""


@queue_group.command("status")
@click.option("-q", "--queue", "only", default=None, help="Only this queue.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--watch", type=float, default=None, metavar="SECONDS", help="Refresh every SECONDS.")
@click.option("--show-numbers", is_flag=True, help="Print callers' numbers in full (personal data).")
@click.pass_context
def status(ctx: click.Context, only: str | None, as_json: bool, watch: float | None, show_numbers: bool) -> None:
    """Show who waits in each queue and what each agent is doing."""
    config = get_config(ctx)
    while True:
        live = run_ami(config, live_snapshot)
        now = time.time()
        view = live.view(now)
        queues = {q: v for q, v in view["queues"].items() if only in (None, q)}
        for v in queues.values():
            for caller in v["waiting"]:
                if not show_numbers:
                    caller["caller_number"] = mask_number(caller["caller_number"])
        if as_json:
            params = {q: {"servicelevel_perf": p.servicelevel_perf, "servicelevel_perf2": p.servicelevel_perf2,
                          "completed": p.completed, "abandoned": p.abandoned, "holdtime": p.holdtime}
                      for q, p in live.queue_params.items() if only in (None, q)}
            print_json({"queues": queues, "agents": view["agents"], "asterisk": params})
        else:
            _print(queues, view["agents"], live.queue_params)
        if watch is None:
            return
        time.sleep(watch)
        click.clear()


def _print(queues: dict, agents: dict, params: dict) -> None:
    for name, q in queues.items():
        p = params.get(name)
        extra = (f"  completed {p.completed}, abandoned {p.abandoned}, SL {p.servicelevel_perf:.1f}%"
                 if p else "")
        click.echo(f"queue {name}: {len(q['waiting'])} waiting{extra}")
        for caller in q["waiting"]:
            ringing = f"  ringing {caller['ringing_agent']}" if caller.get("ringing_agent") else ""
            click.echo(f"  #{caller['position']} {caller['caller_name'] or '-'} {caller['caller_number']} "
                       f"waiting {caller['wait_s']}s{ringing}")
        for agent in q["agents"]:
            a = agents[agent]
            reason = f" ({a['pause_reason']})" if a["pause_reason"] else ""
            click.echo(f"  agent {agent}: {a['state']}{reason}")


def register(cli: click.Group) -> None:
    cli.add_command(queue_group)
