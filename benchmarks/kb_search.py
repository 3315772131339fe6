"""Knowledge-base search on tens of thousands of articles: indexing rate and query latency.

    .venv/bin/python benchmarks/kb_search.py [--articles 20000] [--database URL]

Articles are generated from a fixed vocabulary of hotline topics (seeded, so runs compare), stored
through the same service the pages and CLI use, then typical agent queries are timed. Prints
figures; asserts nothing. PostgreSQL: ``--database postgresql://postgres@127.0.0.1:5432/DBNAME``
(an empty database; the schema is created).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from callcenter.auth.services import Actor
from callcenter.kb.search import search
from callcenter.kb.services import create_article
from callcenter.store import migrate
from callcenter.store.db import Database

TOPICS = [
    "住房公积金", "社保卡", "养老保险", "医保报销", "失业保险金", "户口迁移", "身份证", "出租车", "公交线路", "地铁",
    "停车", "施工噪音", "物业费", "电梯", "停水", "停电", "燃气", "食品安全", "网购退货", "预付卡",
    "劳动仲裁", "拖欠工资", "不动产登记", "营业执照", "个体工商户", "出入境", "驾驶证", "违章", "垃圾分类", "路灯",
    "井盖", "占道经营", "广场舞", "宠物", "学校招生", "幼儿园", "疫苗接种", "献血", "殡葬", "低保",
]
VERBS = [
    "提取", "办理", "申请", "补办", "挂失", "查询", "投诉", "举报", "缴纳", "变更",
    "注销", "转移", "续费", "预约", "咨询", "维修", "退费", "认定", "审核", "发放",
]
FILLER = [
    "市民可以通过线上平台或到服务窗口", "需要携带本人身份证原件", "一般在三个工作日内办结",
    "如有疑问请拨打12345热线", "相关部门将依法依规处理", "请提前准备好材料",
    "办理时间为工作日上午九点至下午五点", "逾期未办理的需重新申请", "可委托他人代为办理",
    "具体以当年政策为准", "符合条件的予以受理", "不符合条件的一次性告知",
]
QUERIES = [
    "公积金提取", "社保卡补办", "医保报销", "出租车投诉", "施工噪音", "停电报修",
    "网购退货退款", "户口迁移材料", "身份证", "拖欠工资怎么办", "燃气", "不动产登记查询",
]


def article(rng: random.Random, i: int) -> tuple[str, str]:
    topic, verb = rng.choice(TOPICS), rng.choice(VERBS)
    other = rng.sample(TOPICS, 2)
    body = "。".join(rng.sample(FILLER, 5)) + f"。关于{topic}{verb}，" + "，".join(
        f"{t}{rng.choice(VERBS)}" for t in other) + f"。第{i}号。"
    return f"{topic}{verb}指南（{i}）", body


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=20000)
    ap.add_argument("--database", default=None)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory()
    url = args.database or f"sqlite:///{Path(tmp.name) / 'kb.sqlite'}"
    migrate.upgrade(url)
    db = Database(url)
    editor = Actor(0, "bench", "admin")
    rng = random.Random(12345)
    started = time.perf_counter()
    batch = 500
    for start in range(0, args.articles, batch):
        with db.session() as session:
            for i in range(start, min(args.articles, start + batch)):
                title, body = article(rng, i)
                create_article(session, editor, title, body, "other", publish=True)
    index_s = time.perf_counter() - started
    with db.session() as session:
        from sqlalchemy import func, select

        from callcenter.kb.models import Posting

        postings = session.scalar(select(func.count()).select_from(Posting))
    print(f"database: {db.dialect}; articles: {args.articles}; postings: {postings}")
    print(f"indexing: {index_s:.1f} s ({args.articles / index_s:.0f} articles/s, segmentation included)")
    search_all = []
    with db.session() as session:
        search(session, "预热")  # segmenter and caches warm
        for q in QUERIES:
            times = []
            hits = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                hits = search(session, q, limit=20)
                times.append((time.perf_counter() - t0) * 1000)
            search_all += times
            print(f"  {q:<10} {len(hits):>3} hits  median {statistics.median(times):6.1f} ms  "
                  f"max {max(times):6.1f} ms  top: {hits[0].title if hits else '-'}")
    search_all.sort()
    p95 = search_all[int(len(search_all) * 0.95) - 1]
    print(f"all queries: median {statistics.median(search_all):.1f} ms, p95 {p95:.1f} ms, "
          f"max {search_all[-1]:.1f} ms ({len(search_all)} searches)")
    db.dispose()
    tmp.cleanup()


if __name__ == "__main__":
    main()
