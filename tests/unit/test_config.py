"""Configuration layers: defaults, YAML file, environment, secrets file; clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.config import Config, ConfigError, dump_config, load_config


def test_defaults_work_without_a_file() -> None:
    config = load_config(None, env={})
    assert config.kpi.threshold_s == 15
    assert config.effective_database_url.startswith("sqlite:///")
    assert config.hotlines[0].did == "12345"
    assert config.agent_queues("1001") == ("main", "complaints")


def test_file_then_environment(tmp_path: Path) -> None:
    f = tmp_path / "callcenter.yaml"
    f.write_text("data_dir: data\nkpi:\n  threshold_s: 20\nami:\n  port: 6038\n")
    config = load_config(f, env={"CALLCENTER_DATABASE_URL": "postgresql://x@h/db", "CALLCENTER_AMI_SECRET": "s3"})
    assert config.kpi.threshold_s == 20 and config.ami.port == 6038 and config.ami.secret == "s3"
    assert config.database_url == "postgresql://x@h/db"
    assert config.data_dir == str(tmp_path / "data")


def test_secrets_file_fills_secrets_but_not_over_the_file(tmp_path: Path) -> None:
    (tmp_path / "secrets.yaml").write_text("ami:\n  secret: from-secrets\nagent_passwords:\n  '1001': pw\n")
    f = tmp_path / "callcenter.yaml"
    f.write_text("secrets_file: secrets.yaml\nweb:\n  ops_token: from-file\n")
    config = load_config(f, env={})
    assert config.ami.secret == "from-secrets" and config.web.ops_token == "from-file"
    assert config.agent_password("1001") == "pw"


@pytest.mark.parametrize(("text", "message"), [
    ("kpi: [1, 2", "invalid YAML"),
    ("- a\n- b\n", "top level must be a mapping"),
    ("kpi:\n  threshold: 15\n", "kpi.threshold"),
    ("queues:\n  - name: general\n", "settings section"),
    ("queues:\n  - name: 'a b'\n", "letters, digits"),
])
def test_bad_files_say_what_and_where(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=message) as err:
        load_config(f, env={})
    assert str(f) in str(err.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(tmp_path / "nope.yaml", env={})


def test_dump_without_secrets_leaves_no_secret_behind() -> None:
    config = Config().with_overrides(ami={"secret": "S3CRET-ami"}, web={"ops_token": "S3CRET-ops",
                                                                      "secret_key": "S3CRET-key"},
                                     agents=[{"id": "1001", "password": "S3CRET-sip"}],
                                     agent_passwords={"1002": "S3CRET-pw"})
    text = dump_config(config, without_secrets=True)
    assert "S3CRET" not in text
    assert "S3CRET-ami" in dump_config(config)
