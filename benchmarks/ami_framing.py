"""AMI frame path benchmark: the cost of the forged-header check on every translated event.

The daemon now drops events whose headers repeat with different values (issue 7, item 1) before
translating them. This times, on the same stream and in the same run, framing + translation with and
without that check, and prints events/s and the ratio. The stream is ami_ingest's (cloned from a real
capture: answered, abandoned and timed-out calls interleaved).

    .venv/bin/python benchmarks/ami_framing.py [--calls 4000] [--rounds 5]

Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from ami_ingest import build_stream  # noqa: E402

from callcenter.asterisk.ami.framing import MessageSplitter  # noqa: E402
from callcenter.asterisk.ami.telephony import WANTED_EVENTS  # noqa: E402
from callcenter.asterisk.ami.translate import conflicting_header, translate  # noqa: E402


def run(stream: bytes, check: bool, chunk: int = 65536) -> tuple[float, int]:
    splitter = MessageSplitter(WANTED_EVENTS)
    events = 0
    start = time.perf_counter()
    for i in range(0, len(stream), chunk):
        for message in splitter.feed(stream[i:i + chunk]):
            if check and conflicting_header(message) is not None:
                continue
            if translate(message) is not None:
                events += 1
    return time.perf_counter() - start, events


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=4000)
    ap.add_argument("--concurrency", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    stream, n = build_stream(args.calls, args.concurrency)
    print(f"stream: {args.calls} calls, {n} events, {len(stream) / 1e6:.1f} MB")
    # alternate the two so machine noise hits both alike; best of N each
    before, after, events = [], [], 0
    for _ in range(args.rounds):
        before.append(run(stream, check=False)[0])
        t, events = run(stream, check=True)
        after.append(t)
    b, a = min(before), min(after)
    print(f"framing + translate:                 {n / b:10.0f} frames/s ({b:.3f} s)")
    print(f"framing + forged-header check + translate: {n / a:10.0f} frames/s ({a:.3f} s)")
    print(f"ratio with/without the check: {b / a:.3f} (1.0 = no cost); {events} events translated")


if __name__ == "__main__":
    main()
