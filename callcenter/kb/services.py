"""Knowledge-base articles: create, edit, publish/unpublish, validity dates, versions, import.

Every change writes a new :class:`ArticleVersion` (who, when, what) and refreshes the article's
index postings in the same transaction, so search never sees half an edit.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from callcenter.auth.roles import Perm, has
from callcenter.auth.services import Actor
from callcenter.errors import Refusal, Term
from callcenter.kb.models import Article, ArticleVersion, Posting
from callcenter.kb.segment import term_counts
from callcenter.store.models import now_utc

STATUSES = ("draft", "published", "unpublished")


class KbError(Refusal):
    code = 400


class KbNotFound(KbError):
    code = 404


class KbForbidden(KbError):
    code = 403


class KbConflict(KbError):
    code = 409


def _check_editor(actor: Actor) -> None:
    if not has(actor.role, Perm.KB_EDIT):
        raise KbForbidden("kb_may_not_edit", role=Term("role", actor.role))


def _date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise KbError("bad_date", value=value) from None


def index_article(session: Session, article: Article) -> None:
    """(Re)build the article's postings from its current title and body."""
    counts = term_counts(article.title, article.body)
    article.doc_len = sum(counts.values())
    session.execute(delete(Posting).where(Posting.article_id == article.id))
    if counts:
        session.execute(insert(Posting), [{"term": t, "article_id": article.id, "tf": n, "doc_len": article.doc_len}
                                          for t, n in counts.items()])


def _snapshot(session: Session, article: Article, actor: Actor, note: str) -> ArticleVersion:
    version = ArticleVersion(article_id=article.id, version=article.version, title=article.title, body=article.body,
                             category=article.category, status=article.status, valid_from=article.valid_from,
                             valid_until=article.valid_until, changed_by=actor.username, changed_at=article.updated_at,
                             note=note[:200])
    session.add(version)
    return version


def _validate(title: str, body: str, valid_from: date | None, valid_until: date | None) -> None:
    if not title.strip():
        raise KbError("kb_needs_title")
    if len(title) > 200:
        raise KbError("kb_title_too_long", n=200)
    if valid_from and valid_until and valid_until < valid_from:
        raise KbError("kb_validity_reversed")


def create_article(session: Session, actor: Actor, title: str, body: str, category: str = "",
                   valid_from: Any = None, valid_until: Any = None, publish: bool = False) -> Article:
    _check_editor(actor)
    vf, vu = _date(valid_from), _date(valid_until)
    _validate(title, body, vf, vu)
    now = now_utc()
    article = Article(title=title.strip(), body=body, category=category.strip(), status="draft", valid_from=vf,
                      valid_until=vu, version=1, created_at=now, updated_at=now, updated_by=actor.username)
    if publish:
        article.status, article.published_at = "published", now
    session.add(article)
    session.flush()
    index_article(session, article)
    _snapshot(session, article, actor, "created")
    return article


def get_article(session: Session, article_id: int, actor: Actor | None = None) -> Article:
    article = session.get(Article, article_id)
    if article is None or (actor is not None and not has(actor.role, Perm.KB_EDIT) and article.status != "published"):
        raise KbNotFound("kb_not_found", id=article_id)
    return article


def update_article(session: Session, actor: Actor, article_id: int, expected_version: int | None = None,
                   note: str = "", **changes: Any) -> Article:
    """Change title/body/category/validity; the previous text stays in the versions."""
    _check_editor(actor)
    article = get_article(session, article_id)
    if expected_version is not None and expected_version != article.version:
        raise KbConflict("kb_changed", id=article_id, version=article.version)
    fields = {k: v for k, v in changes.items() if k in ("title", "body", "category", "valid_from", "valid_until")}
    for key in ("valid_from", "valid_until"):
        if key in fields:
            fields[key] = _date(fields[key])
    new = {**{k: getattr(article, k) for k in ("title", "body", "category", "valid_from", "valid_until")}, **fields}
    _validate(new["title"], new["body"], new["valid_from"], new["valid_until"])
    changed = [k for k, v in new.items() if getattr(article, k) != v]
    if not changed:
        return article
    for k in changed:
        setattr(article, k, new[k])
    article.version += 1
    article.updated_at, article.updated_by = now_utc(), actor.username
    if {"title", "body"} & set(changed):
        index_article(session, article)
    _snapshot(session, article, actor, note or "changed " + ", ".join(changed))
    return article


def set_status(session: Session, actor: Actor, article_id: int, status: str) -> Article:
    """Publish or unpublish (a new version records who did it and when)."""
    _check_editor(actor)
    if status not in ("published", "unpublished"):
        raise KbError("kb_bad_status")
    article = get_article(session, article_id)
    if article.status == status:
        return article
    article.status = status
    article.version += 1
    article.updated_at, article.updated_by = now_utc(), actor.username
    if status == "published":
        article.published_at = article.updated_at
    _snapshot(session, article, actor, status)
    return article


def versions(session: Session, article_id: int) -> list[ArticleVersion]:
    return list(session.scalars(select(ArticleVersion).where(ArticleVersion.article_id == article_id)
                                .order_by(ArticleVersion.version.desc())))


def list_articles(session: Session, status: str | None = None, limit: int = 100) -> list[Article]:
    stmt = select(Article).order_by(Article.updated_at.desc()).limit(limit)
    if status:
        stmt = stmt.where(Article.status == status)
    return list(session.scalars(stmt))
