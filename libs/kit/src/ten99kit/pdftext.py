"""Text for PDFs drawn with fpdf2's standard (core) fonts, used by every document ten99 draws
(certificates, invoices): what the fonts can show, how wide it is, wrapping and fitting.

The core fonts need no font file to parse or subset (a document takes about a millisecond) but
show only one 8-bit code page. ``printable`` folds other letters to their base letter
(``Łukasz Dvořák`` -> ``Lukasz Dvorák`` in Latin-1) and anything else to ``?``. Widths are the font's own
character widths summed (what ``FPDF.get_string_width`` computes, at a tenth of its cost).
This module does not import fpdf2: it takes the document object it measures in."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

__all__ = ["CORE_ENCODING", "fit", "printable", "text_width", "wrap"]

#: what fpdf2's core fonts encode text as (``FPDF.core_fonts_encoding``'s default)
CORE_ENCODING = "latin-1"

# letters NFKD does not decompose into a base letter
_EXTRA = str.maketrans(
    {"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "ı": "i", "Ŧ": "T", "ŧ": "t", "Ŋ": "N", "ŋ": "n"}
)


def _encodable(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def printable(text: str | None, encoding: str = CORE_ENCODING) -> str:
    """``text`` as the core fonts can show it in ``encoding`` (see the module's docstring)."""
    if not text:
        return ""
    if text.isascii() or _encodable(text, encoding):
        return text
    out = []
    for ch in unicodedata.normalize("NFC", text).translate(_EXTRA):
        if _encodable(ch, encoding):
            out.append(ch)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        out.append(base if base and _encodable(base, encoding) else "?")
    return "".join(out)


def text_width(pdf: Any, text: str) -> float:
    """The width of ``text`` in the document's current core font, in its unit."""
    widths = getattr(pdf.current_font, "cw", None)
    if isinstance(widths, dict):
        try:
            return float(sum(widths[ch] for ch in text) * pdf.font_size / 1000)
        except KeyError:
            pass
    return float(pdf.get_string_width(text))


Measure = Callable[[str], float]


def wrap(text: str, width: float, measure: Measure) -> list[str]:
    """Greedy word wrap: lines no wider than ``width`` (a single longer word keeps its line)."""
    space = measure(" ")
    lines: list[str] = []
    current: list[str] = []
    used = 0.0
    for word in text.split():
        w = measure(word)
        if current and used + space + w > width:
            lines.append(" ".join(current))
            current, used = [word], w
        else:
            used += (space if current else 0.0) + w
            current.append(word)
    if current:
        lines.append(" ".join(current))
    return lines or [""]


def fit(text: str, width: float, measure: Measure, ellipsis: str = "...") -> str:
    """``text`` cut to fit ``width`` on one line, ending with ``ellipsis`` if it was cut."""
    if measure(text) <= width:
        return text
    low, high = 0, len(text)  # the longest prefix that fits with the ellipsis
    while low < high:
        mid = (low + high + 1) // 2
        if measure(text[:mid] + ellipsis) <= width:
            low = mid
        else:
            high = mid - 1
    return text[:low].rstrip() + ellipsis
