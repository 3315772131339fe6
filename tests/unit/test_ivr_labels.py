"""Flow-file labels: validated against the node's choices and tags, and put on the screen-pop."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from callcenter.desk.ivr_labels import label_payload
from callcenter.ivr.flows import Flow, FlowSet
from callcenter.ivr.schema import MenuNode, TagNode

REPO = Path(__file__).parents[2]


def test_choice_labels_must_name_choices_and_tag_labels_tags() -> None:
    menu = {"type": "menu", "prompt": "zh/m", "choices": {"1": "a"}, "on_invalid": "a", "on_timeout": "a"}
    assert MenuNode.model_validate({**menu, "choice_labels": {"1": "咨询"}}).choice_labels == {"1": "咨询"}
    with pytest.raises(ValidationError, match=r"not choices: \['2'\]"):
        MenuNode.model_validate({**menu, "choice_labels": {"2": "投诉"}})
    with pytest.raises(ValidationError):
        MenuNode.model_validate({**menu, "label": "x" * 41})
    tag = {"type": "tag", "tags": {"category": "consultation"}, "next": "q"}
    assert TagNode.model_validate({**tag, "labels": {"category": "来电类别", "consultation": "咨询"}}).labels
    with pytest.raises(ValidationError, match="neither a tag nor a tag value"):
        TagNode.model_validate({**tag, "labels": {"hotline": "热线"}})


def test_the_pop_shows_labels_and_keeps_identifiers_without_one() -> None:
    menu = MenuNode.model_validate({"type": "menu", "prompt": "zh/m", "choices": {"1": "t", "2": "t"},
                                    "on_invalid": "t", "on_timeout": "t", "label": "主菜单",
                                    "choice_labels": {"1": "政策咨询"}})
    tag = TagNode.model_validate({"type": "tag", "tags": {"category": "consultation", "x": "y"}, "next": "t",
                                  "labels": {"category": "来电类别", "consultation": "咨询"}})
    flows = FlowSet("v1", {"f": Flow("f", "m", {"m": menu, "t": tag}, "f.yaml")}, {})
    pop = {"ivr_path": [{"flow": "f", "node": "m", "result": "1"}, {"flow": "f", "node": "m", "result": "2"},
                        {"flow": "f", "node": "t", "result": "category=consultation,x=y"},
                        {"flow": "other", "node": "n", "result": ""}],
           "tags": {"category": "consultation", "x": "y"}}
    out = label_payload(pop, flows)
    steps = out["ivr_path"]
    assert (steps[0]["label"], steps[0]["result_label"]) == ("主菜单", "政策咨询")
    assert "result_label" not in steps[1] and "label" not in steps[2] and "label" not in steps[3]
    assert steps[2]["result_label"] == "来电类别：咨询；x：y"
    assert out["tag_labels"] == {"category": ["来电类别", "咨询"]}
    assert label_payload(pop, None)["tag_labels"] == {}


def test_shipped_flows_are_labelled() -> None:
    from callcenter.ivr.flows import load_files

    flows, problems = load_files(sorted((REPO / "ivr_flows").glob("*.yaml")))
    assert flows is not None and not problems, problems
    main = flows.flows["12345"].nodes["main-menu"]
    assert main.label == "主菜单" and main.choice_labels["3"] == "工单进度查询"
    for flow in flows.flows.values():
        for name, node in flow.nodes.items():
            assert node.label, f"{flow.name}:{name} has no label"
