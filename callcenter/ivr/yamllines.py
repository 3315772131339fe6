"""Load YAML keeping the line of every mapping key and sequence item (for error messages).

PyYAML's composer already knows where each node starts; we construct the plain data with the
safe constructor and walk the node tree beside it. Duplicate keys, which PyYAML silently
overwrites, are reported: in a menu they would hide a choice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[Any, ...]


class YamlSyntaxError(Exception):
    """The text is not YAML; ``line`` says where the parser gave up."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


@dataclass
class LinedDocument:
    """Plain data, and the 1-based line of each path (``('nodes', 'menu', 'choices', '1')``)."""

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    duplicates: list[tuple[Path, int]] = field(default_factory=list)

    def line_of(self, path: Path) -> int:
        """The line of ``path``, or of its nearest ancestor that has one."""
        for n in range(len(path), -1, -1):
            if path[:n] in self.lines:
                return self.lines[path[:n]]
        return 1


def load(text: str) -> LinedDocument:
    """Parse one YAML document; raise :class:`YamlSyntaxError` with a line number."""
    from callcenter import yamlfiles

    if len(text) > yamlfiles.MAX_BYTES:
        raise YamlSyntaxError(f"larger than {yamlfiles.MAX_BYTES} bytes: refused", 1)
    try:
        # Alias and expansion budgets first: _walk below visits every expanded node.
        loader, node = yamlfiles.compose(text)
    except yamlfiles.YamlFileError as exc:
        raise YamlSyntaxError(exc.message, exc.line) from None
    try:
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise YamlSyntaxError(f"invalid YAML: {exc.problem or exc}", line) from exc
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"invalid YAML: {exc}", 1) from exc
    finally:
        loader.dispose()
    doc = LinedDocument(_str_keys(data))
    if node is not None:
        _walk(node, (), doc)
    return doc


def _walk(node: yaml.Node, path: Path, doc: LinedDocument) -> None:
    doc.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else repr(key_node)
            if key in seen:
                doc.duplicates.append(((*path, key), key_node.start_mark.line + 1))
            seen.add(key)
            doc.lines[(*path, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*path, key), doc)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), doc)


def _str_keys(data: Any) -> Any:
    """Mapping keys as text: ``1:`` in a menu means the key '1', not the integer."""
    if isinstance(data, dict):
        return {str(k) if not isinstance(k, str) else k: _str_keys(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_str_keys(v) for v in data]
    return data
