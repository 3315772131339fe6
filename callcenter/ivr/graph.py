"""A flow as a picture: Graphviz DOT text, rendered to SVG/PNG by the ``dot`` program."""

from __future__ import annotations

import shutil
import subprocess

from callcenter.ivr.flows import Flow
from callcenter.ivr.schema import prompts_of, targets

SHAPES = {
    "play": "note", "menu": "diamond", "collect": "parallelogram", "hours": "hexagon", "tag": "tab",
    "queue": "box3d", "voicemail": "cylinder", "transfer": "doubleoctagon", "subflow": "component",
    "hangup": "doublecircle",
}
COLOURS = {"transfer": "#f4cccc", "queue": "#d9ead3", "voicemail": "#fff2cc", "hangup": "#eeeeee"}


def _q(text: str) -> str:
    """A DOT string literal (real newlines become DOT line breaks)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def to_dot(flow: Flow) -> str:
    """DOT text of ``flow``: one shape per node type, edges labelled with keys and outcomes."""
    lines = [f"digraph {_q(flow.name)} {{", "  rankdir=TB;", '  node [fontname="WenQuanYi Zen Hei,sans-serif"];',
             f"  labelloc=t; label={_q(f'{flow.name}: {flow.description}'.rstrip(': '))};",
             '  "__start" [shape=point, width=0.2];', f'  "__start" -> {_q(flow.start)};']
    for name, node in flow.nodes.items():
        detail = _detail(node)
        label = f"{name}\n[{node.type}]" + (f"\n{detail}" if detail else "")
        colour = COLOURS.get(node.type, "#ffffff")
        lines.append(f"  {_q(name)} [shape={SHAPES[node.type]}, style=filled, fillcolor={_q(colour)}, "
                     f"label={_q(label)}];")
        for field, target in targets(node):
            edge = field.removeprefix("choices.") if field.startswith("choices.") else field
            edge = "" if edge == "next" else edge
            lines.append(f"  {_q(name)} -> {_q(target)} [label={_q(edge)}];")
        if node.type == "subflow":
            lines.append(f"  {_q('flow:' + node.flow)} [shape=folder, label={_q('flow ' + node.flow)}];")
            lines.append(f"  {_q(name)} -> {_q('flow:' + node.flow)} [style=dashed];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _detail(node: object) -> str:
    parts = []
    for attr in ("queue", "destination", "calendar", "mailbox"):
        value = getattr(node, attr, None)
        if value:
            parts.append(f"{attr}: {value}")
    if getattr(node, "type", "") == "tag":
        parts.append(", ".join(f"{k}={v}" for k, v in node.tags.items()))  # type: ignore[attr-defined]
    sounds = [p for f, p in prompts_of(node) if f == "prompt"]
    if sounds:
        parts.append("♪ " + ", ".join(sounds))
    return "\n".join(parts)


def render(dot_text: str, fmt: str = "svg") -> bytes:
    """Run Graphviz ``dot`` (Debian package graphviz); raise RuntimeError when it is missing or fails."""
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError("Graphviz 'dot' is not installed (Debian package graphviz; scripts/bootstrap)")
    proc = subprocess.run([dot, f"-T{fmt}"], input=dot_text.encode(), capture_output=True, timeout=30, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"dot failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout
