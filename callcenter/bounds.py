"""Bounds for values that come from outside (AMI, queue_log, AGI, voicemail spool, web input).

Why: one value the database refuses (a 79-character caller id in a 64-character column, a NUL byte
on PostgreSQL, a lone surrogate that cannot be encoded) once blocked every later write. Values are
cleaned and clipped where they enter, and :mod:`callcenter.store.rows` fits every row to its columns
again before it is written, so no outside value can make a row unwritable.
"""

from __future__ import annotations

import re
from typing import Any

# Column widths the store uses for outside values (Asterisk keeps caller ids up to 79 characters).
NUMBER_MAX = 80
NAME_MAX = 128
ID_MAX = 64
TEXT_MAX = 512

# C0 controls except TAB/LF/CR, DEL, C1 controls, and lone surrogates (not encodable as UTF-8).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# For one-line values CR, LF and TAB go too.
_CONTROL_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def clean(value: Any, multiline: bool = False) -> str:
    """``value`` as text without control characters (NUL included) and lone surrogates."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():  # the usual case, in C: no control characters, no surrogates
        return text
    return (_CONTROL if multiline else _CONTROL_LINE).sub("", text)


def clip(text: str, limit: int) -> str:
    """At most ``limit`` characters (never splits a character: Python strings are code points)."""
    return text if len(text) <= limit else text[:limit]


def fit(value: Any, limit: int, multiline: bool = False) -> str:
    """Cleaned and clipped to ``limit`` characters."""
    return clip(clean(value, multiline), limit)


def number(value: Any) -> str:
    """A caller/called number (Asterisk allows 79 characters)."""
    return fit(value, NUMBER_MAX).strip()


def name(value: Any) -> str:
    """A display name."""
    return fit(value, NAME_MAX).strip()


def ident(value: Any) -> str:
    """An identifier from Asterisk (uniqueid, linkedid, queue, agent)."""
    return fit(value, ID_MAX).strip()


def text(value: Any, limit: int = TEXT_MAX) -> str:
    """Any other one-line outside value (channel names, paths, reasons)."""
    return fit(value, limit)
