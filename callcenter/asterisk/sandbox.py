"""Render ``asterisk_conf/`` into a private run directory and run Asterisk from it.

Two installations are supported (see ``scripts/install-asterisk``):

* ``16``: Debian 11's Asterisk 16 installed on the host (``/usr/sbin/asterisk``);
* ``22``: Asterisk 22 from Debian unstable inside a chroot (default ``/opt/callcenter/asterisk22``).

For the chroot, the run directory physically lives inside the chroot at the same absolute path and
the host path is a symlink to it, so every path Asterisk reports (recordings, voicemail, queue_log)
is valid on the host as well.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import yaml

from callcenter import files, yamlfiles
from callcenter.config import Config, dump_config

CONF_TEMPLATES = Path(__file__).resolve().parents[2] / "asterisk_conf"


class SandboxError(Exception):
    """Asterisk could not be rendered, started or stopped; the message says why."""


@dataclass(frozen=True)
class AsteriskInstall:
    """Where one Asterisk installation keeps its binary, modules and data."""

    flavour: str
    root: Path | None
    modules_dir: str
    data_dir: str = "/usr/share/asterisk"

    @classmethod
    def detect(cls, flavour: str, chroot: str) -> AsteriskInstall:
        if flavour == "22":
            root = Path(chroot)
            if not (root / "usr/sbin/asterisk").exists() or not (root / ".callcenter-complete").exists():
                raise SandboxError(
                    f"Asterisk 22 is not installed in {root}: run 'scripts/install-asterisk 22' as root"
                )
            return cls("22", root, "/usr/lib/x86_64-linux-gnu/asterisk/modules")
        if flavour == "16":
            if not Path("/usr/sbin/asterisk").exists():
                raise SandboxError("Asterisk 16 is not installed: run 'scripts/install-asterisk 16' as root")
            return cls("16", None, "/usr/lib/asterisk/modules")
        raise SandboxError(f"unknown Asterisk flavour {flavour!r} (16 or 22)")

    def command(self, *args: str) -> list[str]:
        """The argv that runs ``asterisk *args`` in this installation."""
        if self.root is not None:
            return ["chroot", str(self.root), "/usr/sbin/asterisk", *args]
        return ["/usr/sbin/asterisk", *args]

    def version(self) -> str:
        out = subprocess.run(self.command("-V"), capture_output=True, text=True, check=False)
        return out.stdout.strip()


def _free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


class Sandbox:
    """One private Asterisk: rendered config, directories, process."""

    def __init__(self, config: Config, run_dir: str | os.PathLike[str]) -> None:
        self.run_dir = Path(run_dir).absolute()
        self.install = AsteriskInstall.detect(config.asterisk.flavour, config.asterisk.chroot)
        self.config = self._with_secrets(config)
        self._proc: subprocess.Popen[bytes] | None = None

    # ---- paths -----------------------------------------------------------------
    @property
    def etc_dir(self) -> Path:
        return self.run_dir / "etc"

    @property
    def asterisk_conf(self) -> Path:
        return self.etc_dir / "asterisk.conf"

    @property
    def recordings_dir(self) -> Path:
        return self.run_dir / "spool" / "recordings"

    @property
    def voicemail_dir(self) -> Path:
        return self.run_dir / "spool" / "voicemail"

    @property
    def sounds_dir(self) -> Path:
        """Our prompts, copied where Asterisk (also in its chroot) can read them."""
        return self.run_dir / "sounds" / "callcenter"

    @property
    def queue_log(self) -> Path:
        return self.run_dir / "log" / "queue_log"

    @property
    def config_file(self) -> Path:
        """A complete callcenter.yaml that points the daemon at this sandbox."""
        return self.run_dir / "callcenter.yaml"

    @property
    def secrets_file(self) -> Path:
        return self.run_dir / "secrets.yaml"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "asterisk.pid"

    # ---- secrets -----------------------------------------------------------------
    def _with_secrets(self, config: Config) -> Config:
        """Fill in secrets the config leaves empty, generated once per run directory."""
        self._prepare_run_dir()
        stored: dict = {}
        if self.secrets_file.exists():
            stored = yamlfiles.load_file(self.secrets_file) or {}
        changed = False

        def gen(path: tuple[str, ...], given: str) -> str:
            nonlocal changed
            cursor = stored
            for k in path[:-1]:
                cursor = cursor.setdefault(k, {})
            if given:
                # Kept in the secrets file too: the daemon reads the rendered callcenter.yaml (no
                # secrets) plus this file, so a secret given in the config must land here.
                if cursor.get(path[-1]) != given:
                    cursor[path[-1]] = given
                    changed = True
                return given
            if not cursor.get(path[-1]):
                cursor[path[-1]] = secrets.token_urlsafe(18)
                changed = True
            return cursor[path[-1]]

        ami_secret = gen(("ami", "secret"), config.ami.secret)
        web_key = gen(("web", "secret_key"), config.web.secret_key)
        ops_token = gen(("web", "ops_token"), config.web.ops_token)
        agi_secret = gen(("agi", "secret"), config.agi.secret)
        passwords = dict(config.agent_passwords)
        for a in config.agents:
            passwords[a.id] = gen(("agent_passwords", a.id), config.agent_password(a.id))
        sms = config.sms
        sms_secrets = {"callback_token": gen(("sms", "callback_token"), sms.callback_token),
                       "kannel": {**sms.kannel.model_dump(),
                                  "password": gen(("sms", "kannel", "password"), sms.kannel.password),
                                  "admin_password": gen(("sms", "kannel", "admin_password"),
                                                        sms.kannel.admin_password)}}
        if changed:
            files.write_private(self.secrets_file, yaml.safe_dump(stored, sort_keys=True))
        files.make_private(self.secrets_file)
        return config.with_overrides(
            ami={**config.ami.model_dump(), "secret": ami_secret},
            web={**config.web.model_dump(), "secret_key": web_key, "ops_token": ops_token},
            agi={**config.agi.model_dump(), "secret": agi_secret},
            agent_passwords=passwords,
            sms={**sms.model_dump(), **sms_secrets},
        )

    # ---- rendering ---------------------------------------------------------------
    def _prepare_run_dir(self) -> None:
        root = self.install.root
        if root is None:
            if self.run_dir.is_symlink():
                self.run_dir.unlink()
            files.private_dir(self.run_dir)
            return
        inside = root / str(self.run_dir).lstrip("/")
        files.private_dir(inside)
        if self.run_dir.is_symlink():
            if self.run_dir.resolve() == inside.resolve():
                return
            self.run_dir.unlink()
        elif self.run_dir.exists():
            raise SandboxError(
                f"{self.run_dir} is a real directory, but Asterisk 22 runs in a chroot and needs it to be "
                f"a link into {root}: remove it (or pick another run directory)"
            )
        self.run_dir.parent.mkdir(parents=True, exist_ok=True)
        self.run_dir.symlink_to(inside, target_is_directory=True)

    def context(self) -> dict:
        c = self.config
        agents = [
            {"id": a.id, "name": a.name or f"Agent {a.id}", "password": c.agent_password(a.id),
             "contact": a.contact}
            for a in c.agents
        ]
        from callcenter.ivr import fallback

        try:
            hours = fallback.render(c)
        except fallback.FallbackHoursError as exc:
            raise SandboxError(str(exc)) from exc
        hotlines = [
            {**h.model_dump(), "mailbox": h.mailbox or h.did, "hours_context": hours.context_of[h.did]}
            for h in c.hotlines
        ]
        return {
            "run_dir": str(self.run_dir),
            "modules_dir": self.install.modules_dir,
            "data_dir": self.install.data_dir,
            "language": c.asterisk.language,
            "system_name": c.node,
            "ami_port": c.ami.port,
            "ami_bind": c.ami.host,
            "ami_permit": f"{c.ami.host}/255.255.255.255",
            "ami_username": c.ami.username,
            "ami_secret": c.ami.secret,
            "sip_bind": c.asterisk.sip_bind,
            "sip_port": c.asterisk.sip_port,
            "rtp_start": c.asterisk.rtp_start,
            "rtp_end": c.asterisk.rtp_end,
            "qualify_frequency": c.asterisk.qualify_frequency,
            "qualify_timeout": c.asterisk.qualify_timeout,
            "trunks": [t.model_dump() for t in c.asterisk.trunks],
            "agents": agents,
            "queues": [q.model_dump() for q in c.queues],
            "defaults": {"servicelevel": c.kpi.threshold_s},
            "hotlines": hotlines,
            "recordings_dir": str(self.recordings_dir),
            "agi_host": c.agi.host,
            "agi_port": c.agi.port,
            "agi_query": f"?secret={c.agi.secret}" if c.agi.secret else "",
            "timezone": c.timezone,
            "sounds_dir": str(self.sounds_dir),
            "fallback_prompt": c.ivr.fallback_prompt,
            "hours_dialplan": hours.dialplan,
            "clock_override": c.ivr.allow_clock_override,
        }

    def render(self) -> None:
        """Write every configuration file and create the directories Asterisk writes to."""
        # 0700 whatever the caller's umask: recordings, voicemail and logs hold callers' data
        for sub in ("etc", "lib/keys", "agi-bin", "spool/recordings", "spool/voicemail", "run",
                    "log/cdr-csv", "sounds"):
            for part in reversed((self.run_dir / sub).relative_to(self.run_dir).parents):
                if str(part) != ".":
                    files.private_dir(self.run_dir / part)
            files.private_dir(self.run_dir / sub)
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(CONF_TEMPLATES)),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        ctx = self.context()
        for tpl in sorted(CONF_TEMPLATES.glob("*.conf")):
            try:
                text = env.get_template(tpl.name).render(**ctx)
            except jinja2.TemplateError as exc:
                raise SandboxError(f"{tpl}: cannot render: {exc}") from exc
            # manager.conf, pjsip.conf and extensions.conf hold secrets: every rendered file 0600
            files.write_private(self.etc_dir / tpl.name, text)
        from callcenter.ivr.prompts import sync

        ivr = self.config.ivr
        sync(Path(ivr.prompts_dir), self.sounds_dir)
        daemon_config = self.config.with_overrides(
            data_dir=str(Path(self.config.data_dir).absolute()),
            secrets_file=str(self.secrets_file),
            asterisk={**self.config.asterisk.model_dump(), "queue_log": str(self.queue_log),
                      "recordings_dir": str(self.recordings_dir)},
            ivr={**ivr.model_dump(), "flows_dir": str(Path(ivr.flows_dir).absolute()),
                 "prompts_dir": str(Path(ivr.prompts_dir).absolute()),
                 "asterisk_sounds_dir": str(self.sounds_dir), "voicemail_dir": str(self.voicemail_dir)},
        )
        files.write_private(self.config_file, dump_config(daemon_config, without_secrets=True))

    # ---- process -----------------------------------------------------------------
    def _running_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        return pid if b"asterisk" in cmdline and str(self.asterisk_conf).encode() in cmdline else None

    def is_running(self) -> bool:
        return self._running_pid() is not None

    def start(self, timeout: float = 30.0) -> None:
        """Render, start Asterisk in the foreground as a child, wait until AMI answers."""
        if self.is_running():
            raise SandboxError(f"an Asterisk already runs from {self.run_dir} (pid {self._running_pid()})")
        self._check_ports()
        self.render()
        log = open(self.run_dir / "log" / "console.log", "ab")
        files.make_private(self.run_dir / "log" / "console.log")
        self._proc = subprocess.Popen(
            self.install.command("-C", str(self.asterisk_conf), "-f", "-n", "-q"),
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            umask=files.UMASK,  # recordings, voicemail, queue_log, logs: 0600/0700 whoever started us
        )
        log.close()
        files.write_private(self.pid_file, str(self._proc.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise SandboxError(
                    f"Asterisk exited with {self._proc.returncode} while starting; see "
                    f"{self.run_dir / 'log' / 'console.log'}:\n{self.console_tail()}"
                )
            if self._ami_answers():
                if self._fully_booted():
                    self._start_kannel()
                    return
            time.sleep(0.1)
        self.stop()
        raise SandboxError(f"Asterisk did not answer on AMI within {timeout} s:\n{self.console_tail()}")

    # ---- the SMS gateway (Kannel with its fake SMSC as the carrier) ------------------
    @property
    def kannel(self) -> Any:
        from callcenter.sms.kannel import KannelBoxes
        from callcenter.sms.plugin import callback_base

        c = self.config
        return KannelBoxes(c.sms, self.run_dir / "kannel", f"{callback_base(c)}/mo/{c.sms.callback_token}")

    def _start_kannel(self) -> None:
        from callcenter.sms.kannel import KannelError, installed

        if not (self.config.sms.enabled and self.config.sms.kannel.sandbox):
            return
        if not installed():
            logging.getLogger(__name__).warning(
                "sandbox: Kannel is not installed (scripts/install-kannel); SMS stay in the outbox")
            return
        try:
            self.kannel.start()
        except KannelError as exc:
            # Calls must not depend on the SMS gateway: Asterisk stays up, the outbox keeps the messages.
            logging.getLogger(__name__).error("sandbox: Kannel did not start: %s", exc)

    def console_tail(self, lines: int = 30) -> str:
        try:
            text = (self.run_dir / "log" / "console.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _check_ports(self) -> None:
        c = self.config
        for host, port, what in ((c.ami.host, c.ami.port, "AMI"),):
            if not _free(host, port):
                raise SandboxError(f"{what} port {host}:{port} is taken: another Asterisk is running?")

    def _ami_answers(self) -> bool:
        try:
            with socket.create_connection((self.config.ami.host, self.config.ami.port), timeout=0.5) as s:
                return s.recv(64).startswith(b"Asterisk Call Manager/")
        except OSError:
            return False

    def _fully_booted(self) -> bool:
        out = self.cli("core waitfullybooted", timeout=10)
        return "fully booted" in out.lower()

    def cli(self, command: str, timeout: float = 10.0) -> str:
        """Run one Asterisk CLI command against this sandbox and return its output."""
        res = subprocess.run(
            self.install.command("-C", str(self.asterisk_conf), "-rx", command),
            capture_output=True, text=True, timeout=timeout, check=False,
        )
        return res.stdout + res.stderr

    def stop(self, timeout: float = 15.0) -> None:
        """Stop Asterisk: a clean 'core stop now', then SIGTERM, then SIGKILL (and Kannel)."""
        self.kannel.stop()
        pid = self._running_pid()
        if pid is None:
            self._reap()
            return
        try:
            self.cli("core stop now", timeout=5)
        except subprocess.TimeoutExpired:
            pass
        if not self._wait_gone(pid, timeout / 2):
            os.killpg(pid, signal.SIGTERM)
            if not self._wait_gone(pid, timeout / 2):
                os.killpg(pid, signal.SIGKILL)
                self._wait_gone(pid, 5)
        self._reap()
        self.pid_file.unlink(missing_ok=True)

    def _wait_gone(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.pid == pid:
                if self._proc.poll() is not None:
                    return True
            else:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    return True
                if Path(f"/proc/{pid}/stat").exists() and " Z " in Path(f"/proc/{pid}/stat").read_text():
                    return True
            time.sleep(0.05)
        return False

    def _reap(self) -> None:
        if self._proc is not None:
            try:
                self._proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
            self._proc = None

    def wipe(self) -> None:
        """Remove the run directory (only when Asterisk is stopped)."""
        if self.is_running():
            raise SandboxError("stop the sandbox first")
        target = self.run_dir.resolve()
        shutil.rmtree(target, ignore_errors=True)
        if self.run_dir.is_symlink():
            self.run_dir.unlink()
