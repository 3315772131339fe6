"""Call load through the IVR: (a) a YAML flow over FastAGI vs (b) the same menu in plain dialplan.

Both run on one sandboxed Asterisk + daemon (the end-to-end test stack), in the same run, at rising
call rates. Each SIPp caller hears a short welcome, presses 1 in the menu, hears goodbye and is
hung up by Asterisk. Prints, per variant and rate: completed calls/s, failed calls, and for (a)
the AGI step latency (p50/p99 round trip of the commands that do not wait for the caller, measured
by the daemon) and how many calls the IVR recorded as tagged.

    .venv/bin/python benchmarks/call_load.py [--rates 5,10,20,40] [--duration 20]

Figures are printed, never asserted (target: (a) sustains at least 90% of (b)'s call rate).
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.harness import ivr  # noqa: E402
from tests.harness.sipp import dtmf_steps, next_media_port, render, sipp_binary  # noqa: E402
from tests.harness.stack import Stack, stack_settings  # noqa: E402

IVR_DID, PLAIN_DID = "19001", "19002"
BENCH_FLOW = """# benchmark: welcome, one-key menu, tag, goodbye
flow: bench
start: hello
nodes:
  hello:
    type: play
    prompt: zh/short
    next: menu
  menu:
    type: menu
    prompt: zh/short
    timeout: 3
    retries: 0
    choices: {"1": tag}
    on_invalid: bye
    on_timeout: bye
  tag:
    type: tag
    tags: {category: bench}
    next: bye
  bye:
    type: hangup
    prompt: zh/short
"""
# The same menu, written in plain dialplan (appended to the rendered extensions.conf).
PLAIN_DIALPLAN = """
[from-trunk]
exten => {did},1,Answer()
 same => n,Playback({sounds}/zh/short)
 same => n,Read(KEY,{sounds}/zh/short,1,,1,3)
 same => n,GotoIf($["${{KEY}}" = "1"]?tag)
 same => n,Goto(bye)
 same => n(tag),Set(CC_CATEGORY=bench)
 same => n(bye),Playback({sounds}/zh/short)
 same => n,Hangup()
"""


def build_stack(workdir: Path) -> Stack:
    flavour, _db = stack_settings()
    flows = workdir / "bench-flows"
    flows.mkdir(parents=True)
    for src in (REPO / "ivr_flows").glob("*.yaml"):
        (flows / src.name).write_text(src.read_text())
    (flows / "bench.yaml").write_text(BENCH_FLOW)
    stack = Stack(workdir, flavour, f"sqlite:///{workdir / 'bench.sqlite'}", agents=1, overrides={
        "log_level": "info",
        "hotlines": [{"did": "12345", "name": "12345", "queue": "main", "flow": "12345"},
                     {"did": "12319", "name": "12319", "queue": "main", "flow": "12319"},
                     {"did": IVR_DID, "name": "bench", "queue": "main", "flow": "bench"}],
        "ivr": {**ivr.ivr_config(workdir), "flows_dir": str(flows), "watch_interval_s": 0},
    })
    return stack


def add_plain_dialplan(stack: Stack) -> None:
    conf = stack.sandbox.etc_dir / "extensions.conf"
    conf.write_text(conf.read_text() + PLAIN_DIALPLAN.format(did=PLAIN_DID, sounds=stack.sandbox.sounds_dir))
    out = stack.sandbox.cli("dialplan reload")
    if "reloaded" not in out.lower():
        raise RuntimeError(f"dialplan reload failed: {out}")
    shown = stack.sandbox.cli(f"dialplan show {PLAIN_DID}@from-trunk")
    if "Read(KEY" not in shown:
        raise RuntimeError(f"plain benchmark dialplan missing:\n{shown}")


def run_load(stack: Stack, did: str, rate: int, duration: int) -> dict[str, float]:
    tag = f"bench-{did}-{rate}"
    scenario = render("caller.xml.j2", stack.workdir / f"{tag}.xml", did=did, caller_number="13900000000",
                      caller_name="", hold_ms=20000, audio=None, dtmf=dtmf_steps("1", 2600))
    stats = stack.workdir / f"{tag}.csv"
    total = rate * duration
    started = time.monotonic()
    proc = subprocess.run(
        [sipp_binary(), f"127.0.0.1:{stack.ports.sip}", "-sf", str(scenario), "-i", "127.0.0.2",
         "-mp", str(next_media_port()), "-r", str(rate), "-m", str(total), "-l", str(total), "-nostdin",
         "-trace_stat", "-stf", str(stats), "-fd", "60", "-timeout", f"{duration + 60}s",
         "-trace_err", "-error_file", str(stack.workdir / f"{tag}.errors.log")],
        capture_output=True, text=True, timeout=duration + 120, check=False,
    )
    elapsed = time.monotonic() - started
    with stats.open() as f:
        rows = list(csv.reader(f, delimiter=";"))
    head, last = rows[0], rows[-1]
    ok = int(last[head.index("SuccessfulCall(C)")])
    failed = int(last[head.index("FailedCall(C)")])
    return {"offered": total, "ok": ok, "failed": failed, "rc": proc.returncode, "elapsed_s": elapsed,
            "completed_per_s": ok / duration}


def tagged_calls(stack: Stack, since: float) -> int:
    from sqlalchemy import func, select

    from callcenter.store.models import Call, utc

    return stack.query(lambda s: s.scalar(select(func.count()).select_from(Call).where(
        Call.did == IVR_DID, Call.started_at >= utc(since), Call.flow == "bench")))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="5,10,20,40", help="calls per second, comma-separated")
    parser.add_argument("--duration", type=int, default=20, help="seconds of calls at each rate")
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="cc-bench-"))
    stack = build_stack(workdir)
    stack.start()
    try:
        add_plain_dialplan(stack)
        print(f"Asterisk {stack.sandbox.install.version()}; {args.duration} s per rate; work dir {workdir}")
        print(f"{'variant':<22}{'rate':>6}{'offered':>9}{'ok':>6}{'failed':>8}{'done/s':>9}"
              f"{'agi p50 ms':>12}{'agi p99 ms':>12}{'tagged':>8}")
        results: dict[tuple[str, int], dict[str, float]] = {}
        for rate in rates:
            for variant, did in (("(a) YAML IVR / FastAGI", IVR_DID), ("(b) plain dialplan", PLAIN_DID)):
                stack.http("/ivr/stats?reset=1")
                since = time.time()
                r = run_load(stack, did, rate, args.duration)
                results[(variant[:3], rate)] = r
                p50 = p99 = tagged = "-"
                if did == IVR_DID:
                    time.sleep(3)  # let the last records reach the database
                    st = stack.http("/ivr/stats")[1]
                    p50, p99 = str(st["agi_p50_ms"]), str(st["agi_p99_ms"])
                    tagged = str(tagged_calls(stack, since))
                print(f"{variant:<22}{rate:>6}{r['offered']:>9}{r['ok']:>6}{r['failed']:>8}"
                      f"{r['completed_per_s']:>9.2f}{p50:>12}{p99:>12}{tagged:>8}", flush=True)
                time.sleep(2)
        for rate in rates:
            a, b = results[("(a)", rate)], results[("(b)", rate)]
            ratio = a["completed_per_s"] / b["completed_per_s"] if b["completed_per_s"] else float("nan")
            print(f"rate {rate}/s: (a) sustains {ratio:.1%} of (b)'s completed call rate")
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
