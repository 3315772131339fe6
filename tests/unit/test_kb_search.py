"""Chinese search quality on a fixture corpus, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from callcenter.auth.services import Actor
from callcenter.kb import services as kb
from callcenter.kb.search import search
from callcenter.kb.segment import terms
from callcenter.store import migrate
from callcenter.store.db import Database

CORPUS = yaml.safe_load((Path(__file__).parents[1] / "fixtures" / "kb_corpus.yaml").read_text(encoding="utf-8"))
EDITOR = Actor(1, "editor", "team_leader")
TODAY = date(2026, 6, 1)

# query → the article that must come first
TOP = {
    "公积金提取": "fund_withdraw",
    "租房提取公积金": "fund_rent",
    "公积金贷款": "fund_loan",
    "社保卡丢了怎么补办": "social_card",
    "异地就医报销": "medical_reimburse",
    "出租车绕路": "taxi_complaint",
    "夜间施工噪音": "noise_night",
    "燃气泄漏": "gas_leak",
    "停电报修": "power_outage",
    "拖欠工资": "wage_arrears",
    "网购退款": "refund",
    "身份证换领": "id_card",
    "电梯故障": "elevator",
}


@pytest.fixture
def kb_db(db_url: str):  # type: ignore[no-untyped-def]
    migrate.upgrade(db_url)
    db = Database(db_url)
    ids: dict[str, int] = {}
    with db.session() as session:
        for item in CORPUS:
            a = kb.create_article(session, EDITOR, item["title"], item["body"], item["category"],
                                  valid_until=item.get("valid_until"), publish=True)
            ids[item["key"]] = a.id
    yield db, ids
    db.dispose()


def test_segmentation_finds_words() -> None:
    t = terms("住房公积金提取")
    assert "公积金" in t and "提取" in t and "住房" in t
    assert terms("的了吗") == []


def test_top_results(kb_db) -> None:  # type: ignore[no-untyped-def]
    db, ids = kb_db
    by_id = {v: k for k, v in ids.items()}
    with db.session() as session:
        for query, key in TOP.items():
            hits = search(session, query, today=TODAY)
            assert hits, query
            assert by_id[hits[0].id] == key, (query, [by_id[h.id] for h in hits[:5]])


def test_word_order_does_not_matter(kb_db) -> None:  # type: ignore[no-untyped-def]
    db, ids = kb_db
    with db.session() as session:
        top2 = {h.id for h in search(session, "提取公积金", today=TODAY)[:2]}
    # one has the words in the other order, the other has the exact phrase in its title
    assert top2 == {ids["fund_withdraw"], ids["fund_rent"]}


def test_all_fund_articles_found_and_ranked(kb_db) -> None:  # type: ignore[no-untyped-def]
    db, ids = kb_db
    with db.session() as session:
        hits = search(session, "公积金", today=TODAY)
    found = [h.id for h in hits]
    for key in ("fund_withdraw", "fund_loan", "fund_transfer", "fund_rent"):
        assert ids[key] in found
    # expired articles never show to agents
    assert ids["expired_policy"] not in found
    assert all(a >= b for a, b in zip([h.score for h in hits], [h.score for h in hits[1:]], strict=False))
    # a snippet shows the words in context
    assert "公积金" in hits[0].snippet


def test_nothing_unrelated(kb_db) -> None:  # type: ignore[no-untyped-def]
    db, _ids = kb_db
    with db.session() as session:
        assert search(session, "火星探测器", today=TODAY) == []
        assert search(session, "   ", today=TODAY) == []


def test_unpublish_edit_and_versions(kb_db) -> None:  # type: ignore[no-untyped-def]
    db, ids = kb_db
    aid = ids["gas_leak"]
    with db.session() as session:
        kb.set_status(session, EDITOR, aid, "unpublished")
    with db.session() as session:
        assert aid not in [h.id for h in search(session, "燃气泄漏", today=TODAY)]
        # editors still find it
        assert aid in [h.id for h in search(session, "燃气泄漏", today=TODAY, published_only=False)]
        kb.update_article(session, EDITOR, aid, body="闻到天然气味道请开窗通风并拨打抢修电话。", note="rewrite")
        kb.set_status(session, EDITOR, aid, "published")
    with db.session() as session:
        assert search(session, "天然气味道", today=TODAY)[0].id == aid
        assert aid not in [h.id for h in search(session, "阀门", today=TODAY)]
        vs = kb.versions(session, aid)
        assert [v.version for v in vs] == [4, 3, 2, 1]
        assert [v.status for v in vs] == ["published", "unpublished", "unpublished", "published"]
        assert vs[1].note == "rewrite" and vs[1].changed_by == "editor"
        assert "阀门" in vs[-1].body


def test_only_editors_edit(kb_db) -> None:  # type: ignore[no-untyped-def]
    db, ids = kb_db
    with db.session() as session, pytest.raises(kb.KbForbidden):
        kb.update_article(session, Actor(2, "a", "agent"), ids["gas_leak"], title="x")
