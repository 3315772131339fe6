"""Run Kannel (bearerbox + smsbox, and the fake SMSC as the carrier) from a private directory.

Used by the sandbox (``callcenter sandbox start`` / ``run --sandbox``) and the tests: the config is
rendered into ``<run_dir>/kannel/kannel.conf`` (mode 0600: it holds the passwords), every box is our
own child with a pid file, and ``stop`` ends them by those pids. The fake SMSC reads MOs from a FIFO
(:meth:`KannelBoxes.send_mo`) and writes each MT it gets to ``fakesmsc.log`` (:func:`read_fake_smsc`).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote_to_bytes

from callcenter.sms.settings import SmsSettings

BEARERBOX = "/usr/sbin/bearerbox"
SMSBOX = "/usr/sbin/smsbox"
FAKESMSC = "/usr/lib/kannel/test/fakesmsc"


class KannelError(RuntimeError):
    pass


def installed() -> bool:
    return all(os.access(p, os.X_OK) for p in (BEARERBOX, SMSBOX, FAKESMSC))


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.3):
            return True
    except OSError:
        return False


def render_conf(settings: SmsSettings, run_dir: Path, mo_url: str) -> str:
    """kannel.conf for a private bearerbox + smsbox with the fake SMSC link (mo_url: our MO route)."""
    k = settings.kannel
    q = lambda v: str(v).replace('"', "")  # noqa: E731  (values are ours; no quotes inside strings)
    return f"""# Rendered by callcenter.sms.kannel; do not edit (re-rendered at every start).
group = core
admin-port = {k.admin_port}
admin-password = "{q(k.admin_password)}"
admin-allow-ip = "127.0.0.1"
smsbox-port = {k.smsbox_port}
box-allow-ip = "127.0.0.1"
log-file = "{run_dir}/bearerbox.log"
log-level = 1
dlr-storage = internal
store-type = file
store-location = "{run_dir}/kannel.store"

group = smsc
smsc = fake
smsc-id = fake1
port = {k.fake_smsc_port}
connect-allow-ip = "127.0.0.1"

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {k.smsbox_port}
sendsms-port = {k.sendsms_port}
sendsms-interface = "{k.host}"
global-sender = "{q(settings.sender)}"
log-file = "{run_dir}/smsbox.log"
log-level = 1
mo-recode = true

group = sendsms-user
username = "{q(k.username)}"
password = "{q(k.password)}"
max-messages = {k.max_messages}
concatenation = true

group = sms-service
keyword = default
get-url = "{q(mo_url)}?from=%p&to=%P&text=%a&coding=%c&charset=%C"
max-messages = 0
catch-all = true
"""


@dataclass
class FakeSms:
    """One MT as the fake SMSC printed it (parts of a concatenated message joined)."""

    sender: str
    to: str
    text: str
    parts: int


_LINE = re.compile(r"Got message \d+: <(\S+) (\S+) (\S+) (.*)>\s*$")


def _bytes(printed: str) -> bytes:
    """fakesmsc prints binary data URL-encoded with '+' for a 0x20 byte."""
    return unquote_to_bytes(printed.replace("+", " "))


def read_fake_smsc(path: Path) -> list[FakeSms]:
    """The messages in a fakesmsc output file, in order; concatenated parts joined by reference."""
    out: list[FakeSms] = []
    pending: dict[tuple[str, int], dict[int, bytes]] = {}
    try:
        lines = path.read_text("latin-1").splitlines()
    except FileNotFoundError:
        return []
    for line in lines:
        m = _LINE.search(line)
        if not m:
            continue
        sender, to, kind, rest = m.groups()
        if kind == "text":
            out.append(FakeSms(sender, to, unquote_to_bytes(rest).decode("utf-8", "replace"), 1))
        elif kind == "ucs-2":
            out.append(FakeSms(sender, to, _bytes(rest).decode("utf-16-be", "replace"), 1))
        elif kind == "udh":
            udh_s, _, data = rest.partition(" data ")
            udh = unquote_to_bytes(udh_s)
            if len(udh) < 6 or udh[1] != 0:
                continue
            ref, total, seq = udh[3], udh[4], udh[5]
            parts = pending.setdefault((to, ref), {})
            parts[seq] = _bytes(data)
            if len(parts) == total:
                del pending[(to, ref)]
                raw = b"".join(parts[i] for i in sorted(parts))
                # Parts carry no coding in this print; we send concatenated messages as UCS-2 or GSM.
                try:
                    text = raw.decode("utf-16-be")
                except UnicodeDecodeError:
                    text = raw.decode("latin-1")
                out.append(FakeSms(sender, to, text, total))
    return out


class KannelBoxes:
    """bearerbox + smsbox (+ fakesmsc) as our own children, configured from ``settings``."""

    def __init__(self, settings: SmsSettings, run_dir: str | os.PathLike[str], mo_url: str,
                 fake_smsc: bool = True) -> None:
        self.settings = settings
        self.run_dir = Path(run_dir).absolute()
        self.mo_url = mo_url
        self.fake_smsc = fake_smsc
        self.conf = self.run_dir / "kannel.conf"
        self.fifo = self.run_dir / "mo.fifo"
        self.fake_log = self.run_dir / "fakesmsc.log"

    def _pidfile(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def _pid(self, name: str) -> int | None:
        try:
            pid = int(self._pidfile(name).read_text())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        try:  # our own exited child: reap it (a zombie still answers kill 0)
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return None
        except ChildProcessError:
            pass
        return pid

    def render(self) -> None:
        # Kannel's logs hold citizens' numbers and texts: the owner's only, whatever the caller's umask
        self.run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.run_dir.chmod(0o700)
        k = self.settings.kannel
        if not (k.password and k.admin_password):
            raise KannelError("sms.kannel.password and admin_password must be set (the sandbox generates them)")
        fd = os.open(self.conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(render_conf(self.settings, self.run_dir, self.mo_url))
        self.conf.chmod(0o600)

    def _spawn(self, name: str, argv: list[str], stdin: int | None = None, stdout: Path | None = None) -> None:
        path = stdout or (self.run_dir / f"{name}.console")
        out = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL if stdin is None else stdin, stdout=out,
                                stderr=subprocess.STDOUT, umask=0o077,
                                start_new_session=True, cwd=self.run_dir)
        out.close()
        pidfile = self._pidfile(name)
        pidfile.write_text(str(proc.pid))
        pidfile.chmod(0o600)

    def _wait(self, what: str, ok: object, timeout: float, name: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ok():  # type: ignore[operator]
                return
            if self._pid(name) is None:
                break
            time.sleep(0.05)
        tail = self.tail(name)
        self.stop()
        raise KannelError(f"Kannel {what} did not come up within {timeout} s:\n{tail}")

    def tail(self, name: str, lines: int = 15) -> str:
        for p in (self.run_dir / f"{name}.log", self.run_dir / f"{name}.console"):
            if p.exists():
                return "\n".join(p.read_text("utf-8", "replace").splitlines()[-lines:])
        return ""

    def start(self, timeout: float = 15.0) -> None:
        """Start the boxes (and the fake SMSC) and wait until sendsms answers and the link is online."""
        if not installed():
            raise KannelError("Kannel is not installed: run scripts/install-kannel (Debian kannel, kannel-extras)")
        k = self.settings.kannel
        for port in (k.admin_port, k.smsbox_port, k.sendsms_port, k.fake_smsc_port):
            if _port_open("127.0.0.1", port):
                raise KannelError(f"port {port} is taken: another Kannel runs? (sms.kannel ports)")
        self.render()
        self.start_bearerbox(timeout)
        self._spawn("smsbox", [SMSBOX, "-v", "1", str(self.conf)])
        self._wait("smsbox (sendsms port)", lambda: _port_open(k.host, k.sendsms_port), timeout, "smsbox")
        if self.fake_smsc:
            self.start_fake_smsc(timeout)

    def start_bearerbox(self, timeout: float = 15.0) -> None:
        k = self.settings.kannel
        self._spawn("bearerbox", [BEARERBOX, "-v", "1", str(self.conf)])
        self._wait("bearerbox (admin port)", lambda: _port_open("127.0.0.1", k.admin_port), timeout, "bearerbox")

    def start_fake_smsc(self, timeout: float = 15.0) -> None:
        if not self.fifo.exists():
            os.mkfifo(self.fifo, 0o600)
        # Read-write: fakesmsc holds a writer itself, so it never sees end-of-file between our MOs.
        fd = os.open(self.fifo, os.O_RDWR)
        try:
            self._spawn("fakesmsc", [FAKESMSC, "-H", "127.0.0.1", "-r", str(self.settings.kannel.fake_smsc_port),
                                     "-i", "0"], stdin=fd, stdout=self.fake_log)
        finally:
            os.close(fd)
        self._wait("fake SMSC link", self.smsc_online, timeout, "fakesmsc")

    def status(self) -> str:
        k = self.settings.kannel
        url = f"http://127.0.0.1:{k.admin_port}/status.txt?password={k.admin_password}"
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.read().decode("utf-8", "replace")

    def smsc_online(self) -> bool:
        try:
            return re.search(r"fake1\[fake1\]\s+FAKE:\d+ \(online", self.status()) is not None
        except OSError:
            return False

    def send_mo(self, sender: str, text: str, to: str | None = None) -> None:
        """The citizen ``sender`` texts us (through the fake SMSC)."""
        kind = "text" if text.isascii() else "ucs2"
        data = text if kind == "text" else "".join(f"%{b:02X}" for b in text.encode("utf-16-be"))
        sent_before = self._mo_count()
        with open(self.fifo, "w") as f:
            f.write(f"{sender} {to or self.settings.sender} {kind} {data}\n")
        # fakesmsc takes one line per read: wait for it before the next line.
        deadline = time.monotonic() + 5
        while self._mo_count() <= sent_before and time.monotonic() < deadline:
            time.sleep(0.05)

    def _mo_count(self) -> int:
        try:
            return self.fake_log.read_text("latin-1").count("fakesmsc: sent message")
        except FileNotFoundError:
            return 0

    def running(self) -> bool:
        return self._pid("bearerbox") is not None

    def _end(self, name: str, timeout: float) -> None:
        pid = self._pid(name)
        if pid is None:
            self._pidfile(name).unlink(missing_ok=True)
            return
        try:
            os.killpg(pid, signal.SIGTERM)
        except OSError:
            pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._pid(name) is not None:
            time.sleep(0.05)
        if self._pid(name) is not None:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
        self._pidfile(name).unlink(missing_ok=True)

    def stop_bearerbox(self, timeout: float = 10.0) -> None:
        self._end("bearerbox", timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """bearerbox first (it tells smsbox to exit), then whatever is left."""
        for name in ("bearerbox", "smsbox", "fakesmsc"):
            self._end(name, timeout)
