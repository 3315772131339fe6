"""An SMS rig for tests and benchmarks: real Kannel (bearerbox + smsbox + fake SMSC) on the stack's
ports (base+20…+23: the session stack's sandbox Kannel holds +13…+16) and the outbox worker
(``callcenter sms worker``) as a separate process serving the callback routes on base+24, both on one
database. Fails loudly when Kannel cannot start."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from callcenter.config import Config, dump_config
from callcenter.sms.kannel import KannelBoxes, installed
from callcenter.sms.settings import KannelSettings, SmsSettings
from callcenter.store import migrate
from callcenter.store.db import Database
from tests.harness.stack import REPO, default_port_base, wait_for


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3):
            return True
    except OSError:
        return False


class SmsRig:
    def __init__(self, workdir: Path, database_url: str, base: int | None = None, **sms: Any) -> None:
        self.workdir = workdir
        self.base = default_port_base() if base is None else base
        self.database_url = database_url
        self.callback_port = self.base + 24
        token = secrets.token_urlsafe(18)
        self.settings = SmsSettings(**{
            "callback_token": token, "callback_base_url": f"http://127.0.0.1:{self.callback_port}/sms",
            "retry_min_s": 0.5, "retry_max_s": 2.0, "send_lease_s": 5.0, "per_number_per_hour": 1000,
            "kannel": KannelSettings(admin_port=self.base + 20, smsbox_port=self.base + 21,
                                     fake_smsc_port=self.base + 22, sendsms_port=self.base + 23,
                                     password=secrets.token_urlsafe(12), admin_password=secrets.token_urlsafe(12)),
            **sms})
        self.kannel = KannelBoxes(self.settings, workdir / "kannel",
                                  f"{self.settings.callback_base_url}/mo/{token}")
        self.config_file = workdir / "callcenter.yaml"
        config = Config(database_url=database_url, data_dir=str(workdir / "var"), log_level="info", sms=self.settings)
        self.config_file.write_text(dump_config(config), encoding="utf-8")
        self.config_file.chmod(0o600)
        self.worker: subprocess.Popen[bytes] | None = None
        self.db = Database(database_url)

    def start(self) -> None:
        if not installed():
            raise RuntimeError("Kannel is not installed: run scripts/install-kannel (kannel, kannel-extras)")
        migrate.upgrade(self.database_url)
        self.kannel.start()  # raises KannelError with the box's log tail if it cannot
        self.start_worker()

    def start_worker(self) -> None:
        log = open(self.workdir / "worker.log", "ab")
        self.worker = subprocess.Popen(
            [str(Path(sys.executable).parent / "callcenter"), "--config", str(self.config_file), "sms", "worker",
             "--port", str(self.callback_port)], stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
            start_new_session=True)
        log.close()
        wait_for(lambda: _port_open(self.callback_port) or self.worker.poll() is not None, 20,
                 what="the sms worker's callback port")
        if self.worker.poll() is not None:
            raise RuntimeError(f"sms worker exited: {self.worker_log()}")

    def kill_worker(self) -> None:
        """SIGKILL: no goodbye, rows left mid-send."""
        if self.worker is not None and self.worker.poll() is None:
            os.killpg(self.worker.pid, signal.SIGKILL)
            self.worker.wait(10)
        self.worker = None

    def stop_worker(self) -> None:
        if self.worker is not None and self.worker.poll() is None:
            os.killpg(self.worker.pid, signal.SIGTERM)
            try:
                self.worker.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.worker.pid, signal.SIGKILL)
                self.worker.wait(5)
        self.worker = None

    def worker_log(self, lines: int = 30) -> str:
        p = self.workdir / "worker.log"
        return "\n".join(p.read_text("utf-8", "replace").splitlines()[-lines:]) if p.exists() else ""

    def stop(self) -> None:
        self.stop_worker()
        self.kannel.stop()
        self.db.dispose()

    def wait(self, fn: Any, timeout: float = 30.0, what: str = "condition") -> Any:
        return wait_for(fn, timeout, 0.1, what)

    @staticmethod
    def elapsed(t0: float) -> float:
        return time.monotonic() - t0
