"""``callcenter kb``: maintain and search the knowledge base from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import yaml

from callcenter.cli.common import get_config, print_json


def _db(ctx: click.Context):  # type: ignore[no-untyped-def]
    from callcenter.store.db import Database

    return Database(get_config(ctx).effective_database_url)


def _editor(name: str | None):  # type: ignore[no-untyped-def]
    import getpass

    from callcenter.auth.services import Actor

    return Actor(0, name or f"cli:{getpass.getuser()}", "admin")


@click.group("kb")
def kb_group() -> None:
    """Knowledge base (知识库): import, publish, search."""


@kb_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--publish", is_flag=True, help="Publish the imported articles at once.")
@click.option("--by", "editor", default=None, help="Name recorded as the editor (default: cli:<login>).")
@click.pass_context
def import_articles(ctx: click.Context, path: Path, publish: bool, editor: str | None) -> None:
    """Import articles from YAML or JSON: a list of {title, body, category, valid_from, valid_until}."""
    from callcenter.kb import services as kb

    text = path.read_text(encoding="utf-8")
    items: Any = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    if not isinstance(items, list):
        raise click.ClickException(f"{path}: expected a list of articles")
    db = _db(ctx)
    actor = _editor(editor)
    try:
        with db.session() as session:
            for i, item in enumerate(items):
                if not isinstance(item, dict) or not item.get("title"):
                    raise click.ClickException(f"{path}: item {i} needs a title")
                kb.create_article(session, actor, str(item["title"]), str(item.get("body") or ""),
                                  str(item.get("category") or ""), item.get("valid_from"), item.get("valid_until"),
                                  publish=publish)
    except kb.KbError as exc:
        raise click.ClickException(f"{path}: {exc}") from None
    finally:
        db.dispose()
    click.echo(f"imported {len(items)} articles" + (" (published)" if publish else " (drafts)"))


@kb_group.command("publish")
@click.argument("article_ids", nargs=-1, type=int, required=True)
@click.option("--unpublish", is_flag=True)
@click.option("--by", "editor", default=None)
@click.pass_context
def publish(ctx: click.Context, article_ids: tuple[int, ...], unpublish: bool, editor: str | None) -> None:
    """Publish (or unpublish) articles by id; each change is a new version."""
    from callcenter.kb import services as kb

    db = _db(ctx)
    try:
        with db.session() as session:
            for aid in article_ids:
                kb.set_status(session, _editor(editor), aid, "unpublished" if unpublish else "published")
    except kb.KbError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        db.dispose()
    click.echo(f"{'unpublished' if unpublish else 'published'} {len(article_ids)} articles")


@kb_group.command("search")
@click.argument("query")
@click.option("--all", "include_all", is_flag=True, help="Drafts, unpublished and expired articles too.")
@click.option("--limit", default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def search(ctx: click.Context, query: str, include_all: bool, limit: int, as_json: bool) -> None:
    """Search as agents do (Chinese works without spaces: 公积金提取)."""
    from callcenter.kb.search import search as kb_search

    db = _db(ctx)
    try:
        with db.session() as session:
            hits = kb_search(session, query, limit=limit, published_only=not include_all)
    finally:
        db.dispose()
    rows = [{"id": h.id, "title": h.title, "score": h.score, "status": h.status, "snippet": h.snippet} for h in hits]
    if as_json:
        print_json(rows)
        return
    for r in rows:
        click.echo(f"{r['id']:>6} {r['score']:>8.3f} {r['title']}  [{r['status']}]")


@kb_group.command("list")
@click.option("--status", type=click.Choice(["draft", "published", "unpublished"]), default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_articles(ctx: click.Context, status: str | None, as_json: bool) -> None:
    """Articles, most recently changed first."""
    from callcenter.kb import services as kb

    db = _db(ctx)
    try:
        with db.session() as session:
            rows = [{"id": a.id, "title": a.title, "status": a.status, "version": a.version,
                     "category": a.category} for a in kb.list_articles(session, status, limit=1000)]
    finally:
        db.dispose()
    if as_json:
        print_json(rows)
        return
    for r in rows:
        click.echo(f"{r['id']:>6} v{r['version']:<3} {r['status']:<12} {r['title']}")


def register(cli: click.Group) -> None:
    cli.add_command(kb_group)
