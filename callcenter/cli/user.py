"""``callcenter user``: people and platforms who use the web and the API."""

from __future__ import annotations

import click

from callcenter.cli.common import get_config, print_json


def _db(ctx: click.Context):  # type: ignore[no-untyped-def]
    from callcenter.cli.audit import open_db

    # the configured password policy, and the CLI user as the audited actor
    return open_db(ctx)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return click.get_text_stream("stdin").readline().rstrip("\n")
    return click.prompt("password", hide_input=True, confirmation_prompt=True)


@click.group("user")
def user_group() -> None:
    """Users: agents, team leaders, inspectors, department handlers, admins, API clients."""


@user_group.command("add")
@click.argument("username")
@click.option("--role", required=True,
              type=click.Choice(["agent", "team_leader", "quality_inspector", "department", "admin", "api_client"]))
@click.option("--name", "display_name", default="", help="Display name.")
@click.option("--agent", "agent_id", default=None, help="ACD agent id (softphone) for agents and team leaders.")
@click.option("--department", default=None, help="Department code (department users, platforms acting for one).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_context
def add(ctx: click.Context, username: str, role: str, display_name: str, agent_id: str | None,
        department: str | None, password_stdin: bool) -> None:
    """Add a user (people get a password; api_client users get tokens with 'user token')."""
    from callcenter.auth import services as auth
    from callcenter.auth.passwords import WeakPassword

    config = get_config(ctx)
    if department and department not in config.desk.workorders.department_codes():
        raise click.ClickException(f"unknown department {department!r} "
                                   f"({', '.join(config.desk.workorders.department_codes())})")
    password = None if role == "api_client" else _password(password_stdin)
    db = _db(ctx)
    try:
        with db.session() as session:
            auth.create_user(session, username, role, password, display_name, agent_id, department)
    except (auth.AuthError, WeakPassword) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        db.dispose()
    click.echo(f"user {username} added ({role})")


@user_group.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True)
@click.pass_context
def passwd(ctx: click.Context, username: str, password_stdin: bool) -> None:
    """Set a user's password (ends their sessions)."""
    from callcenter.auth import services as auth
    from callcenter.auth.passwords import WeakPassword

    password = _password(password_stdin)
    db = _db(ctx)
    try:
        with db.session() as session:
            auth.set_password(session, username, password)
    except (auth.AuthError, WeakPassword) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        db.dispose()
    click.echo(f"password of {username} changed")


@user_group.command("token")
@click.argument("username")
@click.pass_context
def token(ctx: click.Context, username: str) -> None:
    """Issue a bearer token for an api_client user (printed once; only its digest is stored)."""
    from callcenter.auth import services as auth

    db = _db(ctx)
    try:
        with db.session() as session:
            value = auth.create_token(session, username)
    except auth.AuthError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        db.dispose()
    click.echo(value)


@user_group.command("disable")
@click.argument("username")
@click.pass_context
def disable(ctx: click.Context, username: str) -> None:
    """Deactivate a user: sessions end, tokens are revoked."""
    from callcenter.auth import services as auth

    db = _db(ctx)
    try:
        with db.session() as session:
            auth.set_active(session, username, False)
    except auth.AuthError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        db.dispose()
    click.echo(f"user {username} disabled")


@user_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_users(ctx: click.Context, as_json: bool) -> None:
    """Every user with role, agent id, department and whether active."""
    from callcenter.auth import services as auth

    db = _db(ctx)
    try:
        with db.session() as session:
            rows = [{"username": u.username, "display_name": u.display_name, "role": u.role,
                     "agent_id": u.agent_id, "department": u.department, "active": u.active}
                    for u in auth.list_users(session)]
    finally:
        db.dispose()
    if as_json:
        print_json(rows)
        return
    for r in rows:
        click.echo(f"{r['username']:<16} {r['role']:<18} agent {r['agent_id'] or '-':<6} "
                   f"dept {r['department'] or '-':<10} {'active' if r['active'] else 'disabled'}")


def register(cli: click.Group) -> None:
    from callcenter.cli.audit import add_user_commands

    add_user_commands(user_group)
    cli.add_command(user_group)


@user_group.command("unlock")
@click.argument("username")
@click.pass_context
def unlock(ctx: click.Context, username: str) -> None:
    """Lift the sign-in locks of USERNAME from every address (failed sign-ins; see README, Security)."""
    from callcenter.auth import lockout

    db = _db(ctx)
    try:
        with db.session() as session:
            n = lockout.unlock(session, username)
    finally:
        db.dispose()
    click.echo(f"user {username}: sign-in locks lifted ({n} address{'es' if n != 1 else ''})")
