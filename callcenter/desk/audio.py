"""Which audio files the web may serve: regular files inside the directory Asterisk writes them to.

A recording's or voicemail's path comes from a database row, and rows can be forged (a FastAGI client
once created a "voicemail" that was a symlink to the secrets file). So the path is resolved (every
symlink followed) and served only when it ends in a regular file under the configured spool directory
(itself resolved: the sandbox's run directory is a symlink into Asterisk's chroot).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

# Asterisk may report a recording without its extension.
EXTENSIONS = ("", ".wav", ".WAV", ".gsm")


def confined_file(path: str, root: str) -> Path | None:
    """The real path of ``path`` (or ``path`` + a known extension) when it is a regular file inside
    ``root``; None otherwise (missing, outside, a directory, a device, a FIFO, a dangling link)."""
    if not path or not root or "\0" in path:
        return None
    try:
        base = Path(root).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    for ext in EXTENSIONS:
        try:
            real = Path(path + ext).resolve(strict=True)
        except (OSError, RuntimeError):  # missing, or a symlink loop
            continue
        if not real.is_relative_to(base):
            return None
        try:
            mode = os.stat(real, follow_symlinks=False).st_mode
        except OSError:
            continue
        if stat.S_ISREG(mode):
            return real
    return None
