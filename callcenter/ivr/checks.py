"""Rules across nodes, flows and the outside world: targets, reachability, loops, prompts, calendars."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from callcenter.ivr.schema import (
    NAME,
    Calendar,
    HangupNode,
    HoursNode,
    QueueNode,
    SubflowNode,
    TransferNode,
    VoicemailNode,
    prompts_of,
    targets,
)

if TYPE_CHECKING:
    from callcenter.ivr import yamllines
    from callcenter.ivr.flows import CheckContext, Flow, Problem


def leaves_flow(node: object) -> bool:
    """Nodes after which the caller is no longer in this flow's loop (or has hung up)."""
    if isinstance(node, HangupNode | QueueNode | TransferNode | SubflowNode):
        return True
    return isinstance(node, VoicemailNode) and node.next is None


def check_set(flows: dict[str, Flow], calendars: dict[str, Calendar], docs: dict[str, yamllines.LinedDocument],
              context: CheckContext) -> list[Problem]:
    from callcenter.ivr.flows import Problem

    problems: list[Problem] = []
    for flow in flows.values():
        doc = docs[flow.file]

        def report(node: str, message: str, field: str | None = None, flow: Flow = flow,
                   doc: yamllines.LinedDocument = doc) -> None:
            path: tuple[str, ...] = ("nodes", node, *field.split(".")) if field else ("nodes", node)
            problems.append(Problem(flow.file, doc.line_of(path), node, message))

        if flow.start not in flow.nodes:
            problems.append(Problem(flow.file, doc.line_of(("start",)), "start",
                                    f"no node named {flow.start!r} to start from"))
        for name, node in flow.nodes.items():
            if not re.match(NAME, name):
                report(name, f"node name {name!r} may only hold letters, digits, '.', '_' and '-'")
            for fname, target in targets(node):
                if target not in flow.nodes:
                    report(name, f"{fname}: no node named {target!r} in flow {flow.name!r}", fname)
            _check_outside(name, node, flows, calendars, context, report)
        problems.extend(_reachability(flow, doc))
    return problems


def _check_outside(name: str, node: object, flows: dict[str, Flow], calendars: dict[str, Calendar],
                   context: CheckContext, report: Callable[..., None]) -> None:
    if isinstance(node, SubflowNode) and node.flow not in flows:
        report(name, f"flow: no flow named {node.flow!r}", "flow")
    if isinstance(node, HoursNode) and node.calendar not in calendars:
        known = ", ".join(sorted(calendars)) or "none defined"
        report(name, f"calendar: no calendar named {node.calendar!r} ({known})", "calendar")
    if isinstance(node, QueueNode) and context.queues is not None and node.queue not in context.queues:
        report(name, f"queue: no queue named {node.queue!r} in the configuration", "queue")
    if isinstance(node, TransferNode) and context.trunks is not None and node.trunk not in context.trunks:
        report(name, f"trunk: no trunk named {node.trunk!r} in the configuration", "trunk")
    if context.prompts_dir is not None:
        for fname, prompt in prompts_of(node):
            if not sound_exists(context.prompts_dir, prompt, context.sound_extensions):
                report(name, f"{fname}: no sound file for {prompt!r} in {context.prompts_dir} "
                       f"(.{', .'.join(context.sound_extensions[:3])}…; run scripts/make-prompts?)", fname)


def sound_exists(prompts_dir: Path, prompt: str, extensions: tuple[str, ...]) -> bool:
    """True when ``prompts_dir/prompt.<ext>`` exists for one of ``extensions`` (and stays inside the dir)."""
    if ".." in Path(prompt).parts or prompt.startswith("/"):
        return False
    return any((prompts_dir / f"{prompt}.{ext}").is_file() for ext in extensions)


def _edges(flow: Flow) -> dict[str, list[str]]:
    return {name: [t for _f, t in targets(node) if t in flow.nodes] for name, node in flow.nodes.items()}


def _reachability(flow: Flow, doc: yamllines.LinedDocument) -> list[Problem]:
    from callcenter.ivr.flows import Problem

    if flow.start not in flow.nodes:
        return []
    edges = _edges(flow)
    seen = {flow.start}
    todo = deque([flow.start])
    while todo:
        for nxt in edges[todo.popleft()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    out = [Problem(flow.file, doc.line_of(("nodes", n)), n, f"unreachable from the start node {flow.start!r}")
           for n in flow.nodes if n not in seen]
    # nodes from which no path leaves the flow: the caller would go round for ever
    reverse: dict[str, list[str]] = {n: [] for n in flow.nodes}
    for src, dsts in edges.items():
        for d in dsts:
            reverse[d].append(src)
    can_exit = {n for n, node in flow.nodes.items() if leaves_flow(node)}
    todo = deque(can_exit)
    while todo:
        for prev in reverse[todo.popleft()]:
            if prev not in can_exit:
                can_exit.add(prev)
                todo.append(prev)
    reported: set[frozenset[str]] = set()
    for n in flow.nodes:
        if n in seen and n not in can_exit:
            cycle = _cycle_from(n, edges, can_exit)
            key = frozenset(cycle)
            if key in reported:
                continue
            reported.add(key)
            first = min(cycle, key=lambda x: doc.line_of(("nodes", x)))
            out.append(Problem(flow.file, doc.line_of(("nodes", first)), first,
                               f"loop with no exit: {' -> '.join(_rotate(cycle, first))} -> {first}"))
    return out


def _cycle_from(start: str, edges: dict[str, list[str]], can_exit: set[str]) -> list[str]:
    path: list[str] = []
    index: dict[str, int] = {}
    node = start
    while node not in index:
        index[node] = len(path)
        path.append(node)
        nxt = [d for d in edges[node] if d not in can_exit]
        if not nxt:  # a dead end that is not an exit (cannot happen: every node kind has a target)
            return path
        node = nxt[0]
    return path[index[node]:]


def _rotate(cycle: list[str], first: str) -> list[str]:
    i = cycle.index(first)
    return cycle[i:] + cycle[:i]
