"""``callcenter agent``: log agents in and out of queues, pause and unpause them (through AMI).

The daemon records every change as agent sessions and pauses from the resulting AMI events, so the
CLI, the web desktop and anything else acting on Asterisk are recorded the same way.
"""

from __future__ import annotations

from typing import Any

import click

from callcenter.acd import commands as c
from callcenter.cli.common import ago, get_config, live_snapshot, print_json, run_ami
from callcenter.config import Config


def _known(config: Config, agent: str) -> None:
    try:
        config.agent(agent)
    except KeyError:
        known = ", ".join(a.id for a in config.agents)
        raise click.ClickException(f"unknown agent {agent!r} (configured agents: {known})") from None


def _queues(config: Config, agent: str, given: tuple[str, ...]) -> tuple[str, ...]:
    names = {q.name for q in config.queues}
    for q in given:
        if q not in names:
            raise click.ClickException(f"unknown queue {q!r} (queues: {', '.join(sorted(names))})")
    return given or config.agent_queues(agent)


async def _execute(client: Any, commands: list[c.AcdCommand]) -> None:
    from callcenter.asterisk.ami.actions import action_for

    for cmd in commands:
        await client.action(action_for(cmd))


@click.group("agent")
def agent_group() -> None:
    """Agents: login, logout, pause (with a reason), unpause, list."""


@agent_group.command("login")
@click.argument("agent")
@click.option("-q", "--queue", "queues", multiple=True, help="Queue(s); default: the agent's configured skills.")
@click.option("--paused", is_flag=True, help="Log in paused.")
@click.option("--reason", default="", help="Pause reason when logging in paused.")
@click.pass_context
def login(ctx: click.Context, agent: str, queues: tuple[str, ...], paused: bool, reason: str) -> None:
    """Log AGENT in to queues (QueueAdd)."""
    config = get_config(ctx)
    _known(config, agent)
    targets = _queues(config, agent, queues)
    iface = c.interface_of(agent)
    penalty = config.agent(agent).penalty

    async def work(client: Any) -> list[str]:
        live = await live_snapshot(client)
        already = set(live.agents[agent].memberships) if agent in live.agents else set()
        todo = [q for q in targets if q not in already]
        await _execute(client, [c.LoginAgent(agent, q, iface, penalty, paused, reason) for q in todo])
        return todo

    done = run_ami(config, work)
    click.echo(f"agent {agent} logged in to {', '.join(targets)}" + ("" if done else " (already)"))


@agent_group.command("logout")
@click.argument("agent")
@click.option("-q", "--queue", "queues", multiple=True, help="Queue(s); default: every queue the agent is in.")
@click.pass_context
def logout(ctx: click.Context, agent: str, queues: tuple[str, ...]) -> None:
    """Log AGENT out of queues (QueueRemove)."""
    config = get_config(ctx)
    _known(config, agent)

    async def work(client: Any) -> list[str]:
        live = await live_snapshot(client)
        member_of = set(live.agents[agent].memberships) if agent in live.agents else set()
        targets = [q for q in (queues or sorted(member_of)) if q in member_of]
        await _execute(client, [c.LogoutAgent(agent, q, c.interface_of(agent)) for q in targets])
        return targets

    done = run_ami(config, work)
    click.echo(f"agent {agent} logged out of {', '.join(done)}" if done else f"agent {agent} was not logged in")


@agent_group.command("pause")
@click.argument("agent")
@click.option("--reason", required=True, help=f"Why (e.g. {', '.join(c.PAUSE_REASONS)}).")
@click.option("-q", "--queue", default=None, help="Only this queue (default: all).")
@click.pass_context
def pause(ctx: click.Context, agent: str, reason: str, queue: str | None) -> None:
    """Pause AGENT with a reason (QueuePause)."""
    config = get_config(ctx)
    _known(config, agent)
    if queue:
        _queues(config, agent, (queue,))
    run_ami(config, lambda client: _execute(client, [c.PauseAgent(agent, c.interface_of(agent), reason, queue)]))
    click.echo(f"agent {agent} paused ({reason})")


@agent_group.command("unpause")
@click.argument("agent")
@click.option("-q", "--queue", default=None, help="Only this queue (default: all).")
@click.pass_context
def unpause(ctx: click.Context, agent: str, queue: str | None) -> None:
    """Make AGENT ready again (QueuePause false)."""
    config = get_config(ctx)
    _known(config, agent)
    run_ami(config, lambda client: _execute(client, [c.UnpauseAgent(agent, c.interface_of(agent), queue)]))
    click.echo(f"agent {agent} ready")


@agent_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_agents(ctx: click.Context, as_json: bool) -> None:
    """Every configured agent and what they are doing now."""
    config = get_config(ctx)
    live = run_ami(config, live_snapshot)
    rows = []
    for a in config.agents:
        state = live.agents.get(a.id)
        view = live.agent_view(state) if state else {"agent": a.id, "state": "logged_out", "queues": [],
                                                      "pause_reason": "", "logged_in_at": None}
        rows.append({**view, "name": a.name})
    if as_json:
        print_json(rows)
        return
    for row in rows:
        reason = f" ({row['pause_reason']})" if row["pause_reason"] else ""
        click.echo(f"{row['agent']:<8} {row['state']}{reason:<20} queues: {','.join(row['queues']) or '-'}"
                   f"  logged in: {ago(row['logged_in_at'])}")


def register(cli: click.Group) -> None:
    cli.add_command(agent_group)
