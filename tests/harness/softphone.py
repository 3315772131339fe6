"""A real registering softphone (baresip, headless): what agents use in production."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.harness.audio import wav_tone
from tests.harness.procs import stop_process


class Softphone:
    """baresip registered as ``user`` with digest auth; answers every call and sends a tone."""

    def __init__(self, workdir: Path, user: str, password: str, registrar: str, sip_port: int) -> None:
        self.dir = workdir / f"baresip-{user}"
        self.user, self.password, self.registrar, self.sip_port = user, password, registrar, sip_port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Softphone:
        binary = shutil.which("baresip")
        if binary is None:
            raise RuntimeError("baresip is not installed: run 'scripts/bootstrap' as root")
        self.dir.mkdir(parents=True, exist_ok=True)
        tone = wav_tone(self.dir / "tone.wav")
        (self.dir / "config").write_text(
            f"sip_listen\t\t127.0.0.1:{self.sip_port}\n"
            "module_path\t\t/usr/lib/baresip/modules\n"
            "module\t\t\tg711.so\n"
            "module\t\t\taufile.so\n"
            "module_app\t\taccount.so\n"
            f"audio_source\t\taufile,{tone}\n"
            "audio_player\t\taufile,/dev/null\n"
            "audio_alert\t\taufile,/dev/null\n"
            "sip_verify_server\tno\n"
        )
        (self.dir / "accounts").write_text(
            f"<sip:{self.user}@{self.registrar};transport=udp>;auth_pass={self.password};answermode=auto;"
            "regint=60\n"
        )
        log = open(self.dir / "baresip.log", "wb")
        self.proc = subprocess.Popen([binary, "-4", "-f", str(self.dir)], stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT)
        log.close()
        return self

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None

    def log(self) -> str:
        try:
            return (self.dir / "baresip.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""
