"""How many SMS parts a text needs: GSM-7 (160 / 153 per part) or UCS-2 (70 / 67 per part).

Kannel 1.4.5 never picks UCS-2 by itself, so the product decides: any character outside the GSM 03.38
alphabet makes the whole message UCS-2 (``coding=2``). Extension characters (``€ [ ] { } ^ ~ | \\``
and form feed) take two septets. UCS-2 counts UTF-16 code units (a character outside the BMP takes two).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("^{}\\[~]|€\f")


@dataclass(frozen=True)
class Segmentation:
    encoding: str  # "gsm7" | "ucs2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int
    per_segment: int  # capacity of one part in this message's case (single or concatenated)

    @property
    def coding(self) -> int:
        """Kannel's ``coding`` parameter: 0 = 7-bit, 2 = UCS-2."""
        return 2 if self.encoding == "ucs2" else 0


def is_gsm7(text: str) -> bool:
    return all(ch in GSM_BASIC or ch in GSM_EXTENSION for ch in text)


def segment(text: str) -> Segmentation:
    """The encoding and part count of ``text`` (an empty text is one part)."""
    if is_gsm7(text):
        units = sum(2 if ch in GSM_EXTENSION else 1 for ch in text)
        single, multi, enc = 160, 153, "gsm7"
    else:
        units = len(text.encode("utf-16-be")) // 2
        single, multi, enc = 70, 67, "ucs2"
    if units <= single:
        return Segmentation(enc, units, 1, single)
    return Segmentation(enc, units, math.ceil(units / multi), multi)
