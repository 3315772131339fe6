"""``callcenter db``: schema migrations."""

from __future__ import annotations

import click

from callcenter.cli.common import get_config, print_json
from callcenter.store import migrate


@click.group("db")
def db_group() -> None:
    """Database schema (Alembic migrations)."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
@click.pass_context
def upgrade(ctx: click.Context, revision: str) -> None:
    """Migrate the database to REVISION (default: the newest); creates the data directory if needed."""
    config = get_config(ctx)
    url = config.effective_database_url
    if url.startswith("sqlite"):
        config.data_path.mkdir(parents=True, exist_ok=True, mode=0o700)
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


@db_group.command("dead-letters")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--retry", is_flag=True, help="Write them again; those the database now takes are removed.")
@click.pass_context
def dead_letters(ctx: click.Context, as_json: bool, retry: bool) -> None:
    """Rows the database refused for their content (set aside by the writer so the rest went on).

    They are in the dead_letters table, or in dead-letters.jsonl in the data directory when even
    that table refused them. --retry writes each again (fitted to today's columns) and removes the
    ones that now go in; it is safe while the daemon runs (writes are idempotent upserts).
    """
    from callcenter.store.deadletters import load, retry_all

    config = get_config(ctx)
    file = config.data_path / "dead-letters.jsonl"
    if retry:
        done, left = retry_all(config.effective_database_url, file)
        click.echo(f"{done} written, {len(left)} still refused")
        for letter in left:
            click.echo(f"  {letter['table_name']} {letter['row_key']}: {letter['error']}")
        return
    letters = load(config.effective_database_url, file)
    if as_json:
        for letter in letters:
            print_json(letter)
        return
    if not letters:
        click.echo("no dead letters")
        return
    for letter in letters:
        click.echo(f"{letter['at']}  {letter['table_name']:<14} {letter['row_key']:<32} {letter['error'][:100]}")
    click.echo(f"{len(letters)} dead letter(s); 'callcenter db dead-letters --retry' writes them again")


def register(cli: click.Group) -> None:
    cli.add_command(db_group)
