"""What the sandbox renders from asterisk_conf/ (no Asterisk process needed)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml

from callcenter.asterisk.sandbox import Sandbox
from callcenter.config import AgentConfig, Config


@pytest.fixture(params=["16", "22"])
def rendered(request: pytest.FixtureRequest, tmp_path: Path) -> Sandbox:
    config = Config().with_overrides(
        asterisk={"flavour": request.param, "sip_port": 15999},
        agents=[AgentConfig(id="1001", name="坐席一"), AgentConfig(id="1002", contact="sip:1002@127.0.0.1:7000")],
    )
    box = Sandbox(config, tmp_path / "run")
    box.render()
    yield box
    box.wipe()


def test_every_file_renders_without_leftover_placeholders(rendered: Sandbox) -> None:
    names = {p.name for p in rendered.etc_dir.glob("*.conf")}
    for required in ("asterisk.conf", "modules.conf", "pjsip.conf", "extensions.conf", "queues.conf",
                     "manager.conf", "logger.conf", "voicemail.conf", "musiconhold.conf", "cdr.conf", "cel.conf"):
        assert required in names
    for conf in rendered.etc_dir.glob("*.conf"):
        text = conf.read_text()
        assert "{{" not in text and "{%" not in text, conf.name


def test_queues_use_the_fifteen_second_service_level(rendered: Sandbox) -> None:
    text = (rendered.etc_dir / "queues.conf").read_text()
    assert "[main](cc-queue-template)" in text and "servicelevel = 15" in text
    assert "announce-position = yes" in text and "announce-holdtime = yes" in text


def test_manager_has_timestamps_and_a_generated_secret(rendered: Sandbox) -> None:
    text = (rendered.etc_dir / "manager.conf").read_text()
    assert "timestampevents = yes" in text
    secret = rendered.config.ami.secret
    assert len(secret) >= 20 and f"secret = {secret}" in text
    mode = stat.S_IMODE(rendered.secrets_file.stat().st_mode)
    assert mode == 0o600


def test_only_pjsip_and_no_macro(rendered: Sandbox) -> None:
    modules = (rendered.etc_dir / "modules.conf").read_text()
    assert "autoload = no" in modules
    assert "load => chan_sip.so" not in modules and "load => app_macro" not in modules
    assert "Macro(" not in (rendered.etc_dir / "extensions.conf").read_text()


def test_agents_and_trunks_in_pjsip(rendered: Sandbox) -> None:
    text = (rendered.etc_dir / "pjsip.conf").read_text()
    assert "[1001]" in text and '"坐席一" <1001>' in text
    assert "contact = sip:1002@127.0.0.1:7000" in text
    assert "match = 127.0.0.2" in text  # the carrier is identified by its own loopback address
    assert f"password = {rendered.config.agent_password('1001')}" in text


def test_the_daemon_config_holds_no_secret(rendered: Sandbox) -> None:
    data = yaml.safe_load(rendered.config_file.read_text())
    text = rendered.config_file.read_text()
    assert rendered.config.ami.secret not in text
    assert rendered.config.agent_password("1001") not in text
    assert data["secrets_file"] == str(rendered.secrets_file)


def test_secrets_are_stable_across_renders(rendered: Sandbox) -> None:
    again = Sandbox(rendered.config.with_overrides(), rendered.run_dir)
    assert again.config.ami.secret == rendered.config.ami.secret
