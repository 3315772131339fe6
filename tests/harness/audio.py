"""Audio for test phones, generated with sox, so recordings and voicemails hold real sound."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def _synth(path: Path, output_format: list[str], tone: str, seconds: int) -> Path:
    """8 kHz mono ``tone`` (sox ``synth sine`` argument) written once to ``path``."""
    if path.exists():
        return path
    sox = shutil.which("sox")
    if sox is None:
        raise RuntimeError("sox is not installed: run 'scripts/bootstrap' as root")
    subprocess.run([sox, "-n", "-r", "8000", "-c", "1", *output_format, str(path), "synth", str(seconds),
                    "sine", tone, "vol", "0.5"], check=True)
    return path


def ulaw_tone(path: Path, seconds: int = 60) -> Path:
    """A sweeping tone as headerless 8 kHz μ-law (what SIPp's rtp_stream plays)."""
    return _synth(path, ["-t", "ul"], "300-1200", seconds)


def wav_tone(path: Path, seconds: int = 60) -> Path:
    """A tone as an 8 kHz mono 16-bit WAV (what baresip's aufile source reads)."""
    return _synth(path, ["-b", "16"], "440", seconds)
