"""Translations: one message catalogue per language (message id → text).

The catalogue of a language is the desk's ``locales/<lang>.yaml`` merged with the
``locales/<lang>.yaml`` of every other package of ``callcenter`` that has one (each capability
keeps its own words next to its code); a message id defined twice is an error. Simplified Chinese
is the default; English is complete. Templates call ``_("nav.orders")``; a message id missing from
a catalogue is a bug, found by the unit test that compares catalogues with every id the templates
and code use.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from callcenter import yamlfiles
from callcenter.errors import Refusal, Term, Terms

LOCALES = Path(__file__).parent / "locales"
PACKAGES = Path(__file__).parents[1]
LANGUAGES = ("zh", "en")
DEFAULT = "zh"


def catalogue_files(lang: str) -> list[Path]:
    """The files of one language's catalogue: the desk's first, then other packages' by name."""
    others = sorted(p for p in PACKAGES.glob(f"*/locales/{lang}.yaml") if p.parent != LOCALES)
    return [LOCALES / f"{lang}.yaml", *others]


@cache
def catalogue(lang: str) -> dict[str, str]:
    """Every message of ``lang`` (flattened: nested YAML keys joined with dots)."""
    flat: dict[str, str] = {}
    origin: dict[str, Path] = {}

    def walk(path: Path, prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(path, f"{prefix}{k}." if not isinstance(v, str) else f"{prefix}{k}", v)
            return
        if prefix in flat:
            raise ValueError(f"{path}: message {prefix!r} is already defined in {origin[prefix]}")
        flat[prefix], origin[prefix] = str(node), path

    for path in catalogue_files(lang):
        data = yamlfiles.load_file(path) or {}
        for k, v in data.items():
            walk(path, k if isinstance(v, str) else f"{k}.", v)
    return flat


class Translator:
    """``t("key", name=value)``: the message in this language, with ``{name}`` placeholders filled."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT
        self.messages = catalogue(self.lang)

    def __call__(self, key: str, **values: Any) -> str:
        text = self.messages.get(key)
        if text is None:
            text = catalogue(DEFAULT).get(key, key)
        return text.format(**values) if values else text

    def refusal(self, refusal: Refusal, plain: bool = False) -> str:
        """A refusal's message (``error.<id>``) with its values; names of things (states, actions,
        roles, fields) in this language, or as the program calls them when ``plain`` (logs, CLI)."""
        sep = "、" if self.lang == "zh" and not plain else ", "

        def show(value: Any) -> str:
            if isinstance(value, Term):
                return value.value if plain else self.term(value)
            if isinstance(value, Terms):
                items = [Term(value.kind, v) for v in value.values]
                return sep.join(show(item) for item in items) or ("-" if plain else self("error.nothing"))
            return str(value)

        values = {k: show(v) for k, v in refusal.values.items()}
        text = self.messages.get("error." + refusal.msg_id) or catalogue(DEFAULT).get("error." + refusal.msg_id)
        if text is None:  # a bug (the catalogue test looks for every id): still say something useful
            return refusal.msg_id + "".join(f" {k}={v}" for k, v in values.items())
        return text.format(**values)

    def term(self, term: Term) -> str:
        """A named thing in this language (its code when the catalogue has no word for it)."""
        return self.messages.get(f"{term.kind}.{term.value}") or term.value

    def name(self, obj: Any) -> str:
        """A configured thing's name in this language (categories and departments have name/name_en)."""
        if obj is None:
            return ""
        if self.lang == "en" and getattr(obj, "name_en", ""):
            return str(obj.name_en)
        return str(obj.name)


def pick_language(query_lang: str | None, cookie_lang: str | None, accept: str | None, default: str) -> str:
    """``?lang=`` first, then the cookie, then ``Accept-Language`` when the caller passes it (the API:
    platforms have no cookie; browsers' Accept-Language is not trusted to mean the hotline's working
    language, so pages do not pass it), then the configured default."""
    for candidate in (query_lang, cookie_lang):
        if candidate in LANGUAGES:
            return str(candidate)
    if accept:
        first = accept.split(",")[0].split(";")[0].strip().lower()
        if first.split("-")[0] in LANGUAGES:
            return first.split("-")[0]
    return default if default in LANGUAGES else DEFAULT
