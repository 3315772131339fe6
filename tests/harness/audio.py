"""Audio for SIPp callers: raw μ-law generated with sox, so recordings hold real sound."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def ulaw_tone(path: Path, seconds: int = 60) -> Path:
    """A sweeping tone as headerless 8 kHz μ-law (what SIPp's rtp_stream plays)."""
    if path.exists():
        return path
    sox = shutil.which("sox")
    if sox is None:
        raise RuntimeError("sox is not installed: run 'scripts/bootstrap' as root")
    subprocess.run([sox, "-n", "-r", "8000", "-c", "1", "-t", "ul", str(path), "synth", str(seconds),
                    "sine", "300-1200", "vol", "0.5"], check=True)
    return path


def wav_tone(path: Path, seconds: int = 60) -> Path:
    """A tone as an 8 kHz mono 16-bit WAV (what baresip's aufile source reads)."""
    if path.exists():
        return path
    sox = shutil.which("sox")
    if sox is None:
        raise RuntimeError("sox is not installed: run 'scripts/bootstrap' as root")
    subprocess.run([sox, "-n", "-r", "8000", "-c", "1", "-b", "16", str(path), "synth", str(seconds),
                    "sine", "440", "vol", "0.5"], check=True)
    return path
