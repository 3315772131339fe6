"""AMI framing benchmark: events parsed by panoramisk's ``Message.from_line`` (before) versus our own
event parser that also drops events whose headers repeat with another value (after, issue 7 item 1).

Same stream, same run, alternated rounds, best of N each; prints frames/s and the ratio. The stream is
ami_ingest's (cloned from a real capture: answered, abandoned and timed-out calls interleaved); both
paths frame, decode, parse and translate every wanted event.

    .venv/bin/python benchmarks/ami_framing.py [--calls 4000] [--rounds 5]

Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from panoramisk.message import Message

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from ami_ingest import build_stream  # noqa: E402

from callcenter.asterisk.ami.framing import MessageSplitter  # noqa: E402
from callcenter.asterisk.ami.telephony import WANTED_EVENTS  # noqa: E402
from callcenter.asterisk.ami.translate import translate  # noqa: E402


class BeforeSplitter(MessageSplitter):
    """The framing path before: events parsed by panoramisk, no repeated-header check."""

    def _parse_event(self, text: str) -> Message | None:
        return Message.from_line(text)


def run(stream: bytes, splitter_class: type[MessageSplitter], chunk: int = 65536) -> tuple[float, int]:
    splitter = splitter_class(WANTED_EVENTS)
    events = 0
    start = time.perf_counter()
    for i in range(0, len(stream), chunk):
        for message in splitter.feed(stream[i:i + chunk]):
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
    print(f"stream: {args.calls} calls, {n} frames, {len(stream) / 1e6:.1f} MB")
    before, after = [], []
    counts = set()
    for _ in range(args.rounds):
        t, e = run(stream, BeforeSplitter)
        before.append(t)
        counts.add(e)
        t, e = run(stream, MessageSplitter)
        after.append(t)
        counts.add(e)
    b, a = min(before), min(after)
    print(f"before (panoramisk from_line):            {n / b:10.0f} frames/s ({b:.3f} s)")
    print(f"after (own parser + repeated-header check): {n / a:10.0f} frames/s ({a:.3f} s)")
    print(f"ratio after/before: {b / a:.2f}x throughput; events translated per run: {sorted(counts)}")


if __name__ == "__main__":
    main()
