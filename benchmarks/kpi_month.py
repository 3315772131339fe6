"""KPI cost at a real centre's size: the 15-second answer rate for a month and a day, on PostgreSQL.

Generates a centre of a given size in the real schema (migrations, then COPY: minutes, not hours), a
month of queue stays (10% of callers moved to a second queue), then for each size prints:

- ``old``: the previous query (first entry by aggregating every caller of the table, every stay an ORM
  object and a dataclass), in this process;
- ``new``: ``calls.queries.stay_facts`` + streamed ``compute(grouped=True)``, in this process;
- ``cli``: ``callcenter kpi service-level --json`` in a cold process (imports included);

each for the whole month and for one day, with peak memory (ru_maxrss) of the CLI process. The old and
new reports are compared: a mismatch is printed as an error. Figures only; nothing is asserted.

    .venv/bin/python benchmarks/kpi_month.py [--sizes 100000,500000] [--admin-url URL] [--skip-old]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from callcenter.calls.queries import queue_entries, stay_facts  # noqa: E402
from callcenter.kpi.service_level import compute  # noqa: E402
from callcenter.store import migrate  # noqa: E402
from callcenter.store.db import Database  # noqa: E402

MONTH_START = datetime(2026, 10, 1)
DAY = (datetime(2026, 10, 15), datetime(2026, 10, 16))
MONTH = (MONTH_START, datetime(2026, 11, 1))


def generate(url: str, stays: int, seed: int = 1) -> None:
    """COPY ``stays`` queue stays spread over the month (plus a week before and after it)."""
    rnd = random.Random(seed)
    start = MONTH_START - timedelta(days=7)
    span = (45 * 86400)
    buf = io.StringIO()
    n = i = 0
    while n < stays:
        at = start + timedelta(seconds=rnd.uniform(0, span))
        linkedid = f"{1_790_000_000 + i}.{i}"
        i += 1
        moved = rnd.random() < 0.1  # timed out of the first queue, then queued again in the second
        for k in range(2 if moved else 1):
            hold = rnd.randint(0, 60)
            connected = completed = abandon = r"\N"
            if moved and k == 0:
                outcome = "timeout"
            elif rnd.random() < 0.85:
                connected = (at + timedelta(seconds=hold)).isoformat(sep=" ")
                completed = (at + timedelta(seconds=hold + 120)).isoformat(sep=" ")
                outcome = "completed"
            else:
                abandon, outcome = str(hold), "abandoned"
            buf.write("\t".join([f"{linkedid}-{k}", linkedid, linkedid, "main" if k == 0 else "complaints",
                                 at.isoformat(sep=" "), "1", f"1380000{i % 10000:04d}", "", outcome, r"\N",
                                 str(hold), connected, completed, abandon]) + "\n")
            n += 1
            at += timedelta(seconds=hold + 1)
    engine = create_engine(url)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cols = ("id, linkedid, uniqueid, queue, entered_at, position, caller_number, caller_name, outcome, "
                "left_at, hold_s, connected_at, completed_at, abandon_hold_s")
        with cur.copy(f"COPY queue_entries ({cols}) FROM STDIN") as copy:
            copy.write(buf.getvalue())
        raw.commit()
        cur.execute("ANALYZE queue_entries")
        raw.commit()
    finally:
        raw.close()
        engine.dispose()


def timed(fn):  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    result = fn()
    return time.perf_counter() - t, result


def cli(url: str, since: datetime, until: datetime) -> tuple[float, int, dict]:
    cfg = Path(tempfile.mkdtemp()) / "callcenter.yaml"
    cfg.write_text(f"database_url: {url}\ntimezone: UTC\n")
    cmd = [sys.executable, "-c",
           "import sys; from callcenter.cli.main import cli\n"
           "try:\n cli(prog_name='callcenter')\nexcept SystemExit: pass\n"
           # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec from this (big) parent
           "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0], file=sys.stderr)",
           "--config", str(cfg), "kpi", "service-level", "--since", since.replace(tzinfo=UTC).isoformat(),
           "--until", until.replace(tzinfo=UTC).isoformat(), "--json"]
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
    return time.perf_counter() - t, int(out.stderr.strip().splitlines()[-1]), json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,500000")
    ap.add_argument("--admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--skip-old", action="store_true", help="don't run the old query (slow and memory-hungry)")
    args = ap.parse_args()
    admin = create_engine(args.admin_url, isolation_level="AUTOCOMMIT")
    base = args.admin_url.rsplit("/", 1)[0]
    print(f"{'stays':>9} {'window':>6} {'old s':>8} {'new s':>8} {'ratio':>7} {'cli s':>7} {'cli MiB':>8}")
    for size in (int(s) for s in args.sizes.split(",")):
        name = f"cc_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        url = f"{base}/{name}"
        try:
            migrate.upgrade(url)
            gen_s, _ = timed(lambda: generate(url, size))  # noqa: B023
            print(f"# {size} stays generated in {gen_s:.1f} s")
            db = Database(url)
            for label, (since, until) in (("month", MONTH), ("day", DAY)):
                with db.session() as s:
                    new_s, new = timed(lambda: compute(stay_facts(s, since, until), grouped=True).as_json())  # noqa: B023
                old_s = float("nan")
                if not args.skip_old:
                    with db.session() as s:
                        old_s, old = timed(lambda: compute(queue_entries(s, since, until)).as_json())  # noqa: B023
                    if old != new:
                        print(f"ERROR: old and new reports differ for {label}: {old} != {new}")
                cli_s, rss_kib, out = cli(url, since, until)
                if out["offered"] != new["offered"] or out["rate"] != new["rate"]:
                    print(f"ERROR: CLI report differs for {label}")
                print(f"{size:>9} {label:>6} {old_s:>8.2f} {new_s:>8.2f} {old_s / new_s:>6.1f}x {cli_s:>7.2f} "
                      f"{rss_kib / 1024:>8.0f}")
            db.dispose()
        finally:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    print(f"# python {sys.version.split()[0]}, {os.cpu_count()} cpus; peak RSS of this process "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
