"""``callcenter db``: schema migrations."""

from __future__ import annotations

import click

from callcenter.cli.common import get_config
from callcenter.store import migrate


@click.group("db")
def db_group() -> None:
    """Database schema (Alembic migrations)."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
@click.pass_context
def upgrade(ctx: click.Context, revision: str) -> None:
    """Migrate the database to REVISION (default: the newest)."""
    url = get_config(ctx).effective_database_url
    migrate.upgrade(url, revision)
    click.echo(f"database at revision {migrate.current_revision(url)}")


@db_group.command("downgrade")
@click.argument("revision")
@click.pass_context
def downgrade(ctx: click.Context, revision: str) -> None:
    """Migrate the database back to REVISION ('base' removes every table)."""
    url = get_config(ctx).effective_database_url
    migrate.downgrade(url, revision)
    click.echo(f"database at revision {migrate.current_revision(url)}")


@db_group.command("current")
@click.pass_context
def current(ctx: click.Context) -> None:
    """Show the database's revision and the newest one."""
    url = get_config(ctx).effective_database_url
    click.echo(f"current: {migrate.current_revision(url)}  head: {migrate.head_revision()}")


def register(cli: click.Group) -> None:
    cli.add_command(db_group)
