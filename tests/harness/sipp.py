"""SIPp callers (UAC through the carrier trunk) and agents (UAS answering queue calls)."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from tests.harness.procs import stop_process

SCENARIOS = Path(__file__).resolve().parents[1] / "sipp"
DTMF_PCAP = "/usr/share/sip-tester/dtmf_2833_{}.pcap"

_env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(SCENARIOS)), undefined=jinja2.StrictUndefined,
                          autoescape=False)
# SIPp binds each media port and port + 2; 10 apart, in a block of its own per test stack
# (base + 3000 … base + 4999, see tests.harness.stack.Ports), reused round-robin: a SIPp process
# lives for one call, so a port comes round again long after its last user exited.
_MEDIA_BASE = int(os.environ.get("CALLCENTER_TEST_PORT_BASE", "25000")) + 3000
_MEDIA_SLOTS = 200
_media_ports = itertools.cycle(range(_MEDIA_BASE, _MEDIA_BASE + 10 * _MEDIA_SLOTS, 10))
_lock = threading.Lock()


def sipp_binary() -> str:
    path = shutil.which("sipp")
    if path is None:
        raise RuntimeError("SIPp is not installed: run 'scripts/install-asterisk' (package sip-tester) as root")
    return path


def next_media_port() -> int:
    with _lock:
        return next(_media_ports)


def render(template: str, out: Path, **values: object) -> Path:
    out.write_text(_env.get_template(template).render(**values), encoding="utf-8")
    return out


def dtmf_steps(digits: str, first_wait_ms: int = 1500, gap_ms: int = 600) -> list[dict[str, object]]:
    """DTMF keys (RFC 2833 pcaps shipped with SIPp) with the pause before each."""
    from tests.harness.dtmf import pcap_for

    return [{"digit": d, "wait_ms": first_wait_ms if i == 0 else gap_ms,
             "pcap": pcap_for(d, i)} for i, d in enumerate(digits)]


@dataclass
class CallResult:
    returncode: int
    stdout: str
    stderr: str
    errors: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@dataclass
class Caller:
    """One citizen's call: ``start()`` it, ``wait()`` for it; or ``run()`` both."""

    workdir: Path
    sip_target: str
    did: str
    caller_number: str
    caller_name: str = ""
    hold_ms: int = 30000
    dtmf: str = ""
    dtmf_first_wait_ms: int = 1500
    dtmf_gap_ms: int = 600
    audio: str | None = None
    local_ip: str = "127.0.0.2"
    timeout_s: int = 120
    proc: subprocess.Popen[str] | None = field(default=None, init=False)
    _errors: Path | None = field(default=None, init=False)

    def start(self) -> Caller:
        media = next_media_port()
        tag = f"caller-{self.caller_number}-{media}"
        scenario = render("caller.xml.j2", self.workdir / f"{tag}.xml", did=self.did,
                          caller_number=self.caller_number, caller_name=self.caller_name,
                          hold_ms=self.hold_ms, audio=self.audio,
                          dtmf=dtmf_steps(self.dtmf, self.dtmf_first_wait_ms, self.dtmf_gap_ms))
        self._errors = self.workdir / f"{tag}.errors.log"
        self.proc = subprocess.Popen(
            [sipp_binary(), self.sip_target, "-sf", str(scenario), "-i", self.local_ip,
             "-mp", str(media), "-m", "1", "-l", "1", "-nostdin", "-trace_err", "-error_file", str(self._errors),
             "-timeout", f"{self.timeout_s}s", "-timeout_error"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        return self

    def wait(self, timeout: float | None = None) -> CallResult:
        assert self.proc is not None
        out, err = self.proc.communicate(timeout=timeout or self.timeout_s + 10)
        errors = self._errors.read_text(errors="replace") if self._errors and self._errors.exists() else ""
        return CallResult(self.proc.returncode, out, err, errors)

    def run(self) -> CallResult:
        return self.start().wait()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Agent:
    """An agent phone: a SIPp UAS on the agent's static contact port; rings ring_ms, talks talk_ms."""

    def __init__(self, workdir: Path, agent_id: str, port: int, ring_ms: int = 1000, talk_ms: int = 5000,
                 local_ip: str = "127.0.0.1") -> None:
        self.workdir, self.agent_id, self.port = workdir, agent_id, port
        self.ring_ms, self.talk_ms, self.local_ip = ring_ms, talk_ms, local_ip
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Agent:
        scenario = render("agent.xml.j2", self.workdir / f"agent-{self.agent_id}.xml",
                          ring_ms=self.ring_ms, talk_ms=self.talk_ms)
        log = self.workdir / f"agent-{self.agent_id}.errors.log"
        self.proc = subprocess.Popen(
            [sipp_binary(), "-sf", str(scenario), "-i", self.local_ip, "-p", str(self.port),
             "-mp", str(next_media_port()), "-rtp_echo", "-aa", "-nostdin", "-trace_err", "-error_file", str(log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        return self

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None
