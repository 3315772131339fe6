"""Flow validation: a corpus of broken flows, each with the message it must produce; shipped flows are clean."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from callcenter.cli.main import cli
from callcenter.config import Config
from callcenter.ivr.flows import CheckContext, load_files, yaml_files
from callcenter.ivr.plugin import check_context, load_flows

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).parent / "ivr_corpus"
CASES = sorted(CORPUS.glob("*.yaml"))
CONTEXT = CheckContext(prompts_dir=REPO / "prompts", queues=frozenset({"main", "complaints"}),
                       trunks=frozenset({"carrier", "emergency"}))


def expectation(path: Path) -> tuple[int, str, str]:
    m = re.match(r"# expect: (\d+): ([^:]+): (.*)", path.read_text().splitlines()[0])
    assert m, f"{path.name} has no '# expect: line: node: message' header"
    return int(m.group(1)), m.group(2), m.group(3)


def test_the_corpus_is_big_enough() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_broken_flow_is_refused_with_file_line_node_and_message(case: Path) -> None:
    line, node, message = expectation(case)
    flows, problems = load_files([case], CONTEXT)
    assert flows is None
    rendered = [str(p) for p in problems]
    wanted = f"{case}:{line}: {node}: {message}"
    assert any(r.startswith(wanted) for r in rendered), f"wanted {wanted!r}, got {rendered}"


def test_shipped_flows_validate_against_the_default_config() -> None:
    config = Config().model_copy(update={"ivr": Config().ivr.model_copy(update={
        "flows_dir": str(REPO / "ivr_flows"), "prompts_dir": str(REPO / "prompts")})})
    flows, problems = load_flows(config)
    assert problems == [] and flows is not None
    assert {"12345", "12319"} <= set(flows.flows)
    assert {h.flow for h in config.hotlines} <= set(flows.flows)


def test_test_flows_validate_with_the_shipped_ones() -> None:
    config = Config()
    context = CheckContext(prompts_dir=REPO / "prompts", queues=check_context(config).queues,
                           trunks=check_context(config).trunks)
    flows, problems = load_files(yaml_files([REPO / "ivr_flows", REPO / "tests" / "ivr_flows"]), context)
    assert problems == [] and flows is not None


def test_a_hotline_naming_a_missing_flow_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "only.yaml").write_text("flow: only\nstart: bye\nnodes:\n  bye: {type: hangup}\n")
    config = Config().model_copy(update={"ivr": Config().ivr.model_copy(update={"flows_dir": str(tmp_path)})})
    flows, problems = load_flows(config)
    assert flows is None
    assert [(p.node, p.message) for p in problems] == [
        ("hotline 12345", "entry flow '12345' of hotline '12345' is not defined"),
        ("hotline 12319", "entry flow '12319' of hotline '12319' is not defined"),
        ("hotline 12319", "calendar 'government' of hotline '12319' (fallback hours) is not defined"),
    ]


def test_version_follows_content_and_one_broken_file_refuses_the_set(tmp_path: Path) -> None:
    good = "flow: a\nstart: bye\nnodes:\n  bye: {type: hangup}\n"
    (tmp_path / "a.yaml").write_text(good)
    first, _ = load_files(yaml_files([tmp_path]), CheckContext())
    again, _ = load_files(yaml_files([tmp_path]), CheckContext())
    assert first is not None and again is not None and first.version == again.version
    (tmp_path / "b.yaml").write_text("flow: b\nstart: nowhere\nnodes:\n  bye: {type: hangup}\n")
    refused, problems = load_files(yaml_files([tmp_path]), CheckContext())
    assert refused is None and [p.node for p in problems] == ["start"]


def test_cli_validate_prints_problems_and_exits_non_zero() -> None:
    runner = CliRunner()
    case = CORPUS / "dangling-target.yaml"
    result = runner.invoke(cli, ["ivr", "validate", str(case)])
    assert result.exit_code == 1
    line, node, message = expectation(case)
    assert f"{case}:{line}: {node}: {message}" in result.output


def test_cli_validate_accepts_the_shipped_flows(tmp_path: Path) -> None:
    config = tmp_path / "callcenter.yaml"
    config.write_text(f"ivr:\n  flows_dir: {REPO / 'ivr_flows'}\n  prompts_dir: {REPO / 'prompts'}\n")
    result = CliRunner().invoke(cli, ["--config", str(config), "ivr", "validate"])
    assert result.exit_code == 0, result.output
    assert "ok: 2 flow(s) (12319, 12345)" in result.output


def test_cli_show_draws_a_picture(tmp_path: Path) -> None:
    config = tmp_path / "callcenter.yaml"
    config.write_text(f"ivr:\n  flows_dir: {REPO / 'ivr_flows'}\n  prompts_dir: {REPO / 'prompts'}\n")
    out = tmp_path / "12345.svg"
    result = CliRunner().invoke(cli, ["--config", str(config), "ivr", "show", "12345", "-o", str(out)])
    assert result.exit_code == 0, result.output
    svg = out.read_text()
    assert svg.startswith("<?xml") and "main&#45;menu" in svg and "queue: main" in svg
