"""IVR parts of the end-to-end stack: flows dir, hotlines, the emergency trunk, the clock."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from callcenter.config import Config
    from tests.harness.stack import Ports, Stack

REPO = Path(__file__).resolve().parents[2]
TEST_FLOWS = REPO / "tests" / "ivr_flows"
# Prompts play at most this long in the tests: the shipped placeholders last up to 16 s (zh/short,
# which the test flows use, 1.4 s), and waiting them out tests nothing. Key presses are timed from it.
PROMPT_CAP_S = 0.8
GSM_FRAME = 33  # bytes per 20 ms

# Numbers the IVR tests dial, besides the call-path tests' 12345 and 12399 (no flow: straight to queue).
IVR_HOTLINES: list[dict[str, Any]] = [
    {"did": "12346", "name": "e2e", "queue": "main", "max_wait": 60, "flow": "e2e"},
    {"did": "12310", "name": "12345-ivr", "queue": "main", "max_wait": 120, "flow": "12345"},
    {"did": "12319", "name": "12319", "queue": "main", "max_wait": 120, "flow": "12319", "mailbox": "12319",
     "open_hours": "08:30-17:30,mon-fri,*,*", "calendar": "government"},
    {"did": "12347", "name": "reload", "queue": "main", "max_wait": 60, "flow": "e2e-reload"},
]


def emergency_port(ports: Ports) -> int:
    """Where the SIPp standing in for the 110 command centre listens (on 127.0.0.3)."""
    return ports.base + 66


def carrier_port(ports: Ports) -> int:
    """Where a SIPp standing in for the carrier (citizens called back) listens (on 127.0.0.2)."""
    return ports.base + 65


def trunks(ports: Ports) -> list[dict[str, Any]]:
    return [
        {"name": "carrier", "host": "127.0.0.2", "port": carrier_port(ports), "context": "from-trunk",
         "description": "carrier / SIP gateway"},
        {"name": "emergency", "host": "127.0.0.3", "port": emergency_port(ports), "context": "from-trunk",
         "description": "110/119/120 command centres (SIPp)"},
    ]


def flows_dir(workdir: Path) -> Path:
    """A private copy of the shipped flows plus the test flows (tests edit it)."""
    target = workdir / "ivr_flows"
    target.mkdir(parents=True, exist_ok=True)
    for src in [*sorted((REPO / "ivr_flows").glob("*.yaml")), *sorted(TEST_FLOWS.glob("*.yaml"))]:
        shutil.copy2(src, target / src.name)
    return target


def prompts_dir(workdir: Path) -> Path:
    """The shipped prompts, each cut to its first PROMPT_CAP_S seconds (whole GSM frames)."""
    target = workdir / "prompts"
    keep = int(PROMPT_CAP_S * 50) * GSM_FRAME
    for src in (REPO / "prompts").rglob("*"):
        if src.is_file():
            dst = target / src.relative_to(REPO / "prompts")
            dst.parent.mkdir(parents=True, exist_ok=True)
            data = src.read_bytes()
            dst.write_bytes(data[:keep] if src.suffix == ".gsm" else data)
    return target


def ivr_config(workdir: Path) -> dict[str, Any]:
    return {"flows_dir": str(flows_dir(workdir)), "prompts_dir": str(prompts_dir(workdir)),
            "watch_interval_s": 0.5, "allow_clock_override": True, "fallback_prompt": "zh/short"}


def forget_stale_run_dir(config: Config, run_dir: Path) -> None:
    """Remove what an earlier session left of this sandbox inside Asterisk 22's chroot.

    pytest empties its base directory at each run, but for Asterisk 22 the run directory is a link
    into the chroot, and the chroot side stays: its mailboxes would be swept into this session's
    fresh database as voicemails nobody left in it.
    """
    if config.asterisk.flavour != "22" or run_dir.is_symlink() or run_dir.exists():
        return
    inside = Path(config.asterisk.chroot) / str(run_dir.absolute()).lstrip("/")
    if inside.is_dir():
        shutil.rmtree(inside)


def set_clock(stack: Stack, epoch: float | None) -> None:
    """Move the daemon's IVR clock (``None``: the real time again)."""
    code, body = stack.http("/ivr/clock", method="PUT", body={"now": epoch})
    assert code == 200, body


def set_fallback_clock(stack: Stack, epoch: float | None) -> None:
    """Move the clock the dialplan fallback's calendars read (``None``: the real time again).

    An Asterisk global variable (``CC_CLOCK_OFFSET``, rendered only with ``allow_clock_override``):
    works while the daemon is down, which is when the fallback runs.
    """
    offset = 0 if epoch is None else round(epoch - time.time())
    reply = stack.ami({"Action": "Setvar", "Variable": "CC_CLOCK_OFFSET", "Value": str(offset)})
    assert reply.get("Response") == "Success", reply


def emergency_endpoint(stack: Stack, talk_ms: int = 3000) -> subprocess.Popen[str]:
    """A SIPp UAS on 127.0.0.3 standing in for 110: answers one call, talks, hangs up, exits 0."""
    from tests.harness.sipp import next_media_port, render, sipp_binary

    scenario = render("agent.xml.j2", stack.workdir / "emergency-110.xml", ring_ms=300, talk_ms=talk_ms)
    return subprocess.Popen(
        [sipp_binary(), "-sf", str(scenario), "-i", "127.0.0.3", "-p", str(emergency_port(stack.ports)),
         "-mp", str(next_media_port()), "-m", "1", "-rtp_echo", "-nostdin", "-timeout", "60s", "-timeout_error",
         "-trace_err", "-error_file", str(stack.workdir / "emergency-110.errors.log")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def prompt_seconds(name: str) -> float:
    """How long a prompt plays in the tests (see PROMPT_CAP_S)."""
    return min(PROMPT_CAP_S, (REPO / "prompts" / f"{name}.gsm").stat().st_size / (50 * GSM_FRAME))
