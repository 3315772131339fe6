"""Refusals that people read: a message id and values, shown in the reader's language.

A rule that says no (an illegal transition, a missing field, a wrong password, a file too big)
raises a :class:`Refusal` naming a message of the catalogue (``error.<id>`` in
``callcenter/desk/locales/*.yaml``) and the values to fill in. The pages and the API show
``text(lang)``: Simplified Chinese by default, English on request. ``str()`` is the English text with
the program's own names (``handle``, ``dispatched``), for logs and the command line.

Values that are themselves names of things (a state, an action, a role, a field) are wrapped in
:class:`Term` / :class:`Terms`, so each language shows its own word for them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class Term:
    """A value shown as the catalogue entry ``<kind>.<value>`` (e.g. ``state.dispatched`` → 已交办)."""

    __slots__ = ("kind", "value")

    def __init__(self, kind: str, value: object) -> None:
        self.kind = kind
        self.value = str(value)

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return f"Term({self.kind!r}, {self.value!r})"


class Terms:
    """Several terms of one kind, listed the way the language lists things (、 or , )."""

    __slots__ = ("kind", "values")

    def __init__(self, kind: str, values: Iterable[object]) -> None:
        self.kind = kind
        self.values = tuple(str(v) for v in values)

    def __str__(self) -> str:
        return ", ".join(self.values)

    def __bool__(self) -> bool:
        return bool(self.values)


class Refusal(Exception):
    """Something a person asked for that the rules refuse; ``code`` is the HTTP status to answer with."""

    code = 400

    def __init__(self, msg_id: str, /, **values: Any) -> None:
        super().__init__(msg_id)
        self.msg_id = msg_id
        self.values = values

    def text(self, lang: str = "en") -> str:
        """The message for a person reading ``lang`` (``zh`` or ``en``)."""
        from callcenter.desk.i18n import Translator

        return Translator(lang).refusal(self)

    def __str__(self) -> str:
        from callcenter.desk.i18n import Translator

        return Translator("en").refusal(self, plain=True)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.msg_id!r}, {self.values!r})"
