"""Modes of what the product writes (issue 7, item 5): secrets and personal data are 0600/0700.

The rendered configs are checked here with a permissive umask (the modes must not depend on it);
the end-to-end test (tests/e2e/test_telephony_hardening.py) checks every file a real sandbox,
Asterisk and daemon wrote after calls.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from callcenter import files
from callcenter.asterisk.sandbox import Sandbox
from callcenter.config import Config


def _loose(path: Path) -> list[str]:
    """Files/dirs under ``path`` readable, writable or searchable by group or others (prompts excepted)."""
    out = []
    for p in [path, *path.rglob("*")]:
        if p.is_symlink() or "sounds" in p.relative_to(path).parts:
            continue
        mode = stat.S_IMODE(p.lstat().st_mode)
        if mode & 0o077:
            out.append(f"{p.relative_to(path)} {oct(mode)}")
    return out


@pytest.fixture
def loose_umask() -> None:
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.parametrize("flavour", ["16", "22"])
def test_the_rendered_sandbox_is_private_whatever_the_umask(tmp_path: Path, loose_umask: None, flavour: str) -> None:
    config = Config().with_overrides(asterisk={"flavour": flavour}, data_dir=str(tmp_path / "data"))
    box = Sandbox(config, tmp_path / "run")
    box.render()
    try:
        root = box.run_dir.resolve()
        assert _loose(root) == []
        for name in ("manager.conf", "pjsip.conf", "extensions.conf"):
            assert stat.S_IMODE((box.etc_dir / name).stat().st_mode) == 0o600
        assert stat.S_IMODE(box.secrets_file.stat().st_mode) == 0o600
        assert config.agi.secret == "" and box.config.agi.secret  # generated, and in the dialplan
        assert f"?secret={box.config.agi.secret}" in (box.etc_dir / "extensions.conf").read_text()
    finally:
        box.wipe()


def test_the_daemon_data_directories_are_private(tmp_path: Path, loose_umask: None) -> None:
    from callcenter.daemon import Daemon

    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    (data / "attachments").mkdir(mode=0o755)
    (data / "callcenter.sqlite").write_bytes(b"")
    os.chmod(data / "callcenter.sqlite", 0o644)
    Daemon(Config().with_overrides(data_dir=str(data), ami={"secret": "x"}))
    assert _loose(data) == []


def test_write_private_never_widens_and_umask_is_077() -> None:
    old = files.secure_umask()
    try:
        assert os.umask(0o077) == 0o077
    finally:
        os.umask(old)
