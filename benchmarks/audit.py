"""Audit benchmark: what the hash chain costs an order change, and how fast ``audit verify`` is.

    .venv/bin/python benchmarks/audit.py [--changes 2000] [--entries 1000000] [--database-url URL]

(1) Order changes (load the order, edit a field: one UPDATE, one event INSERT, commit) timed on two
databases of the same kind side by side, one with the audit hooks and one without, interleaved in rounds
so both see the same machine; prints the median per change and the ratio with/without.
(2) ``audit verify`` (chains recomputed) over ``--entries`` entries in 5 streams; prints entries/s.
Figures only; nothing is asserted. ``--database-url`` (an empty PostgreSQL database) runs (1) there too:
the second database is created next to it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, text  # noqa: E402

from callcenter.audit import chain  # noqa: E402
from callcenter.audit.verify import Report, verify_chains  # noqa: E402
from callcenter.auth.services import Actor  # noqa: E402
from callcenter.store import migrate  # noqa: E402
from callcenter.store.db import Database, make_engine  # noqa: E402
from callcenter.workorders.services import Services  # noqa: E402
from callcenter.workorders.settings import WorkOrderSettings  # noqa: E402

AGENT = Actor(1, "agent1", "agent", agent_id="1001")
FIELDS = {"caller_number": "13800001111", "caller_name": "王五", "district": "五华区", "address": "人民中路1号",
          "category": "housing.fund", "content": "咨询公积金提取，需要带哪些材料" * 3, "title": "公积金提取"}


def _db(url: str, audited: bool) -> Database:
    migrate.upgrade(url)
    db = Database(url)
    if not audited:
        event.remove(db.sessionmaker, "after_flush", chain._after_flush)
        event.remove(db.sessionmaker, "do_orm_execute", chain._orm_execute)
    return db


def order_changes(urls: tuple[str, str], changes: int, rounds: int = 10) -> dict[str, float]:
    svc = Services(WorkOrderSettings(), "Asia/Shanghai")
    dbs = {"with": _db(urls[0], True), "without": _db(urls[1], False)}
    numbers: dict[str, list[str]] = {}
    for k, db in dbs.items():
        numbers[k] = []
        for _ in range(50):
            with db.session() as s:
                numbers[k].append(svc.create(s, AGENT, "call", FIELDS, register=True).number)
    times: dict[str, list[float]] = {"with": [], "without": []}
    per_round = max(1, changes // rounds)
    for r in range(rounds):
        for k in (("with", "without") if r % 2 == 0 else ("without", "with")):
            db = dbs[k]
            for i in range(per_round):
                number = numbers[k][i % len(numbers[k])]
                t0 = time.perf_counter()
                with db.session() as s:
                    o = svc.get(s, number)
                    svc.edit(s, AGENT, o, {"address": f"人民中路{r}-{i}号"})
                times[k].append(time.perf_counter() - t0)
    for db in dbs.values():
        db.dispose()
    w, wo = statistics.median(times["with"]), statistics.median(times["without"])
    return {"with_ms": w * 1000, "without_ms": wo * 1000, "ratio": w / wo}


def verify_speed(url: str, entries: int) -> dict[str, float]:
    migrate.upgrade(url)
    db = Database(url)
    t0 = time.perf_counter()
    batch = 20000
    with db.engine.begin() as conn:
        for start in range(0, entries, batch):
            n = min(batch, entries - start)
            pending = [chain.Pending(f"s{(start + i) % 5}", "update", "bench", str(start + i),
                                     {"address": f"人民中路{start + i}号", "state": "dispatched", "version": i})
                       for i in range(n)]
            chain.append(conn, pending, "bench")
    load = time.perf_counter() - t0
    report = Report()
    t0 = time.perf_counter()
    with db.engine.connect() as conn:
        verify_chains(conn, report)
    took = time.perf_counter() - t0
    db.dispose()
    assert report.entries == entries and not report.broken, report.as_dict()
    return {"entries": entries, "load_s": load, "verify_s": took, "entries_per_s": entries / took}


def _pg_pair(url: str) -> tuple[str, str]:
    base, name = url.rsplit("/", 1)
    other = f"{name}_noaudit"
    admin = make_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{other}"'))
        conn.execute(text(f'CREATE DATABASE "{other}"'))
    admin.dispose()
    return url, f"{base}/{other}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--changes", type=int, default=2000)
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--database-url", default=None, help="an empty PostgreSQL database for the order changes")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        r = order_changes((f"sqlite:///{tmp}/a.sqlite", f"sqlite:///{tmp}/b.sqlite"), a.changes)
        print(f"order change, SQLite: with audit {r['with_ms']:.2f} ms, without {r['without_ms']:.2f} ms, "
              f"ratio {r['ratio']:.3f} (overhead {100 * (r['ratio'] - 1):.1f}%)")
        if a.database_url:
            r = order_changes(_pg_pair(a.database_url), a.changes)
            print(f"order change, PostgreSQL: with audit {r['with_ms']:.2f} ms, without {r['without_ms']:.2f} ms, "
                  f"ratio {r['ratio']:.3f} (overhead {100 * (r['ratio'] - 1):.1f}%)")
        v = verify_speed(f"sqlite:///{tmp}/v.sqlite", a.entries)
        print(f"audit verify, SQLite: {v['entries']} entries in {v['verify_s']:.1f} s "
              f"({v['entries_per_s']:.0f} entries/s; writing them took {v['load_s']:.1f} s)")


if __name__ == "__main__":
    main()
