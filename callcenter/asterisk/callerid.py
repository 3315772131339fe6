"""Caller id values as Asterisk hands them over, made into what we store.

Asterisk writes ``<unknown>`` (AMI) or ``unknown`` (AGI) for a caller without a name or number,
and keeps the backslash escapes of a quoted SIP display name (``"O\\'Brien"`` arrives as
``O\\'Brien``). Stored values are the person's name or empty, never a placeholder.
"""

from __future__ import annotations

import re

PLACEHOLDERS = frozenset({"<unknown>", "unknown", "<Unknown>", "Unknown", "anonymous", "Anonymous"})
_ESCAPE = re.compile(r"\\(.)", re.S)


def clean_name(value: str | None) -> str:
    """A caller's display name: placeholders empty, C-style backslash escapes undone."""
    text = (value or "").strip()
    if text in PLACEHOLDERS:
        return ""
    if "\\" in text:
        text = _ESCAPE.sub(r"\1", text)
    return text


def clean_number(value: str | None) -> str:
    """A caller's number: the placeholders empty, otherwise as given (the boundary clips length)."""
    text = (value or "").strip()
    return "" if text in PLACEHOLDERS else text
