"""Load a set of flow files into an immutable, versioned :class:`FlowSet`, or say what is wrong.

Every problem names the file, the line and the node (``file:line: node: message``). A set
with any problem is refused as a whole: the caller keeps running the previous set.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from callcenter import yamlfiles
from callcenter.ivr import yamllines
from callcenter.ivr.schema import NODE_TYPES, Calendar, FlowDocument, Node


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a flow file."""

    file: str
    line: int
    node: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.node}: {self.message}"


@dataclass(frozen=True)
class Flow:
    name: str
    start: str
    nodes: dict[str, Node]
    file: str
    description: str = ""
    # 1-based line of each node (for runtime messages and pictures)
    lines: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class FlowSet:
    """Every flow and calendar of one consistent version (calls keep the set they started with)."""

    version: str
    flows: dict[str, Flow]
    calendars: dict[str, Calendar]
    files: tuple[str, ...] = ()

    def node(self, flow: str, node: str) -> Node:
        return self.flows[flow].nodes[node]


EMPTY = FlowSet(version="empty", flows={}, calendars={})


@dataclass(frozen=True)
class CheckContext:
    """What flows may refer to outside themselves; ``None`` means "don't check"."""

    prompts_dir: Path | None = None
    queues: frozenset[str] | None = None
    trunks: frozenset[str] | None = None
    sound_extensions: tuple[str, ...] = ("gsm", "wav", "sln", "sln16", "ulaw", "alaw", "g722")


@dataclass
class _Parsed:
    file: str
    doc: yamllines.LinedDocument
    model: FlowDocument


def yaml_files(paths: Iterable[str | Path]) -> list[Path]:
    """The ``*.yaml``/``*.yml`` files named, or found (not recursively) in directories named."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(x for x in p.iterdir() if x.suffix in (".yaml", ".yml") and x.is_file()))
        else:
            out.append(p)
    return out


def fingerprint(files: Sequence[Path]) -> str:
    """Cheap change detector for a watcher: names, sizes and modification times."""
    h = hashlib.sha256()
    for f in files:
        try:
            st = f.stat()
        except OSError:
            continue
        h.update(f"{f}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def load_files(files: Sequence[Path], context: CheckContext | None = None) -> tuple[FlowSet | None, list[Problem]]:
    """Read, parse and check ``files`` as one set; the set is returned only when nothing is wrong."""
    from callcenter.ivr.checks import check_set

    context = context or CheckContext()
    problems: list[Problem] = []
    parsed: list[_Parsed] = []
    digest = hashlib.sha256()
    for f in files:
        name = str(f)
        try:
            with f.open("rb") as fh:
                raw = fh.read(yamlfiles.MAX_BYTES + 1)
        except OSError as exc:
            problems.append(Problem(name, 1, "-", f"cannot read: {exc.strerror or exc}"))
            continue
        if len(raw) > yamlfiles.MAX_BYTES:
            problems.append(Problem(name, 1, "-", f"larger than {yamlfiles.MAX_BYTES} bytes: refused"))
            continue
        digest.update(f.name.encode() + b"\0" + raw + b"\0")
        try:
            doc = yamllines.load(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            problems.append(Problem(name, 1, "-", f"not UTF-8 text: {exc}"))
            continue
        except yamllines.YamlSyntaxError as exc:
            problems.append(Problem(name, exc.line, "-", str(exc)))
            continue
        for path, line in doc.duplicates:
            problems.append(Problem(name, line, _node_of(path), f"duplicate key {path[-1]!r}"))
        if not isinstance(doc.data, dict):
            problems.append(Problem(name, 1, "-", "the file must be a mapping (flow, start, nodes, calendars)"))
            continue
        try:
            model = FlowDocument.model_validate(doc.data)
        except ValidationError as exc:
            problems.extend(_pydantic_problems(name, doc, exc))
            continue
        parsed.append(_Parsed(name, doc, model))
    flows: dict[str, Flow] = {}
    calendars: dict[str, Calendar] = {}
    cal_where: dict[str, str] = {}
    for p in parsed:
        for cal_name, cal in p.model.calendars.items():
            if cal_name in calendars:
                problems.append(Problem(p.file, p.doc.line_of(("calendars", cal_name)), f"calendar {cal_name}",
                                        f"calendar {cal_name!r} is already defined in {cal_where[cal_name]}"))
                continue
            calendars[cal_name] = cal
            cal_where[cal_name] = p.file
        if p.model.nodes is None:
            continue
        flow_name = p.model.flow or Path(p.file).stem
        if flow_name in flows:
            problems.append(Problem(p.file, p.doc.line_of(("flow",)), "flow",
                                    f"flow {flow_name!r} is already defined in {flows[flow_name].file}"))
            continue
        lines = {n: p.doc.line_of(("nodes", n)) for n in p.model.nodes}
        flows[flow_name] = Flow(flow_name, p.model.start or "", dict(p.model.nodes), p.file,
                                p.model.description, lines)
    docs = {p.file: p.doc for p in parsed}
    problems.extend(check_set(flows, calendars, docs, context))
    if problems:
        return None, sorted(set(problems))
    return FlowSet(digest.hexdigest()[:12], flows, calendars, tuple(str(f) for f in files)), []


def _node_of(path: tuple[Any, ...]) -> str:
    if len(path) >= 2 and path[0] == "nodes":
        return str(path[1])
    if len(path) >= 2 and path[0] == "calendars":
        return f"calendar {path[1]}"
    return str(path[0]) if path else "-"


def _pydantic_problems(file: str, doc: yamllines.LinedDocument, exc: ValidationError) -> list[Problem]:
    out = []
    for err in exc.errors():
        loc = _data_path(doc.data, err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "union_tag_invalid":
            loc = (*loc, "type")
            tag = err.get("ctx", {}).get("tag", "?")
            message = f"unknown node type {tag!r} (one of {', '.join(NODE_TYPES)})"
        elif err["type"] == "union_tag_not_found":
            message = f"node has no 'type' (one of {', '.join(NODE_TYPES)})"
        elif err["type"] == "extra_forbidden":
            message = f"unknown field {str(err['loc'][-1])!r}"
        elif err["type"] == "missing":
            message = f"missing field {str(err['loc'][-1])!r}"
            loc = loc[:-1] if loc and loc[-1] == err["loc"][-1] else loc
        if err["loc"] and err["loc"][-1] == "[key]":
            message = f"key {str(err['loc'][-2])!r}: {message}"
        own_message = ("missing", "extra_forbidden", "union_tag_invalid", "union_tag_not_found")
        field_name = str(err["loc"][-1]) if err["loc"] and err["type"] not in own_message else ""
        field_name = "" if field_name == "[key]" else field_name
        if field_name and field_name not in message and not field_name.isdigit() and len(loc) > 2:
            message = f"{field_name}: {message}"
        out.append(Problem(file, doc.line_of(loc), _node_of(loc), message))
    return out


def _data_path(data: Any, loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """pydantic's error location → path in the YAML data (dropping union tags and the like)."""
    path: list[Any] = []
    cursor = data
    for part in loc:
        if isinstance(cursor, dict) and part in cursor:
            path.append(part)
            cursor = cursor[part]
        elif isinstance(cursor, list) and isinstance(part, int) and part < len(cursor):
            path.append(part)
            cursor = cursor[part]
        elif isinstance(cursor, dict) and part not in cursor and part not in NODE_TYPES and path:
            # a missing or extra key: point at the mapping that should (not) hold it
            path.append(part)
            cursor = None
    return tuple(path)
