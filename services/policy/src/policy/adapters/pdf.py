"""Draws a Certificate of Insurance as a one-page PDF with fpdf2.

Speed matters (a certificate is drawn inside the transaction that binds the coverage): the
standard Helvetica font needs no font file to parse or subset, so a certificate takes about
2 ms. Its text is Windows-1252; other characters are transliterated (see `printable`).
"""

from __future__ import annotations

import unicodedata
from datetime import date

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from ..domain.certificate import CertificateDocument

__all__ = ["DISCLAIMER", "printable", "render_certificate"]

DISCLAIMER = (
    "This certificate is issued as a matter of information only and confers no rights upon the certificate "
    "holder. It does not affirmatively or negatively amend, extend or alter the coverage afforded by the policy "
    "below, and it does not constitute a contract between the insurer, the producer and the certificate holder. "
    "Coverage is subject to all terms, conditions and exclusions of the policy."
)
CANCELLATION = (
    "Should the coverage described above be cancelled before its expiration date, notice will be delivered in "
    "accordance with the policy provisions. Dates are inclusive days in UTC."
)

# Letters NFKD does not decompose into an ASCII base letter.
_EXTRA = str.maketrans(
    {"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "ı": "i", "Ŧ": "T", "ŧ": "t", "Ŋ": "N", "ŋ": "n"}
)

_CONSTANT = frozenset((DISCLAIMER, CANCELLATION))
_INK = (20, 20, 20)
_MUTED = (90, 90, 90)
_RULE = (160, 160, 160)
_STAMP = (190, 20, 20)
_W = 185.9  # usable width of a Letter page with 15 mm margins


def printable(text: str | None) -> str:
    """Text the standard PDF fonts can show: Windows-1252, with accents stripped from other
    letters (``Łukasz Dvořák`` -> ``Lukasz Dvorak``) and anything else as ``?``."""
    if not text:
        return ""
    try:
        text.encode("cp1252")
        return text
    except UnicodeEncodeError:
        pass
    out = []
    for ch in text.translate(_EXTRA):
        try:
            ch.encode("cp1252")
            out.append(ch)
            continue
        except UnicodeEncodeError:
            pass
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        try:
            base.encode("cp1252")
            out.append(base or "?")
        except UnicodeEncodeError:
            out.append("?")
    return "".join(out)


_WRAPPED: dict[tuple[str, float, float], list[str]] = {}


def _wrapped(pdf: _Certificate, text: str, size: float, width: float) -> list[str]:
    key = (text, size, width)
    lines = _WRAPPED.get(key)
    if lines is None:
        lines = pdf.wrap(text, width)
        if len(_WRAPPED) < 64 and text in _CONSTANT:  # only the fixed paragraphs are worth keeping
            _WRAPPED[key] = lines
    return lines


def _day(d: date) -> str:
    return d.isoformat()


class _Certificate(FPDF):
    def heading(self, text: str) -> None:
        self.set_font("helvetica", "B", 8)
        self.set_text_color(*_MUTED)
        self.cell(0, 4.5, text.upper(), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(*_INK)

    def line_of(self, text: str, size: float = 10, style: str = "") -> None:
        self.set_font("helvetica", style, size)
        self.cell(0, size * 0.5, printable(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def paragraph(self, text: str, size: float = 8) -> None:
        """Word-wrapped text. (fpdf2's multi_cell measures each line once per character, which
        made it most of a certificate's drawing time; constant paragraphs are wrapped once.)"""
        self.set_font("helvetica", "", size)
        for line in _wrapped(self, printable(text), size, _W):
            self.cell(0, size * 0.45, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def wrap(self, text: str, width: float) -> list[str]:
        """Greedy word wrap of ``text`` in the current font to ``width`` mm."""
        space = self.get_string_width(" ")
        lines: list[str] = []
        current: list[str] = []
        used = 0.0
        for word in text.split():
            w = self.get_string_width(word)
            if current and used + space + w > width:
                lines.append(" ".join(current))
                current, used = [word], w
            else:
                used += (space if current else 0.0) + w
                current.append(word)
        if current:
            lines.append(" ".join(current))
        return lines or [""]

    def rule(self, gap: float = 2.5) -> None:
        self.ln(gap)
        self.set_draw_color(*_RULE)
        self.line(self.l_margin, self.get_y(), self.l_margin + _W, self.get_y())
        self.ln(gap)


def render_certificate(doc: CertificateDocument) -> bytes:
    """The certificate as PDF bytes."""
    pdf = _Certificate(format="letter", unit="mm")
    pdf.core_fonts_encoding = "windows-1252"
    pdf.set_margins(15, 14, 15)
    pdf.set_auto_page_break(False)
    pdf.set_creation_date(doc.issued_at)
    pdf.set_title(f"Certificate of Insurance {doc.certificate_number}")
    pdf.set_author(printable(doc.producer_name))
    pdf.set_subject(printable(f"{doc.insured_name} - {doc.holder_name}"))
    pdf.add_page()
    pdf.set_text_color(*_INK)

    # title and identifiers
    pdf.set_font("helvetica", "B", 17)
    pdf.cell(110, 9, "CERTIFICATE OF INSURANCE")
    pdf.set_font("helvetica", "", 9)
    pdf.cell(0, 4.5, f"Certificate No. {doc.certificate_number}", align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_x(pdf.l_margin + 110)
    pdf.cell(0, 4.5, f"Issued {_day(doc.issued_at.date())}", align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if doc.supersedes_number:
        pdf.set_x(pdf.l_margin + 110)
        pdf.cell(0, 4.5, f"Replaces {doc.supersedes_number}", align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)

    if doc.stamp:
        pdf.set_draw_color(*_STAMP)
        pdf.set_text_color(*_STAMP)
        pdf.set_line_width(0.6)
        pdf.set_font("helvetica", "B", 11)
        pdf.cell(0, 8, printable(doc.stamp), border=1, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_line_width(0.2)
        pdf.set_text_color(*_INK)
        pdf.ln(2)

    pdf.set_text_color(*_MUTED)
    pdf.paragraph(DISCLAIMER, 7)
    pdf.set_text_color(*_INK)
    pdf.rule()

    # producer | insurer
    top = pdf.get_y()
    pdf.heading("Producer")
    pdf.line_of(doc.producer_name)
    pdf.set_xy(pdf.l_margin + _W / 2, top)
    pdf.set_font("helvetica", "B", 8)
    pdf.set_text_color(*_MUTED)
    pdf.cell(0, 4.5, "INSURER", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_text_color(*_INK)
    pdf.set_font("helvetica", "", 10)
    pdf.cell(0, 5, printable(doc.insurer_name), new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.cell(0, 5, f"Policy No. {doc.policy_number}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.rule()

    # insured
    pdf.heading("Insured")
    pdf.line_of(doc.insured_name, 11, "B")
    if doc.insured_business:
        pdf.line_of(doc.insured_business)
    for address_line in doc.insured_address:
        pdf.line_of(address_line)
    pdf.rule()

    # coverages
    pdf.heading("Coverages")
    widths = (54.0, 36.0, 21.0, 21.0)
    pdf.set_font("helvetica", "B", 8)
    pdf.set_fill_color(238, 238, 238)
    for label, w in zip(("Type of insurance", "Policy number", "Effective", "Expires"), widths, strict=True):
        pdf.cell(w, 6, label, border="B", fill=True)
    pdf.cell(0, 6, "Limits", border="B", fill=True, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for label, limits in doc.coverage_lines():
        row_top = pdf.get_y()
        pdf.set_font("helvetica", "B", 9)
        label_lines = pdf.wrap(printable(label), widths[0] - 2)
        for i, text in enumerate(label_lines):
            pdf.set_xy(pdf.l_margin, row_top + 5 * i)
            pdf.cell(widths[0], 5, text)
        label_bottom = row_top + 5 * len(label_lines)
        pdf.set_xy(pdf.l_margin + widths[0], row_top)
        pdf.set_font("helvetica", "", 9)
        pdf.cell(widths[1], 5, doc.policy_number)
        pdf.cell(widths[2], 5, _day(doc.effective_date))
        pdf.cell(widths[3], 5, _day(doc.end_date))
        x_limits = pdf.l_margin + sum(widths)
        y = row_top
        for name, amount in limits:
            pdf.set_xy(x_limits, y)
            pdf.set_font("helvetica", "", 8)
            pdf.cell(30, 5, printable(name))
            pdf.set_font("helvetica", "B", 8)
            pdf.cell(0, 5, printable(amount), align="R")
            y += 5
        pdf.set_xy(pdf.l_margin, max(y, label_bottom) + 1)
        pdf.set_draw_color(*_RULE)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + _W, pdf.get_y())
        pdf.ln(1.5)
    pdf.ln(1)

    # description of operations
    pdf.heading("Description of operations")
    where = f" Work state: {doc.work_state}." if doc.work_state else ""
    pdf.paragraph(
        f"Assignment {doc.assignment_id}: {doc.job_name} for {doc.holder_name}.{where} Coverage applies to the "
        f"insured's work on this assignment from {_day(doc.effective_date)} through {_day(doc.end_date)}.",
        9,
    )
    pdf.rule()

    # certificate holder
    pdf.heading("Certificate holder")
    pdf.line_of(doc.holder_name, 11, "B")
    if doc.company_name:
        pdf.line_of(f"c/o {doc.company_name}")
    pdf.rule()

    pdf.heading("Cancellation")
    pdf.paragraph(CANCELLATION, 8)
    pdf.ln(4)
    pdf.set_text_color(*_MUTED)
    pdf.line_of(f"Authorized representative: {doc.producer_name}", 8)
    return bytes(pdf.output())
