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
    # shipped queues never announce at once (app_queue rings nobody while it plays), retry 1 s
    assert "announce-frequency = 0" in text and "periodic-announce-frequency = 0" in text
    assert "announce-position = no" in text and "retry = 1" in text


def test_each_queue_strategy_wins_over_the_template(tmp_path: Path) -> None:
    """Asterisk reads a section's first strategy line: the template must not have one."""
    from callcenter.config import QueueConfig

    config = Config().with_overrides(queues=[QueueConfig(name="main", strategy="ringall"),
                                             QueueConfig(name="slow", strategy="linear", announce_frequency=30,
                                                         announce_position="limit", periodic_announce="zh/hold",
                                                         periodic_announce_frequency=20)])
    box = Sandbox(config, tmp_path / "run")
    box.render()
    text = (box.etc_dir / "queues.conf").read_text()
    template = text[text.index("[cc-queue-template]"):text.index("[main]")]
    assert not [line for line in template.splitlines() if line.startswith("strategy")]
    main, slow = text[text.index("[main]"):text.index("[slow]")], text[text.index("[slow]"):]
    assert "strategy = ringall" in main and "strategy = linear" in slow
    assert "announce-frequency = 30" in slow and "periodic-announce = zh/hold" in slow
    assert "periodic-announce-frequency = 20" in slow and "announce-position = limit" in slow


def test_announcing_more_often_than_every_15_s_is_refused() -> None:
    from pydantic import ValidationError

    from callcenter.config import QueueConfig

    with pytest.raises(ValidationError):
        QueueConfig(name="q", announce_frequency=5)
    with pytest.raises(ValidationError):
        QueueConfig(name="q", periodic_announce_frequency=1)


def test_secrets_given_in_the_config_file_reach_the_daemon_under_the_sandbox(tmp_path: Path) -> None:
    """run --sandbox: the daemon loads the rendered callcenter.yaml + secrets.yaml; given secrets survive."""
    from callcenter.config import load_config

    config = Config().with_overrides(ami={"secret": "given-ami-secret"}, web={"ops_token": "given-ops-token"})
    box = Sandbox(config, tmp_path / "run")
    box.render()
    loaded = load_config(box.config_file)
    assert loaded.ami.secret == "given-ami-secret" and loaded.web.ops_token == "given-ops-token"
    assert "given-ami-secret" in (box.etc_dir / "manager.conf").read_text()
    assert "given-ami-secret" not in box.config_file.read_text()


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
