"""Knowledge-base tables: articles, every version of them, and the search index (term postings)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.store.models import Base, now_utc


class Article(Base):
    """An article as it is now (its current version's text), with its publication state."""

    __tablename__ = "kb_articles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(64), default="", index=True)
    # draft | published | unpublished
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Number of index terms (BM25 length normalisation).
    doc_len: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=now_utc)
    updated_by: Mapped[str] = mapped_column(String(64), default="")
    published_at: Mapped[datetime | None] = mapped_column(DateTime)


class ArticleVersion(Base):
    """Every saved state of an article: who changed what, when (publication changes included)."""

    __tablename__ = "kb_article_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16))
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    changed_by: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[datetime] = mapped_column(DateTime, default=now_utc)
    note: Mapped[str] = mapped_column(String(200), default="")

    __table_args__ = (UniqueConstraint("article_id", "version"),)


class Posting(Base):
    """Inverted index: a segmented term occurs ``tf`` times (title weighted) in an article.

    ``doc_len`` repeats the article's length so ranking needs only this table: the scores are summed
    from the query terms' postings first, and only the best articles are joined afterwards.
    """

    __tablename__ = "kb_postings"

    term: Mapped[str] = mapped_column(String(64), primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id"), primary_key=True)
    tf: Mapped[int] = mapped_column(Integer)
    doc_len: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("kb_postings__idx__article_id", "article_id"),)
