"""Labelled values in text people read: ``PO 5555``, but ``PO-5555`` as it is (issue 15: mail and
invoices said "PO PO-5555" when the number already carried its label)."""

from __future__ import annotations

import re

__all__ = ["labelled"]


def labelled(label: str, value: object) -> str:
    """``value`` with ``label`` in front, unless it already begins with that label as a word
    (``PO-5555``, ``PO5555``, ``po 12``, ``P.O. 7``); ``POLAR-7`` is not labelled, so it becomes ``PO POLAR-7``."""
    text = str(value or "").strip()
    dotted = r"\.?".join(re.escape(ch) for ch in label) + r"\.?"
    if re.match(rf"(?i){dotted}(?![a-z])", text):
        return text
    return f"{label} {text}"
