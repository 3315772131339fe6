"""AMI ingest benchmark: the daemon's real path versus bare panoramisk parsing of the same stream.

The stream is built from a real capture (tests/fixtures/ami/asterisk22-call-path.raw): the frames of an
answered, an abandoned and a timed-out call are cloned into many concurrent calls with fresh ids, numbers,
agents and timestamps, interleaved as a busy hotline would produce them.

    .venv/bin/python benchmarks/ami_ingest.py [--calls 4000] [--concurrency 60] [--database-url URL]

Prints events/s for (a) stock panoramisk parsing (AMIProtocol.data_received, dispatch to a no-op) and
(b) the daemon's ingest path: our protocol (framing, decoding) → translate → event bus → live state,
call recorder, metrics → record writer → journal (fsync) → batched upserts, timed until every row is in
the database. Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

from panoramisk.ami_protocol import AMIProtocol

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from callcenter.acd.live import LiveState  # noqa: E402
from callcenter.asterisk.ami.framing import iter_messages  # noqa: E402
from callcenter.asterisk.ami.protocol import CallcenterAMIProtocol  # noqa: E402
from callcenter.asterisk.ami.telephony import AmiTelephony  # noqa: E402
from callcenter.bus import EventBus  # noqa: E402
from callcenter.calls.recorder import CallRecorder  # noqa: E402
from callcenter.config import AmiConfig  # noqa: E402
from callcenter.metrics import Metrics  # noqa: E402
from callcenter.store import migrate  # noqa: E402
from callcenter.store.db import Database  # noqa: E402
from callcenter.store.journal import Journal  # noqa: E402
from callcenter.store.writer import RecordWriter  # noqa: E402

FIXTURE = ROOT / "tests/fixtures/ami/asterisk22-call-path.raw"
KINDS = {"answered": "13800000001", "abandoned": "13800000003", "timeout": "13800000006"}
ID_HEADERS = ("uniqueid", "linkedid", "destuniqueid", "destlinkedid")


def _templates() -> dict[str, list[list[tuple[str, str]]]]:
    """Per call kind: the call's frames as (header, value) lists, in order."""
    frames = [list(m.items()) for m in iter_messages([FIXTURE.read_bytes()])]
    by_linkedid: dict[str, list[list[tuple[str, str]]]] = defaultdict(list)
    caller_of: dict[str, str] = {}
    for frame in frames:
        h = {k.lower(): v for k, v in frame}
        lid = h.get("linkedid") or h.get("destlinkedid")
        if not lid or "event" not in h:
            continue
        if isinstance(lid, list):
            lid = lid[0]
        by_linkedid[lid].append(frame)
        if h.get("event") == "Newchannel" and h.get("context") == "from-trunk":
            caller_of[lid] = h["calleridnum"]
    out = {}
    for kind, number in KINDS.items():
        lid = next(lid for lid, num in caller_of.items() if num == number)
        out[kind] = by_linkedid[lid]
    return out


def _render(frame: list[tuple[str, str]], ids: dict[str, str], ts: float, number: str, agent: str) -> bytes:
    lines = []
    for key, value in frame:
        values = value if isinstance(value, list) else [value]
        for v in values:
            lk = key.lower()
            if lk == "timestamp":
                v = f"{ts:.6f}"
            elif lk in ID_HEADERS or lk == "file":
                for old, new in ids.items():
                    v = v.replace(old, new)
            elif lk in ("calleridnum", "destconnectedlinenum", "connectedlinenum") and v.startswith("138"):
                v = number
            elif lk in ("membername",) or (lk in ("interface", "stateinterface") and v.startswith("PJSIP/")):
                v = agent if lk == "membername" else f"PJSIP/{agent}"
            elif lk in ("channel", "destchannel"):
                for old, new in ids.items():
                    v = v.replace(old, new)
            lines.append(f"{key}: {v}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def build_stream(calls: int, concurrency: int, seed: int = 7) -> tuple[bytes, int]:
    rng = random.Random(seed)
    templates = _templates()
    chunks: list[bytes] = [b"Asterisk Call Manager/9.0.0\r\n"]
    t = 1_800_000_000.0
    n_events = 0
    for batch_start in range(0, calls, concurrency):
        running = []
        for i in range(batch_start, min(calls, batch_start + concurrency)):
            kind = rng.choices(["answered", "abandoned", "timeout"], [0.8, 0.15, 0.05])[0]
            frames = templates[kind]
            ids: dict[str, str] = {}
            for frame in frames:
                for key, value in frame:
                    v = value[0] if isinstance(value, list) else value
                    if key.lower() in ID_HEADERS and v not in ids:
                        ids[v] = f"bench-{i}.{len(ids)}"
                    if key.lower() in ("channel", "destchannel") and v not in ids:
                        ids[v] = f"{v.rsplit('-', 1)[0]}-{i:08x}{len(ids)}"
            running.append(iter([_render(f, ids, 0.0, f"139{i:08d}", f"{1000 + i % 200}") for f in frames]))
        # interleave the batch's calls frame by frame, as concurrent calls arrive on one AMI link
        while running:
            for it in list(running):
                frame = next(it, None)
                if frame is None:
                    running.remove(it)
                    continue
                t += 0.0005
                chunks.append(frame.replace(b"Timestamp: 0.000000", f"Timestamp: {t:.6f}".encode()))
                n_events += 1
    return b"".join(chunks), n_events


class _Transport:
    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False


class _NullFactory:
    forgetable_actions = ()

    def __init__(self) -> None:
        self.awaiting_actions: list = []

    def dispatch(self, message: object) -> None:
        pass


def bare_panoramisk(stream: bytes, chunk: int = 65536) -> float:
    proto = AMIProtocol()
    proto.connection_made(_Transport())
    proto.factory = _NullFactory()
    proto.encoding = "utf-8"
    start = time.perf_counter()
    for i in range(0, len(stream), chunk):
        proto.data_received(stream[i:i + chunk])
    return time.perf_counter() - start


def daemon_path(stream: bytes, database_url: str, workdir: Path, chunk: int = 65536) -> tuple[float, int, int]:
    migrate.upgrade(database_url)
    db = Database(database_url)
    writer = RecordWriter(db, Journal(workdir / "journal"))
    writer._thread = threading.Thread(target=writer._run, daemon=True)
    writer._thread.start()
    bus, live, metrics = EventBus(), LiveState(), Metrics()
    recorder = CallRecorder(writer.put, 15, {"12345": "12345"})
    bus.subscribe("live", live.apply)
    bus.subscribe("recorder", recorder.apply)
    bus.subscribe("metrics", metrics.apply)
    telephony = AmiTelephony(AmiConfig(), bus.publish, on_frame=lambda _m: metrics.ami_frames.inc())
    proto = CallcenterAMIProtocol(telephony.client)
    proto.connection_made(_Transport())
    telephony.client.protocol = proto
    start = time.perf_counter()
    last_flush = start
    for i in range(0, len(stream), chunk):
        proto.data_received(stream[i:i + chunk])
        now = time.perf_counter()
        if now - last_flush >= 0.05:  # the daemon's LoopingCall flushes every 50 ms
            writer.flush()
            last_flush = now
    writer.flush()
    writer.wait_idle(600)
    elapsed = time.perf_counter() - start
    rows, batches = writer.rows_written, writer.batches
    writer.stop()
    db.dispose()
    return elapsed, rows, batches


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=4000)
    ap.add_argument("--concurrency", type=int, default=60)
    ap.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = ap.parse_args()
    stream, n = build_stream(args.calls, args.concurrency)
    print(f"stream: {args.calls} calls, {n} events, {len(stream) / 1e6:.1f} MB, {args.concurrency} concurrent")
    bare = min(bare_panoramisk(stream) for _ in range(3))
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.sqlite"
        ours, rows, batches = daemon_path(stream, url, Path(tmp))
    print(f"bare panoramisk parsing : {n / bare:10,.0f} events/s  ({bare:.2f} s)")
    print(f"daemon ingest path      : {n / ours:10,.0f} events/s  ({ours:.2f} s; {rows} rows in {batches} batches,"
          f" {url.split(':', 1)[0]})")
    print(f"ratio                   : {bare / ours * 100:9.1f} % of bare parsing's rate (target >= 35 %)")


if __name__ == "__main__":
    main()
