"""The words of the IVR on the screen-pop: each step and tag with the ``label`` its flow file gives it.

Flow files may give nodes a ``label``, menus ``choice_labels`` and tag nodes ``labels`` (a tag's name
or value → its label). The pop shows those instead of YAML identifiers; a step without a label keeps
its identifier (the agent still sees something true).
"""

from __future__ import annotations

from typing import Any

from callcenter.ivr.flows import FlowSet


def tag_labels(flows: FlowSet | None) -> dict[str, str]:
    """Every tag name/value label of every tag node (the last definition wins)."""
    out: dict[str, str] = {}
    if flows is None:
        return out
    for flow in flows.flows.values():
        for node in flow.nodes.values():
            out.update(getattr(node, "labels", None) or {})
            # a collect node's label names the tag it stores (the order number keyed in)
            if getattr(node, "type", "") == "collect" and node.tag and node.label:
                out.setdefault(node.tag, node.label)
    return out


def label_payload(payload: dict[str, Any], flows: FlowSet | None) -> dict[str, Any]:
    """``payload`` (a screen-pop) with ``label``/``result_label`` on IVR steps and ``tag_labels``."""
    words = tag_labels(flows)
    steps = []
    for step in payload.get("ivr_path") or []:
        step = dict(step)
        node = None
        if flows is not None:
            flow = flows.flows.get(str(step.get("flow") or ""))
            node = flow.nodes.get(str(step.get("node") or "")) if flow is not None else None
        if node is not None:
            if node.label:
                step["label"] = node.label
            choice = (getattr(node, "choice_labels", None) or {}).get(str(step.get("result") or ""))
            if choice:
                step["result_label"] = choice
            elif getattr(node, "type", "") == "tag" and step.get("result"):
                # a tag step's result is "name=value,name=value": in words where the file gives them
                pairs = [p.partition("=") for p in str(step["result"]).split(",")]
                if any(k in words or v in words for k, _eq, v in pairs):
                    step["result_label"] = "；".join(f"{words.get(k, k)}：{words.get(v, v)}" for k, _eq, v in pairs)
        steps.append(step)
    tags = payload.get("tags") or {}
    return {**payload, "ivr_path": steps,
            "tag_labels": {k: [words.get(k, k), words.get(str(v), str(v))] for k, v in tags.items()
                           if k in words or str(v) in words}}
