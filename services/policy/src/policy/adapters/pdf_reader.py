"""Reading an uploaded PDF with pypdf: does it open, and its text (the first pages only)."""

from __future__ import annotations

import io
import logging

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from ..domain.review import ExtractedPdf

__all__ = ["read_pdf"]

#: the pages read (1099Policy analyses the first two; a certificate's facts are on its first)
PAGES_READ = 2

# pypdf logs every oddity of a hostile file as a warning: the review says what matters
logging.getLogger("pypdf").setLevel(logging.ERROR)


def read_pdf(content: bytes) -> ExtractedPdf:
    """``opened`` False: not a PDF pypdf can open. ``text`` None: opened, but its text could not
    be extracted (encrypted, broken content streams)."""
    try:
        reader = PdfReader(io.BytesIO(content))
    except (PyPdfError, ValueError, TypeError, KeyError, IndexError, OSError, RecursionError):
        return ExtractedPdf(opened=False, text=None)
    try:
        text = "\n".join(page.extract_text() or "" for page in reader.pages[:PAGES_READ])
    except Exception:
        return ExtractedPdf(opened=True, text=None)
    return ExtractedPdf(opened=True, text=text)
