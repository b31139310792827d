"""CSV for spreadsheets: cells that a spreadsheet would never run as a formula.

A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading
apostrophe (OWASP's advice against CSV injection), so that Excel, LibreOffice or Sheets show it
instead of evaluating it. Dates are written ISO (``2026-12-07``; a datetime by its UTC day), lists
joined with ``", "``, ``None`` as an empty cell. Rows end in CRLF (RFC 4180)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

__all__ = ["FORMULA_STARTS", "csv_text", "neutralise"]

#: the first characters that make a spreadsheet read a cell as a formula (or split it)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> str:
    """The cell's text, with a leading apostrophe if a spreadsheet would take it for a formula."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        text = value.date().isoformat()
    elif isinstance(value, date):
        text = value.isoformat()
    elif isinstance(value, list | tuple):
        text = ", ".join(str(v) for v in value)
    else:
        text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_text(rows: Iterable[Sequence[Any]]) -> str:
    """The rows as CSV text, every cell neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([neutralise(v) for v in row])
    return out.getvalue()
