"""SMS outbox drain rate to Kannel: messages queued in the database → accepted by Kannel's smsbox
(and at its fake SMSC), by the outbox worker (``callcenter sms worker``, its own process).

Baseline in the same run: the same number of sendsms requests straight from Python threads (no
database, no outbox) with the same concurrency. Target: the outbox drains ≥ 200 messages/s.

    CALLCENTER_TEST_PORT_BASE=<base> /work/bin/e2e-slot .venv/bin/python benchmarks/sms_outbox.py \
        [--messages 2000] [--database sqlite|postgresql]

Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import func, select  # noqa: E402

from callcenter.sms import outbox  # noqa: E402
from callcenter.sms.gateway import KannelGateway, OutgoingSms  # noqa: E402
from callcenter.sms.kannel import read_fake_smsc  # noqa: E402
from callcenter.sms.models import SmsMessage  # noqa: E402
from tests.harness.sms import SmsRig  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    args = ap.parse_args()
    n = args.messages
    workdir = Path(tempfile.mkdtemp(prefix="sms-bench-"))
    pg = None
    if args.database == "postgresql":
        from tests.conftest import fresh_pg_database

        pg = fresh_pg_database()
        url = next(pg)
    else:
        url = f"sqlite:///{workdir / 'bench.sqlite'}"
    rig = SmsRig(workdir, url, overall_per_second=100000.0, per_number_per_hour=100000, batch=200, concurrency=8)
    rig.start()
    try:
        text = "【12345热线】您反映的问题已受理，工单号KM2026120100{:04d}，可凭工单号查询办理进度。回复TD退订"
        # Baseline: sendsms straight from 8 threads (what Kannel takes without our outbox); its reports
        # go to the running worker as the outbox's do.
        gw = KannelGateway(rig.settings, rig.settings.callback_base_url)
        msgs = [OutgoingSms(10_000_000 + i, f"1370{i:07d}", text.format(i), 2, 1) for i in range(n)]
        t0 = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(gw.send, msgs))
        base_s = time.monotonic() - t0
        gw.close()
        base_ok = sum(1 for r in results if r.outcome == "accepted")
        time.sleep(2)  # the baseline's reports reach the worker (unknown ids) before the outbox run
        rig.stop_worker()
        # The outbox: fill it with the worker stopped, then start the worker and time the drain.
        t0 = time.monotonic()
        with rig.db.session() as s:
            for i in range(n):
                outbox.enqueue(s, rig.settings, f"1380{i:07d}", text.format(i), f"bench:{i}")
        enqueue_s = time.monotonic() - t0

        def sent() -> int:
            with rig.db.session() as s:
                return int(s.scalar(select(func.count()).select_from(SmsMessage)
                                    .where(SmsMessage.state.in_(["sent", "delivered"]))) or 0)

        rig.start_worker()
        t0 = time.monotonic()
        first = None
        while True:
            done = sent()
            if done and first is None:
                first = time.monotonic()
            if done >= n or time.monotonic() - t0 > 300:
                break
            time.sleep(0.05)
        drain_s = time.monotonic() - (first or t0)
        total_s = time.monotonic() - t0
        time.sleep(1.5)
        at_smsc = sum(1 for m in read_fake_smsc(rig.kannel.fake_log) if m.to.startswith("1380"))
        with rig.db.session() as s:
            delivered = s.scalar(select(func.count()).select_from(SmsMessage).where(SmsMessage.state == "delivered"))
        rate = done / drain_s if drain_s else 0.0
        base_rate = base_ok / base_s
        print(f"database: {args.database}; messages: {n} (UCS-2, 1 part each)")
        print(f"baseline sendsms from 8 threads, no outbox: {base_ok}/{n} accepted in {base_s:.2f} s "
              f"= {base_rate:.0f} msg/s")
        print(f"enqueue: {n} rows in {enqueue_s:.2f} s = {n / enqueue_s:.0f} rows/s (one transaction)")
        print(f"outbox drain: {done}/{n} sent in {drain_s:.2f} s from the first send ({total_s:.2f} s from "
              f"worker start) = {rate:.0f} msg/s; at the fake SMSC: {at_smsc}; delivered (DLR back): {delivered}")
        print(f"outbox / baseline rate: {rate / base_rate:.2f}; target 200 msg/s: "
              f"{'met' if rate >= 200 else 'NOT met'} ({rate / 200:.1f}x)")
    finally:
        rig.stop()
        if pg is not None:
            next(pg, None)


if __name__ == "__main__":
    main()
