"""Ranked knowledge-base search over the term index (works the same on SQLite and PostgreSQL).

BM25 over ``kb_postings`` is computed by the database (one grouped query over the query terms'
postings, the per-term weights bound as parameters), then the best candidates are re-ranked in
Python: articles containing the whole query as a phrase (title first) and articles matching more
of the query's words come first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Float, case, cast, func, literal, select, text
from sqlalchemy.orm import Session

from callcenter.kb.models import Article, Posting
from callcenter.kb.segment import terms, unique

K1 = 1.2
B = 0.75
CANDIDATES = 200
# Candidates read before dropping drafts, unpublished and expired articles (agents' searches).
OVERFETCH = 500


@dataclass(frozen=True, slots=True)
class Hit:
    id: int
    title: str
    category: str
    status: str
    score: float
    snippet: str
    matched: int


def snippet(body: str, needles: list[str], width: int = 60) -> str:
    """About ``width`` characters of ``body`` around the first needle found."""
    positions = [body.find(n) for n in needles if n and body.find(n) >= 0]
    start = max(0, min(positions) - width // 3) if positions else 0
    text = body[start:start + width].replace("\n", " ")
    return ("…" if start > 0 else "") + text + ("…" if start + width < len(body) else "")


def _visible(a: Any, today: date) -> bool:
    return (a.status == "published" and (a.valid_from is None or a.valid_from <= today)
            and (a.valid_until is None or a.valid_until >= today))


def search(session: Session, query: str, limit: int = 20, today: date | None = None,
           published_only: bool = True) -> list[Hit]:
    """Articles matching ``query`` (its words, in any order), best first."""
    query = query.strip()
    q_terms = unique(terms(query))
    if not q_terms:
        return []
    n_docs, avg_len = session.execute(select(func.count(Article.id), func.avg(Article.doc_len))).one()
    if not n_docs:
        return []
    avg_len = float(avg_len or 1.0) or 1.0
    df = dict(session.execute(select(Posting.term, func.count()).where(Posting.term.in_(q_terms))
                              .group_by(Posting.term)).all())
    present = [t for t in q_terms if df.get(t)]
    if not present:
        return []
    idf = {t: math.log(1.0 + (n_docs - df[t] + 0.5) / (df[t] + 0.5)) for t in present}
    weight = case(*[(Posting.term == t, literal(idf[t])) for t in present], else_=literal(0.0))
    tf = cast(Posting.tf, Float)
    norm = K1 * (1.0 - B + B * cast(Posting.doc_len, Float) / avg_len)
    # Scores come from the postings alone (the query terms' rows: a few thousand at most), best first;
    # the articles are then looked up by primary key. No join, so no planner statistics (stale right
    # after a bulk import) can turn this into a walk over every article.
    scored = (select(Posting.article_id, func.sum(weight * tf * (K1 + 1.0) / (tf + norm)).label("score"),
                     func.count().label("matched"))
              .where(Posting.term.in_(present)).group_by(Posting.article_id)
              .order_by(text("score DESC"), Posting.article_id).limit(OVERFETCH if published_only else CANDIDATES))
    rows = session.execute(scored).all()
    if not rows:
        return []
    if published_only:
        today = today or date.today()
        visible = {row.id for row in session.execute(
            select(Article.id, Article.status, Article.valid_from, Article.valid_until)
            .where(Article.id.in_([r[0] for r in rows]))) if _visible(row, today)}
        rows = [r for r in rows if r[0] in visible]
    rows = rows[:CANDIDATES]
    articles = {a.id: a for a in session.scalars(select(Article).where(Article.id.in_([r[0] for r in rows])))}
    ranked = []
    for article_id, bm25, matched in rows:
        a = articles[article_id]
        coverage = matched / len(q_terms)
        final = float(bm25) * (0.5 + 0.5 * coverage)
        if query in a.title:
            final += 10.0
        elif query in a.body:
            final += 5.0
        ranked.append((final, a, matched))
    ranked.sort(key=lambda x: (-x[0], x[1].id))
    return [Hit(a.id, a.title, a.category, a.status, round(s, 4), snippet(a.body, [query, *q_terms]), m)
            for s, a, m in ranked[:limit]]
