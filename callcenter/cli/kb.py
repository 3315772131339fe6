"""``callcenter kb``: maintain and search the knowledge base from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

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
    """Knowledge base (知识库): import, edit, publish, search, show versions."""


@kb_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--publish", is_flag=True, help="Publish the imported articles at once.")
@click.option("--by", "editor", default=None, help="Name recorded as the editor (default: cli:<login>).")
@click.pass_context
def import_articles(ctx: click.Context, path: Path, publish: bool, editor: str | None) -> None:
    """Import articles from YAML or JSON: a list of {title, body, category, valid_from, valid_until}."""
    from callcenter import yamlfiles
    from callcenter.kb import services as kb

    try:
        # An article list may be long; aliases stay bounded all the same.
        text = yamlfiles.read_text(path, max_bytes=64 * 1024 * 1024)
        items: Any = json.loads(text) if path.suffix == ".json" else yamlfiles.loads(text, str(path), max_bytes=None)
    except yamlfiles.YamlFileError as exc:
        raise click.ClickException(str(exc)) from None
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


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


@kb_group.command("edit")
@click.argument("article_id", type=int)
@click.option("--title", default=None)
@click.option("--body-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="New text of the article (UTF-8; '-' is not accepted: keep the file for the record).")
@click.option("--category", default=None, help="A category code of desk.workorders.categories ('' for none).")
@click.option("--valid-from", default=None, metavar="YYYY-MM-DD", help="'' clears it.")
@click.option("--valid-until", default=None, metavar="YYYY-MM-DD", help="'' clears it.")
@click.option("--version", "expected", type=int, default=None,
              help="Refuse if the article is no longer at this version (someone edited it meanwhile).")
@click.option("--note", default="", help="What changed and why (kept with the version).")
@click.option("--by", "editor", default=None)
@click.pass_context
def edit(ctx: click.Context, article_id: int, title: str | None, body_file: Path | None, category: str | None,
         valid_from: str | None, valid_until: str | None, expected: int | None, note: str, editor: str | None) -> None:
    """Change an article, as editors do on its page: a new version records who, when and what."""
    from callcenter.kb import services as kb

    changes: dict[str, Any] = {k: v for k, v in (("title", title), ("category", category), ("valid_from", valid_from),
                                                  ("valid_until", valid_until)) if v is not None}
    if body_file is not None:
        changes["body"] = body_file.read_text(encoding="utf-8")
    if not changes:
        raise click.UsageError("nothing to change: give --title, --body-file, --category, --valid-from or "
                               "--valid-until")
    db = _db(ctx)
    try:
        with db.session() as session:
            before = kb.get_article(session, article_id).version
            article = kb.update_article(session, _editor(editor), article_id, expected, note, **changes)
            after = article.version
    except kb.KbError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        db.dispose()
    click.echo(f"article {article_id}: version {after}" if after != before else f"article {article_id}: no change")


@kb_group.command("show")
@click.argument("article_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def show(ctx: click.Context, article_id: int, as_json: bool) -> None:
    """One article with its versions (who changed what, when)."""
    from callcenter.kb import services as kb

    db = _db(ctx)
    try:
        with db.session() as session:
            a = kb.get_article(session, article_id)
            data = {"id": a.id, "title": a.title, "category": a.category, "status": a.status, "version": a.version,
                    "valid_from": _iso(a.valid_from), "valid_until": _iso(a.valid_until), "body": a.body,
                    "versions": [{"version": v.version, "changed_at": _iso(v.changed_at), "changed_by": v.changed_by,
                                  "status": v.status, "title": v.title, "note": v.note}
                                 for v in kb.versions(session, article_id)]}
    except kb.KbError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        db.dispose()
    if as_json:
        print_json(data)
        return
    click.echo(f"{data['id']} v{data['version']} [{data['status']}] {data['title']}")
    click.echo(f"  category: {data['category'] or '-'}  valid: {data['valid_from'] or '-'} .. "
               f"{data['valid_until'] or '-'}")
    click.echo(data["body"])
    click.echo("versions:")
    for v in data["versions"]:
        click.echo(f"  v{v['version']:<3} {v['changed_at'][:19]} UTC {v['changed_by']:<16} "
                   f"{v['status']:<12} {v['note']}")


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
