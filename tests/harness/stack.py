"""A whole call centre for end-to-end tests: sandboxed Asterisk + ``callcenter run`` subprocess."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from callcenter.asterisk.ami.client import AmiClient
from callcenter.asterisk.ami.translate import queue_status_snapshot
from callcenter.asterisk.sandbox import Sandbox
from callcenter.config import AgentConfig, Config, load_config
from callcenter.events import QueueStatusSnapshot
from callcenter.store.db import Database
from tests.harness import ivr
from tests.harness.audio import ulaw_tone
from tests.harness.procs import stop_process
from tests.harness.sipp import Agent, Caller

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]


def wait_for(fn: Callable[[], T], timeout: float = 20.0, interval: float = 0.2, what: str = "condition") -> T:
    """Poll ``fn`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = fn()
        except Exception as exc:  # the thing polled may not exist yet
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


def default_port_base() -> int:
    """Ports of the test stack start here ($CALLCENTER_TEST_PORT_BASE, default 25000)."""
    return int(os.environ.get("CALLCENTER_TEST_PORT_BASE", "25000"))


@dataclass(frozen=True)
class Ports:
    """Every port one test stack uses, from a base: SIP, AMI, web, AGI, agents, RTP, SIPp media.

    Layout (all below base + 5000, so stacks whose bases are 5000 apart never collide): +38 AMI,
    +60 SIP, +65 the carrier's SIPp (outbound calls to citizens), +66 the 110 SIPp, +73 FastAGI,
    +80 web, +1000… agents' phones, +2000…+2999 Asterisk's RTP, +3000…+4999 SIPp media.
    """

    base: int = field(default_factory=default_port_base)

    @property
    def sip(self) -> int:
        return self.base + 60

    @property
    def ami(self) -> int:
        return self.base + 38

    @property
    def web(self) -> int:
        return self.base + 80

    @property
    def agi(self) -> int:
        return self.base + 73

    def agent(self, index: int) -> int:
        return self.base + 1000 + index


class Stack:
    """Sandbox Asterisk + daemon, and helpers to drive and inspect them."""

    def __init__(self, workdir: Path, flavour: str, database_url: str, ports: Ports | None = None,
                 agents: int = 4, overrides: dict[str, Any] | None = None) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ports = ports = ports or Ports()
        self.flavour = flavour
        self.database_url = database_url
        agent_cfgs = [AgentConfig(id=str(1001 + i), name=f"坐席{1001 + i}",
                                  contact=f"sip:{1001 + i}@127.0.0.1:{ports.agent(i)}") for i in range(agents)]
        # one more agent without a static contact: a real softphone registers as it
        agent_cfgs.append(AgentConfig(id=str(1001 + agents), name="softphone"))
        base = Config().model_dump(mode="json")
        data: dict[str, Any] = {
            **base,
            # one node name per stack: stacks of parallel runs share Redis, never its keys
            "node": f"cc{ports.base}",
            "data_dir": str(workdir / "var"),
            "database_url": database_url,
            "log_level": "debug",
            "ami": {**base["ami"], "port": ports.ami, "reconnect_min_s": 0.2, "reconnect_max_s": 2.0},
            "agi": {**base["agi"], "port": ports.agi},
            "web": {**base["web"], "port": ports.web},
            "asterisk": {**base["asterisk"], "flavour": flavour, "sip_port": ports.sip, "qualify_frequency": 1,
                         "queue_log_interval_s": 1.0, "queue_log_lag_s": 3.0,
                         "qualify_timeout": 0.8, "trunks": ivr.trunks(ports),
                         "rtp_start": ports.base + 2000, "rtp_end": ports.base + 2999},
            "queues": [
                {"name": "main", "description": "12345", "ring_timeout": 30, "retry": 1},
                {"name": "complaints", "description": "complaints", "ring_timeout": 30, "retry": 1},
            ],
            "hotlines": [
                {"did": "12345", "name": "12345", "queue": "main", "max_wait": 120},
                {"did": "12399", "name": "timeout-line", "queue": "complaints", "max_wait": 6},
                *ivr.IVR_HOTLINES,
            ],
            "ivr": ivr.ivr_config(workdir),
            "agents": [a.model_dump(mode="json") for a in agent_cfgs],
            # after-call work off: tests place calls back to back (test_desk_workflow turns it on)
            "desk": {**base["desk"], "after_call_work": {**base["desk"]["after_call_work"], "seconds": 0}},
            # Kannel's boxes: +13 admin, +14 bearerbox↔smsbox, +15 fake SMSC link, +16 sendsms
            "sms": {**base["sms"], "kannel": {**base["sms"]["kannel"], "admin_port": ports.base + 13,
                                              "smsbox_port": ports.base + 14, "fake_smsc_port": ports.base + 15,
                                              "sendsms_port": ports.base + 16}},
        }
        for key, value in (overrides or {}).items():
            data[key] = value
        self.base_config = Config.model_validate(data)
        ivr.forget_stale_run_dir(self.base_config, workdir / "asterisk")
        self.sandbox = Sandbox(self.base_config, workdir / "asterisk")
        self.config: Config = self.sandbox.config
        self.capture = workdir / "ami-capture.raw"
        self.daemon: subprocess.Popen[bytes] | None = None
        self.daemon_log = workdir / "daemon.log"
        self.audio = str(ulaw_tone(workdir / "caller-audio.ulaw"))
        self.agents: dict[str, Agent] = {}
        self._db: Database | None = None

    # ---- lifecycle -------------------------------------------------------------------------------
    def start(self) -> Stack:
        self.sandbox.start()
        self.config = load_config(self.sandbox.config_file)
        self.start_daemon()
        return self

    def start_daemon(self, database_url: str | None = None, overrides: dict[str, Any] | None = None) -> None:
        """Start ``callcenter run``; ``database_url`` points this run at another database, ``overrides``
        replace other top-level settings (e.g. ``data_dir``, ``redis_url``) for this run."""
        config_file = self.sandbox.config_file
        if database_url is not None or overrides:
            data = yaml.safe_load(config_file.read_text())
            data.update(overrides or {})
            if database_url is not None:
                data["database_url"] = database_url
            config_file = self.workdir / "callcenter-alt.yaml"
            dump(config_file, data)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        log = open(self.daemon_log, "ab")
        self.daemon = subprocess.Popen(
            [sys.executable, "-m", "callcenter.cli.main", "--config", str(config_file), "run",
             "--capture", str(self.capture), "--migrate"],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(REPO),
        )
        log.close()
        wait_for(lambda: self.health().get("ami_connected"), 30, what="the daemon to connect to AMI")

    def stop_daemon(self, sig: int = signal.SIGTERM) -> None:
        stop_process(self.daemon, sig, timeout=30)
        self.daemon = None

    def stop(self) -> None:
        for agent in self.agents.values():
            agent.stop()
        self.stop_daemon()
        self.sandbox.stop()
        if self._db is not None:
            self._db.dispose()

    def daemon_log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.daemon_log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    # ---- web / CLI ---------------------------------------------------------------------------------
    def http(self, path: str, token: str | None = "ops", method: str = "GET", body: Any = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
        url = f"http://127.0.0.1:{self.ports.web}{path}"
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        if token == "ops":
            req.add_header("Authorization", f"Bearer {self.config.web.ops_token}")
        elif token:
            req.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                raw = resp.read()
                code = resp.status
        except urllib.error.HTTPError as exc:
            raw, code = exc.read(), exc.code
        try:
            return code, json.loads(raw)
        except ValueError:
            return code, raw

    def health(self) -> dict[str, Any]:
        code, body = self.http("/ops/health")
        return body if code == 200 else {}

    def live(self, show_numbers: bool = True) -> dict[str, Any]:
        return self.http("/ops/live?show_numbers=1" if show_numbers else "/ops/live")[1]

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "callcenter.cli.main", "--config", str(self.sandbox.config_file), *args],
            capture_output=True, text=True, cwd=str(REPO), timeout=120,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"callcenter {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    def cli_json(self, *args: str) -> Any:
        return json.loads(self.cli(*args, "--json").stdout)

    # ---- Asterisk ------------------------------------------------------------------------------------
    def ami(self, action: dict[str, Any], as_list: bool = False) -> Any:
        async def go() -> Any:
            c = self.config.ami
            client = AmiClient(c.host, c.port, c.username, c.secret, on_event=lambda _m: None)
            await client.open()
            try:
                return await client.action(action, as_list=as_list)
            finally:
                await client.close()

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(go())
        # A loop already runs in this thread (Playwright's sync API): use a thread of our own.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, go()).result()

    def queue_status(self) -> QueueStatusSnapshot:
        return queue_status_snapshot(self.ami({"Action": "QueueStatus"}, as_list=True), time.time())

    def reset_queues(self) -> None:
        for q in self.config.queues:
            self.ami({"Action": "QueueReset", "Queue": q.name})

    def agent_phone(self, agent_id: str, ring_ms: int = 1000, talk_ms: int = 5000) -> Agent:
        """(Re)start the SIPp phone of a static-contact agent with the given behaviour."""
        old = self.agents.pop(agent_id, None)
        if old is not None:
            old.stop()
        index = int(agent_id) - 1001
        phone = Agent(self.workdir, agent_id, self.ports.agent(index), ring_ms, talk_ms).start()
        self.agents[agent_id] = phone
        return phone

    def wait_agent_reachable(self, *agent_ids: str, timeout: float = 20.0) -> None:
        """Wait until each agent's phone answers qualify and keeps answering for 1.5 s.

        Right after a phone starts, an OPTIONS sent before it listened may still time out and flip
        the contact back to Unreachable; app_queue would then skip the agent.
        """
        def reachable() -> bool:
            return all("Avail" in self.sandbox.cli(f"pjsip show aor {a}") for a in agent_ids)

        deadline = time.monotonic() + timeout
        while True:
            wait_for(reachable, max(0.1, deadline - time.monotonic()), 0.2, f"phones {agent_ids} reachable")
            time.sleep(1.5)
            if reachable():
                return

    def login(self, agent_id: str, *queues: str) -> None:
        args = ["agent", "login", agent_id]
        for q in queues:
            args += ["-q", q]
        self.cli(*args)

    def hangup_all(self, timeout: float = 10.0) -> None:
        """Hang up every channel Asterisk still has (a killed SIPp leaves its half of a call behind, and a
        busy agent device would keep the queue from ringing that agent in the next test)."""
        from callcenter.asterisk.ami.client import AmiError

        def left() -> list[str]:
            msgs = self.ami({"Action": "CoreShowChannels"}, as_list=True)
            return [str(m.get("Channel")) for m in msgs if m.get("Event") == "CoreShowChannel"]

        for channel in left():
            try:
                self.ami({"Action": "Hangup", "Channel": channel})
            except AmiError:  # gone meanwhile (the other half of a Local pair)
                pass
        wait_for(lambda: not left() or None, timeout, what="no channels left")  # type: ignore[arg-type]

    def logout_everyone(self) -> None:
        """Remove every queue member in one AMI session (the CLI path is tested on its own)."""
        for member in self.queue_status().members:
            self.ami({"Action": "QueueRemove", "Queue": member.queue, "Interface": member.interface})

    def caller(self, number: str, name: str = "", did: str = "12345", hold_ms: int = 30000, dtmf: str = "",
               audio: bool = True, **kwargs: Any) -> Caller:
        return Caller(self.workdir, f"127.0.0.1:{self.ports.sip}", did, number, name, hold_ms, dtmf,
                      audio=self.audio if audio else None, **kwargs)

    # ---- database ------------------------------------------------------------------------------------
    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = Database(self.config.effective_database_url)
        return self._db

    def query(self, fn: Callable[[Any], T]) -> T:
        with self.db.session() as session:
            return fn(session)


def stack_settings() -> tuple[str, str]:
    """(Asterisk flavour, database URL) for this test run, from the environment."""
    flavour = os.environ.get("CALLCENTER_ASTERISK", "22")
    if flavour not in ("16", "22"):
        raise RuntimeError(f"CALLCENTER_ASTERISK must be 16 or 22, not {flavour!r}")
    return flavour, os.environ.get("CALLCENTER_TEST_DATABASE", "sqlite")


def dump(path: Path, data: Any) -> None:
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
