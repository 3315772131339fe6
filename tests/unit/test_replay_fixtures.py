"""Recorded AMI transcripts and queue_logs of real calls (Asterisk 16 and 22) replayed offline.

The fixtures come from the end-to-end call-path tests (one answered in 2 s, one after 20 s, one
abandoned after 5 s, three callers on two agents, one with an agent paused, one queue timeout, plus
a warm-up call): tests/fixtures/ami/asterisk{16,22}-call-path.{raw,queue_log}.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from callcenter.asterisk.ami.framing import iter_messages
from callcenter.asterisk.ami.translate import translate
from callcenter.cli.main import cli
from callcenter.kpi.replay import _report, ami_events, replay_ami, replay_queue_log

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ami"
EXPECTED = {
    "threshold_s": 15, "offered": 8, "answered": 6, "answered_within_threshold": 4, "abandoned": 2, "rate": 50.0,
    "queues": {
        "complaints": {"offered": 1, "answered": 0, "abandoned": 1, "servicelevel_perf": 0.0,
                       "servicelevel_perf2": 100.0},
        "main": {"offered": 7, "answered": 6, "abandoned": 1, "servicelevel_perf": 66.67,
                 "servicelevel_perf2": 71.43},
    },
}


@pytest.fixture(params=["16", "22"])
def version(request: pytest.FixtureRequest) -> str:
    return request.param


def test_ami_and_queue_log_give_the_same_report(version: str) -> None:
    ami = replay_ami(str(FIXTURES / f"asterisk{version}-call-path.raw")).as_json()
    log = replay_queue_log(str(FIXTURES / f"asterisk{version}-call-path.queue_log")).as_json()
    assert ami == EXPECTED
    assert log == EXPECTED


def test_translation_finds_every_queue_event(version: str) -> None:
    kinds = Counter(type(e).__name__ for e in ami_events(str(FIXTURES / f"asterisk{version}-call-path.raw")))
    assert kinds["CallerJoinedQueue"] == 8
    assert kinds["AgentConnected"] == 6 and kinds["AgentCompleted"] == 6
    assert kinds["CallerAbandoned"] == 2  # the hang-up and the timeout (app_queue's record_abandoned)
    assert kinds["QueueExited"] >= 1 and kinds["RecordingStarted"] == 8
    assert kinds["MemberPaused"] >= 2


def test_any_chunking_of_the_stream_gives_the_same_report(version: str) -> None:
    data = (FIXTURES / f"asterisk{version}-call-path.raw").read_bytes()
    rng = random.Random(int(version))
    cuts = sorted(rng.sample(range(1, len(data)), 400))
    chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    events = (e for e in (translate(m) for m in iter_messages(chunks)) if e is not None)
    assert _report(events, 15, 0, None, None, None).as_json() == EXPECTED


def test_garbled_frames_in_the_stream_are_skipped(version: str, caplog: pytest.LogCaptureFixture) -> None:
    data = (FIXTURES / f"asterisk{version}-call-path.raw").read_bytes()
    frames = data.split(b"\r\n\r\n")
    garbage = [b"\xff\xfe\x00 noise", b"Event QueueCallerJoin without colon", b"Even: AgentConnect\r\nQueue: main"]
    mixed = []
    for i, frame in enumerate(frames):
        mixed.append(frame)
        if i % 25 == 0:
            mixed.append(garbage[i % 3])
    events = (e for e in (translate(m) for m in iter_messages([b"\r\n\r\n".join(mixed)])) if e is not None)
    assert _report(events, 15, 0, None, None, None).as_json() == EXPECTED
    assert "malformed AMI frame" in caplog.text


def test_chinese_names_survive_the_transcript(version: str) -> None:
    names = {e.caller_name for e in ami_events(str(FIXTURES / f"asterisk{version}-call-path.raw"))
             if type(e).__name__ == "CallerJoinedQueue"}
    assert {"张三", "李四", "王五", "市民2"} <= names


def test_cli_replay_prints_the_json_contract(tmp_path: Path) -> None:
    runner = CliRunner()
    cfg = tmp_path / "callcenter.yaml"
    cfg.write_text(f"data_dir: {tmp_path}\n")
    result = runner.invoke(cli, ["--config", str(cfg), "kpi", "replay", "--ami",
                                 str(FIXTURES / "asterisk22-call-path.raw"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == EXPECTED
    result = runner.invoke(cli, ["--config", str(cfg), "kpi", "replay", "--queue-log",
                                 str(FIXTURES / "asterisk16-call-path.queue_log")])
    assert result.exit_code == 0 and "50.00%" in result.output


def test_cli_replay_rejects_bad_arguments(tmp_path: Path) -> None:
    runner = CliRunner()
    cfg = tmp_path / "callcenter.yaml"
    cfg.write_text(f"data_dir: {tmp_path}\n")
    both = runner.invoke(cli, ["--config", str(cfg), "kpi", "replay", "--ami", "a", "--queue-log", "b"])
    assert both.exit_code == 2 and "exactly one" in both.output
    missing = runner.invoke(cli, ["--config", str(cfg), "kpi", "replay", "--ami", str(tmp_path / "none.raw")])
    assert missing.exit_code == 1 and "cannot read" in missing.output
    bad_time = runner.invoke(cli, ["--config", str(cfg), "kpi", "service-level", "--since", "yesterday-ish"])
    assert bad_time.exit_code == 2 and "cannot read time" in bad_time.output


def test_cli_service_level_on_an_empty_database(tmp_path: Path) -> None:
    from callcenter.store import migrate

    cfg = tmp_path / "callcenter.yaml"
    cfg.write_text(f"data_dir: {tmp_path}\n")
    migrate.upgrade(f"sqlite:///{tmp_path / 'callcenter.sqlite'}")
    result = CliRunner().invoke(cli, ["--config", str(cfg), "kpi", "service-level", "--since", "today", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"threshold_s": 15, "offered": 0, "answered": 0,
                                         "answered_within_threshold": 0, "abandoned": 0, "rate": None,
                                         "queues": {}}
