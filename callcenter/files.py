"""File modes for everything the product writes: secrets and personal data are the owner's only.

Rendered Asterisk configuration holds the AMI secret, the AGI secret and every SIP password; the
database, journal, recordings, voicemail and attachments hold callers' numbers, names and voices.
So: the process umask is 077 from the start (every file 0600, every directory 0700 unless said
otherwise), and the few writers that must not depend on the umask (secrets, rendered configs, the
data directories that may predate this version) set modes explicitly. Only prompts are public
(Asterisk may run as another user and must read them).
"""

from __future__ import annotations

import os
from pathlib import Path

UMASK = 0o077
PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def secure_umask() -> int:
    """Set the process umask to 077 (children inherit it); return the previous one."""
    return os.umask(UMASK)


def private_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` (and parents) if needed and make it 0700, even if it already existed."""
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    os.chmod(p, PRIVATE_DIR)
    return p


def write_private(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to a 0600 file, never readable by others even for an instant."""
    p = Path(path)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            fd = -1
            f.write(text)
    finally:
        if fd >= 0:
            os.close(fd)


def make_private(path: str | os.PathLike[str]) -> None:
    """chmod an existing file 0600 (or directory 0700); missing paths are ignored."""
    p = Path(path)
    try:
        os.chmod(p, PRIVATE_DIR if p.is_dir() else PRIVATE_FILE)
    except FileNotFoundError:
        pass
