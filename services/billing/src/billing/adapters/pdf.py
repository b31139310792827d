"""The invoice PDF (fpdf2): one document per invoice, whatever its number of lines.

Rows are drawn as plain cells (fpdf2's table helper is about ten times slower for a thousand
rows); the column header repeats on every page. Core fonts only, so text is folded to Latin-1
and measured by `ten99kit.pdftext`.
"""

from __future__ import annotations

from functools import cache, partial
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fpdf import FPDF

from ten99kit import warm_up_once
from ten99kit.labels import labelled
from ten99kit.pdftext import fit, printable, text_width

from ..domain.document import InvoiceDocument, InvoicePdfLine

__all__ = ["InvoiceDocument", "InvoicePdfLine", "money", "render_invoice_pdf", "warm_up_in_background"]


def money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    dollars, rest = divmod(abs(cents), 100)
    return f"{sign}${dollars:,}.{rest:02d}"


@cache
def _pdf_class() -> type[FPDF]:
    """fpdf2 (and Pillow with it) is imported at the first invoice: about 50 MB an idle process
    does not need."""
    from fpdf import FPDF

    class _Pdf(FPDF):
        footer_text = ""

        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("helvetica", size=7)
            self.set_text_color(110)
            self.cell(0, 5, printable(f"{self.footer_text} - page {self.page_no()}/{{nb}}"), align="C")
            self.set_text_color(0)

    return _Pdf


def warm_up_in_background() -> None:
    """Import fpdf2 in a thread, once per process: called when the first assignment arrives, so
    that an idle process stays small and the first invoice does not wait about 2.5 s of CPU."""
    warm_up_once("invoice-pdf", _pdf_class)


# column widths (mm) and alignment; 195 mm fit a Letter page with 10 mm margins
_COLUMNS = (
    ("Contractor", 36, "L"),
    ("Coverage", 66, "L"),
    ("Pay", 22, "R"),
    ("Rate", 11, "R"),
    ("Premium", 20, "R"),
    ("Platform fee", 19, "R"),
    ("Amount", 21, "R"),
)
_ROW_H = 4.6


#: a cell's text keeps this far from its edges (fpdf2's cell margin, both sides)
_CELL_PADDING = 1.5


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """``text`` as the core font shows it, cut with an ellipsis to fit a cell ``width`` wide."""
    return fit(printable(text), width - _CELL_PADDING, partial(text_width, pdf))


def _table_header(pdf: FPDF) -> None:
    pdf.set_font("helvetica", style="B", size=7.5)
    pdf.set_fill_color(235, 238, 242)
    for title, width, align in _COLUMNS:
        pdf.cell(width, 6, title, border="B", align=align, fill=True)  # type: ignore[arg-type]
    pdf.ln(6)
    pdf.set_font("helvetica", size=7.5)


def render_invoice_pdf(doc: InvoiceDocument) -> bytes:
    pdf: Any = _pdf_class()(format="letter")
    pdf.footer_text = f"{doc.number} - {labelled('PO', doc.po_number)}"
    pdf.set_margins(10, 10, 10)
    pdf.set_auto_page_break(False)
    pdf.set_title(printable(f"Invoice {doc.number}"))
    pdf.set_author(printable(doc.issuer_name))
    pdf.alias_nb_pages()
    pdf.add_page()
    _letterhead(pdf, doc)
    _facts_and_addressee(pdf, doc)
    _note(pdf, doc)
    _line_table(pdf, doc.lines)
    _totals(pdf, doc)
    return bytes(pdf.output())


def _letterhead(pdf: Any, doc: InvoiceDocument) -> None:
    pdf.set_font("helvetica", style="B", size=18)
    pdf.cell(120, 10, printable(doc.issuer_name))
    pdf.set_font("helvetica", style="B", size=14)
    pdf.cell(0, 10, "INVOICE", align="R")
    pdf.ln(12)


def _facts_and_addressee(pdf: Any, doc: InvoiceDocument) -> None:
    """The invoice's facts on the right, whom it is addressed to on the left."""
    pdf.set_font("helvetica", size=9)
    facts = [
        ("Invoice number", doc.number),
        ("Purchase order", doc.po_number),
        ("Billing period", doc.period),
        ("Issue date", doc.issued_at.date().isoformat()),
        ("Due date", doc.due_date.isoformat()),
    ]
    if doc.supplements_number:
        facts.append(("Supplementary to", doc.supplements_number))
    if doc.part:
        facts.append(("Part", f"{doc.part[0]} of {doc.part[1]}"))
    top = pdf.get_y()
    for label, value in facts:
        pdf.set_x(120)
        pdf.set_font("helvetica", style="B", size=9)
        pdf.cell(35, 5, label)
        pdf.set_font("helvetica", size=9)
        pdf.cell(0, 5, printable(value), align="R")
        pdf.ln(5)
    bottom = pdf.get_y()
    pdf.set_xy(10, top)
    pdf.set_font("helvetica", style="B", size=9)
    pdf.cell(100, 5, "Bill to")
    pdf.ln(5)
    pdf.set_font("helvetica", size=9)
    for text in (doc.company_name, f"Attn: {doc.to_email}" if doc.to_email else "", *(f"Cc: {cc}" for cc in doc.cc_emails)):
        if text:
            pdf.cell(100, 5, _fit(pdf, text, 100))
            pdf.ln(5)
    pdf.set_y(max(bottom, pdf.get_y()) + 4)


def _note(pdf: Any, doc: InvoiceDocument) -> None:
    pdf.set_font("helvetica", size=8)
    note = (
        "Insurance premium for each contractor's coverage during the assignment, and the platform access fee "
        f"({doc.platform_fee_bps / 100:.2f}% of pay). Rates are cents per $100 of pay."
    )
    if doc.premium_payer == "contractor":
        note += " Premiums marked 'paid by the contractor' are not charged on this invoice."
    pdf.multi_cell(0, 4, printable(note))
    pdf.ln(2)


def _line_table(pdf: Any, lines: list[InvoicePdfLine]) -> None:
    """One row a line; the header again on every page."""
    _table_header(pdf)
    limit = pdf.h - 20
    for line in lines:
        if pdf.get_y() + _ROW_H > limit:
            pdf.add_page()
            _table_header(pdf)
        values = (
            # amounts are short ASCII: only the two text columns need fitting
            _fit(pdf, line.contractor_name, _COLUMNS[0][1]),
            _fit(pdf, line.description, _COLUMNS[1][1]),
            money(line.pay_cents),
            str(line.net_rate),
            money(line.premium_cents),
            money(line.platform_fee_cents),
            money(line.amount_cents),
        )
        for (_, width, align), text in zip(_COLUMNS, values, strict=True):
            pdf.cell(width, _ROW_H, text, align=align)
        pdf.ln(_ROW_H)


def _totals(pdf: Any, doc: InvoiceDocument) -> None:
    if pdf.get_y() + 32 > pdf.h - 20:
        pdf.add_page()
    pdf.ln(3)
    pdf.set_font("helvetica", size=9)
    totals = [
        ("Lines", str(len(doc.lines))),
        ("Total pay covered", money(doc.pay_cents)),
        ("Premium", money(doc.premium_cents)),
        ("Platform access fee", money(doc.platform_fee_cents)),
    ]
    for label, value in totals:
        pdf.set_x(120)
        pdf.cell(45, 5, label)
        pdf.cell(0, 5, value, align="R")
        pdf.ln(5)
    pdf.set_x(120)
    pdf.set_font("helvetica", style="B", size=10)
    pdf.cell(45, 7, "Total due (USD)", border="T")
    pdf.cell(0, 7, money(doc.total_cents), border="T", align="R")
    pdf.ln(9)
    pdf.set_font("helvetica", size=8)
    pdf.cell(
        0,
        4,
        printable(
            f"Payment is due by {doc.due_date.isoformat()}. Please quote {doc.number} and {labelled('PO', doc.po_number)}."
        ),
    )
