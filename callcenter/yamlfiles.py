"""Bounded YAML loading: every YAML file the product reads goes through here.

PyYAML's safe loader shares an aliased node instead of copying it, so a few hundred bytes of
nested aliases ("billion laughs") build a document whose *expanded* size is astronomical; the
first code that walks it (pydantic, our line index, ``_str_keys``) then eats gigabytes. We refuse
such documents before anything walks them: at most ``MAX_ALIASES`` alias uses, at most
``MAX_EXPANSION`` extra nodes once aliases are expanded, and a size cap on the file itself. Errors name the
file and the line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

MAX_ALIASES = 64
MAX_EXPANSION = 5000
MAX_BYTES = 1024 * 1024  # IVR flows, configuration, locales, calendars: far below this


class YamlFileError(ValueError):
    """A YAML file that cannot be used: unreadable, too big, not YAML, or over the alias budget."""

    def __init__(self, source: str, line: int, message: str) -> None:
        super().__init__(f"{source}:{line}: {message}")
        self.source = source
        self.line = line
        self.message = message


class _BoundedLoader(yaml.SafeLoader):
    """The safe loader, counting alias uses while it composes (before anything is expanded)."""

    max_aliases = MAX_ALIASES

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self.alias_count = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.alias_count += 1
            if self.alias_count > self.max_aliases:
                mark = self.peek_event().start_mark
                raise _Refused(f"more than {self.max_aliases} aliases (*name): refused", mark.line + 1)
        return super().compose_node(parent, index)


class _Refused(Exception):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


def _children(n: yaml.Node) -> list[yaml.Node]:
    if isinstance(n, yaml.MappingNode):
        return [x for kv in n.value for x in kv]
    if isinstance(n, yaml.SequenceNode):
        return list(n.value)
    return []


def _check_expansion(node: yaml.Node, max_expansion: int) -> None:
    """Refuse when expanding the aliases would add more than ``max_expansion`` nodes.

    First the distinct nodes (what the text itself holds, bounded by the file size), then a walk
    that copies aliases, stopped as soon as it passes distinct + budget: O(file + budget), never
    the expanded size.
    """
    seen: set[int] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if id(n) not in seen:
            seen.add(id(n))
            stack.extend(_children(n))
    limit = len(seen) + max_expansion
    count = 0
    stack = [node]
    while stack:
        n = stack.pop()
        count += 1
        if count > limit:
            raise _Refused(f"aliases expand to more than {max_expansion} extra nodes: refused",
                           n.start_mark.line + 1)
        stack.extend(_children(n))


def compose(text: str, source: str = "<string>", *, max_aliases: int = MAX_ALIASES,
            max_expansion: int = MAX_EXPANSION) -> tuple[yaml.SafeLoader, yaml.Node | None]:
    """Parse one document to a node tree within the budgets; returns (loader, node) so the caller can
    construct the data (``loader.construct_document(node)``) and must ``loader.dispose()``.

    Raises :class:`YamlFileError` (file and line) when the text is not YAML or exceeds a budget.
    """
    loader = _BoundedLoader(text)
    loader.max_aliases = max_aliases
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_expansion(node, max_expansion)
    except _Refused as exc:
        loader.dispose()
        raise YamlFileError(source, exc.line, str(exc)) from None
    except yaml.MarkedYAMLError as exc:
        loader.dispose()
        mark = exc.problem_mark or exc.context_mark
        raise YamlFileError(source, mark.line + 1 if mark is not None else 1,
                            f"invalid YAML: {exc.problem or exc}") from exc
    except yaml.YAMLError as exc:
        loader.dispose()
        raise YamlFileError(source, 1, f"invalid YAML: {exc}") from exc
    return loader, node


def loads(text: str, source: str = "<string>", *, max_aliases: int = MAX_ALIASES,
          max_expansion: int = MAX_EXPANSION, max_bytes: int | None = MAX_BYTES) -> Any:
    """Plain data of one YAML document, refused (:class:`YamlFileError`) beyond the budgets."""
    if max_bytes is not None and len(text) > max_bytes:
        raise YamlFileError(source, 1, f"larger than {max_bytes} bytes: refused")
    loader, node = compose(text, source, max_aliases=max_aliases, max_expansion=max_expansion)
    try:
        if node is None:
            return None
        try:
            return loader.construct_document(node)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            raise YamlFileError(source, mark.line + 1 if mark is not None else 1,
                                f"invalid YAML: {exc.problem or exc}") from exc
        except ValueError as exc:  # e.g. a date like 2026-13-07
            raise YamlFileError(source, node.start_mark.line + 1, f"invalid value: {exc}") from exc
    finally:
        loader.dispose()


def read_text(path: str | os.PathLike[str], max_bytes: int = MAX_BYTES) -> str:
    """A YAML file's text (UTF-8), refused when larger than ``max_bytes`` (read at most that much)."""
    p = Path(path)
    with p.open("rb") as f:
        raw = f.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise YamlFileError(str(p), 1, f"larger than {max_bytes} bytes: refused")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlFileError(str(p), 1, f"not UTF-8 text: {exc}") from None


def load_file(path: str | os.PathLike[str], *, max_aliases: int = MAX_ALIASES, max_expansion: int = MAX_EXPANSION,
              max_bytes: int = MAX_BYTES) -> Any:
    """Plain data of a YAML file within the budgets; :class:`YamlFileError` names file and line.

    ``OSError`` (missing, unreadable) passes through unchanged for the caller to word.
    """
    text = read_text(path, max_bytes)
    return loads(text, str(path), max_aliases=max_aliases, max_expansion=max_expansion, max_bytes=None)
