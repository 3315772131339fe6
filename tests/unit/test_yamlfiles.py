"""Bounded YAML loading: billion-laughs documents and huge files are refused with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter import yamlfiles
from callcenter.config import ConfigError, load_config
from callcenter.ivr.flows import load_files

# 9 levels of 9 aliases each: 9**9 ≈ 387 million leaves from ~400 bytes (the "380-byte flow").
LAUGHS = "\n".join(["a: &a [x, x, x, x, x, x, x, x, x]"] + [
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]" for i in range(8)]) + "\n"


def test_billion_laughs_refused_quickly_with_line() -> None:
    with pytest.raises(yamlfiles.YamlFileError) as err:
        yamlfiles.loads(LAUGHS, "laughs.yaml")
    assert err.value.source == "laughs.yaml"
    assert err.value.line > 1
    assert "laughs.yaml:" in str(err.value)


def test_alias_count_budget() -> None:
    text = "a: &a 1\nb: [" + ", ".join(["*a"] * 65) + "]\n"
    with pytest.raises(yamlfiles.YamlFileError, match="more than 64 aliases"):
        yamlfiles.loads(text)
    ok = "a: &a 1\nb: [" + ", ".join(["*a"] * 64) + "]\n"
    assert len(yamlfiles.loads(ok)["b"]) == 64


def test_expansion_budget_few_aliases() -> None:
    big = "base: &b [" + ", ".join(str(i) for i in range(3000)) + "]\nc1: *b\nc2: *b\n"
    with pytest.raises(yamlfiles.YamlFileError, match="extra nodes"):
        yamlfiles.loads(big)
    # the same list used once more fits (3000 extra nodes)
    assert len(yamlfiles.loads(big.replace("c2: *b\n", ""))["c1"]) == 3000


def test_plain_large_document_without_aliases_is_fine() -> None:
    text = "".join(f"k{i}: {{a: 1, b: [1, 2, 3]}}\n" for i in range(5000))
    assert len(yamlfiles.loads(text)) == 5000


def test_file_size_cap(tmp_path: Path) -> None:
    f = tmp_path / "big.yaml"
    f.write_text("x: " + "y" * (yamlfiles.MAX_BYTES + 10) + "\n")
    with pytest.raises(yamlfiles.YamlFileError, match="larger than"):
        yamlfiles.load_file(f)


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("a: 1\nb: [\n")
    with pytest.raises(yamlfiles.YamlFileError) as err:
        yamlfiles.load_file(f)
    assert str(f) in str(err.value) and err.value.line >= 2


def test_ivr_flow_with_laughs_is_a_problem_not_a_memory_blowup(tmp_path: Path) -> None:
    f = tmp_path / "laughs.yaml"
    f.write_text(LAUGHS)
    flows, problems = load_files([f])
    assert flows is None
    assert problems and problems[0].line > 1 and "alias" in problems[0].message


def test_config_with_laughs_refused(tmp_path: Path) -> None:
    f = tmp_path / "callcenter.yaml"
    f.write_text(LAUGHS)
    with pytest.raises(ConfigError, match="alias"):
        load_config(f, env={})


def test_every_yaml_load_goes_through_yamlfiles() -> None:
    """The class of defect: a new module calling PyYAML directly would be unbounded again."""
    root = Path(__file__).parents[2] / "callcenter"
    direct = [str(p.relative_to(root)) for p in root.rglob("*.py")
              if p.name != "yamlfiles.py" and any(call in p.read_text(encoding="utf-8") for call in
                                                  ("yaml.safe_load(", "yaml.load(", "yaml.full_load(",
                                                   "yaml.unsafe_load(", "yaml.SafeLoader("))]
    assert direct == [], f"load YAML with callcenter.yamlfiles: {direct}"
