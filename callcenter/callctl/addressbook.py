"""The address book of departments and experts reachable by transfer and three-way calls (configuration).

A YAML file (``callctl.address_book``, relative to ``data_dir`` unless absolute)::

    entries:
      - key: housing-duty          # what transfers name (book:housing-duty)
        name: 住建局值班室
        number: "87654321"         # dialled over the carrier trunk
        department: housing
        hours: "08:30-17:30 周一至周五"

The admin page rewrites it atomically (temporary file, then rename); a bad file is refused whole.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from callcenter import yamlfiles
from callcenter.callctl.numbers import CallRefusal, number

KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
MAX_ENTRIES = 500


@dataclass(frozen=True, slots=True)
class Entry:
    key: str
    name: str
    number: str
    department: str = ""
    hours: str = ""


def parse(data: Any) -> list[Entry]:
    """Entries from the file's data; refuses the whole book on the first bad entry (naming it)."""
    if data is None:
        return []
    items = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise CallRefusal(422, "book_bad_file")
    if len(items) > MAX_ENTRIES:
        raise CallRefusal(422, "book_too_many", limit=MAX_ENTRIES)
    entries: list[Entry] = []
    seen: set[str] = set()
    for i, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise CallRefusal(422, "book_bad_entry", line=i)
        key = str(item.get("key") or "").strip()
        name = str(item.get("name") or "").strip()[:80]
        if not KEY.match(key) or not name:
            raise CallRefusal(422, "book_bad_entry", line=i)
        if key in seen:
            raise CallRefusal(422, "book_duplicate_key", key=key)
        seen.add(key)
        entries.append(Entry(key, name, number(item.get("number")), str(item.get("department") or "")[:64],
                             str(item.get("hours") or "")[:80]))
    return entries


class AddressBook:
    """The book on disk; read on each use (it is small, and edits show at once on every node)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def entries(self) -> list[Entry]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        try:
            return parse(yamlfiles.loads(text, str(self.path)))
        except (yaml.YAMLError, yamlfiles.YamlFileError):
            raise CallRefusal(422, "book_bad_file") from None

    def get(self, key: str) -> Entry:
        for e in self.entries():
            if e.key == key:
                return e
        raise CallRefusal(404, "book_no_entry", key=key[:40])

    def save(self, entries: list[Entry]) -> None:
        data = {"entries": [asdict(e) for e in entries]}
        parse(data)  # the same checks as reading
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".address_book.")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            yaml.safe_dump(data, f, allow_unicode=True, sort_keys=False)
        os.replace(tmp, self.path)
