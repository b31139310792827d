"""Draws a Certificate of Insurance as a one-page PDF with fpdf2.

Speed matters (a certificate is drawn inside the transaction that binds the coverage): the
standard Helvetica font needs no font file to parse or subset, text is placed with
``FPDF.text`` at positions computed here (fpdf2's cells and multi-cells cost several times
more), and the fixed paragraphs are wrapped once. A certificate takes about 1 ms. Its text is
Windows-1252; other characters are transliterated (``ten99kit.pdftext.printable``).

Every certificate ends with its verification URL and a QR code of it (segno, embedded as an
image): the page at that URL shows the certificate's live status (docs/certificates.md).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fpdf import FPDF

from ten99kit import warm_up_once
from ten99kit.pdftext import printable, text_width, wrap

from ..domain.certificate import SAMPLE_CERTIFICATE, CertificateDocument

__all__ = ["CANCELLATION", "DISCLAIMER", "ENCODING", "render_certificate", "warm_up_in_background"]

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

#: the certificate's code page (what ``core_fonts_encoding`` is set to)
ENCODING = "cp1252"

_CONSTANT = frozenset((DISCLAIMER, CANCELLATION))
_INK = (20, 20, 20)
_MUTED = (90, 90, 90)
_RULE = (160, 160, 160)
_STAMP = (190, 20, 20)
_W = 185.9  # usable width of a Letter page with 15 mm margins


def _printable(text: str | None) -> str:
    return printable(text, ENCODING)


_LEFT = 15.0
_RIGHT = _LEFT + _W
_PT = 0.3528  # mm per point


class _Page:
    """A cursor over one Letter page: ``top`` is where the next line starts (mm)."""

    def __init__(self, pdf: FPDF) -> None:
        self.pdf = pdf
        self.top = 14.0

    def measure(self, text: str) -> float:
        """The width of ``text`` in the current font (mm)."""
        return text_width(self.pdf, text)

    def font(self, size: float, style: str = "", color: tuple[int, int, int] = _INK) -> None:
        self.pdf.set_font("helvetica", style, size)
        self.pdf.set_text_color(*color)

    def put(self, text: str, x: float = _LEFT, *, right: float | None = None, top: float | None = None) -> None:
        """One line of text; with ``right``, right-aligned to that x."""
        size = self.pdf.font_size_pt
        baseline = (self.top if top is None else top) + size * _PT * 0.85
        if right is not None:
            x = right - text_width(self.pdf, text)
        self.pdf.text(x, baseline, text)

    def line(self, text: str, size: float = 10, style: str = "", color: tuple[int, int, int] = _INK, x: float = _LEFT) -> None:
        self.font(size, style, color)
        self.put(_printable(text), x)
        self.top += size * _PT * 1.45

    def heading(self, text: str, x: float = _LEFT) -> None:
        self.line(text.upper(), 8, "B", _MUTED, x)

    def paragraph(self, text: str, size: float, color: tuple[int, int, int] = _INK) -> None:
        self.font(size, "", color)
        for line in self._wrapped(_printable(text), _W):
            self.put(line)
            self.top += size * _PT * 1.3

    def _wrapped(self, text: str, width: float) -> list[str]:
        """``text`` wrapped in the current font; the fixed paragraphs once per process."""
        if text not in _CONSTANT:
            return wrap(text, width, self.measure)
        key = (text, self.pdf.font_size_pt, width)
        if key not in _WRAPPED:
            _WRAPPED[key] = wrap(text, width, self.measure)
        return _WRAPPED[key]

    def rule(self, gap: float = 2.5) -> None:
        self.top += gap
        self.pdf.set_draw_color(*_RULE)
        self.pdf.line(_LEFT, self.top, _RIGHT, self.top)
        self.top += gap


_WRAPPED: dict[tuple[str, float, float], list[str]] = {}


def _day(d: date) -> str:
    return d.isoformat()


def _new_pdf(doc: CertificateDocument) -> FPDF:
    from fpdf import FPDF  # at the first certificate: about 50 MB an idle process does not need

    pdf = FPDF(format="letter", unit="mm")
    pdf.core_fonts_encoding = "windows-1252"
    pdf.set_auto_page_break(False)
    pdf.set_creation_date(doc.issued_at)
    pdf.set_title(f"Certificate of Insurance {doc.certificate_number}")
    pdf.set_author(_printable(doc.producer_name))
    pdf.set_subject(_printable(f"{doc.insured_name} - {doc.holder_name}"))
    pdf.add_page()
    return pdf


def _title(page: _Page, doc: CertificateDocument) -> None:
    """The title, and the certificate's identifiers right-aligned beside it."""
    page.font(17, "B")
    page.put("CERTIFICATE OF INSURANCE", top=page.top + 1)
    page.font(9)
    identifiers = [f"Certificate No. {doc.certificate_number}", f"Issued {_day(doc.issued_at.date())}"]
    if doc.supersedes_number:
        identifiers.append(f"Replaces {doc.supersedes_number}")
    for text in identifiers:
        page.put(text, right=_RIGHT)
        page.top += 4.5
    page.top = max(page.top, 25.0) + 2


def _stamp(page: _Page, stamp: str) -> None:
    """A boxed red line across the page (a superseded certificate drawn again)."""
    pdf = page.pdf
    pdf.set_draw_color(*_STAMP)
    pdf.set_line_width(0.6)
    pdf.rect(_LEFT, page.top, _W, 8)
    pdf.set_line_width(0.2)
    page.font(11, "B", _STAMP)
    text = _printable(stamp)
    page.put(text, _LEFT + (_W - pdf.get_string_width(text)) / 2, top=page.top + 2.2)
    page.top += 10


def _producer_and_insurer(page: _Page, doc: CertificateDocument) -> None:
    top = page.top
    page.heading("Producer")
    page.line(doc.producer_name)
    page.top = top
    middle = _LEFT + _W / 2
    page.heading("Insurer", middle)
    page.line(doc.insurer_name, x=middle)
    page.line(f"Policy No. {doc.policy_number}", x=middle)
    page.rule()


def _insured(page: _Page, doc: CertificateDocument) -> None:
    page.heading("Insured")
    page.line(doc.insured_name, 11, "B")
    if doc.insured_business:
        page.line(doc.insured_business)
    for address_line in doc.insured_address:
        page.line(address_line)
    page.rule()


_COLUMNS = (_LEFT + 1, _LEFT + 55, _LEFT + 91, _LEFT + 112, _LEFT + 133)
_COLUMN_LABELS = ("Type of insurance", "Policy number", "Effective", "Expires", "Limits")


def _coverage_row(page: _Page, doc: CertificateDocument, label: str, limits: list[tuple[str, str]]) -> None:
    """One coverage: its wrapped label, the policy and dates, and its limits one a line."""
    row_top = page.top
    page.font(9, "B")
    label_lines = wrap(_printable(label), 52, page.measure)
    for i, text in enumerate(label_lines):
        page.put(text, _COLUMNS[0], top=row_top + 5 * i)
    page.font(9)
    for text, x in zip((doc.policy_number, _day(doc.effective_date), _day(doc.end_date)), _COLUMNS[1:4], strict=True):
        page.put(text, x, top=row_top)
    for i, (name, amount) in enumerate(limits):
        page.font(8)
        page.put(_printable(name), _COLUMNS[4], top=row_top + 5 * i)
        page.font(8, "B")
        page.put(_printable(amount), right=_RIGHT, top=row_top + 5 * i)
    page.top = row_top + 5 * max(len(limits), len(label_lines)) + 1
    page.pdf.set_draw_color(*_RULE)
    page.pdf.line(_LEFT, page.top, _RIGHT, page.top)
    page.top += 2


def _coverages(page: _Page, doc: CertificateDocument) -> None:
    page.heading("Coverages")
    page.pdf.set_fill_color(238, 238, 238)
    page.pdf.rect(_LEFT, page.top, _W, 6, style="F")
    page.font(8, "B")
    for label, x in zip(_COLUMN_LABELS, _COLUMNS, strict=True):
        page.put(label, x, top=page.top + 1.5)
    page.top += 7.5
    for label, limits in doc.coverage_lines():
        _coverage_row(page, doc, label, limits)
    page.top += 1


def _operations(page: _Page, doc: CertificateDocument) -> None:
    page.heading("Description of operations")
    where = f" Work state: {doc.work_state}." if doc.work_state else ""
    page.paragraph(
        f"Assignment {doc.assignment_id}: {doc.job_name} for {doc.holder_name}.{where} Coverage applies to the "
        f"insured's work on this assignment from {_day(doc.effective_date)} through {_day(doc.end_date)}.",
        9,
    )
    page.rule()


def _holder(page: _Page, doc: CertificateDocument) -> None:
    page.heading("Certificate holder")
    page.line(doc.holder_name, 11, "B")
    if doc.company_name:
        page.line(f"c/o {doc.company_name}")
    page.rule()


def _cancellation(page: _Page, doc: CertificateDocument) -> None:
    page.heading("Cancellation")
    page.paragraph(CANCELLATION, 8)
    page.top += 4
    page.line(f"Authorized representative: {doc.producer_name}", 8, color=_MUTED)


_QR_SIZE = 30.0  # mm: about 0.8 mm a module for a 37-module code, read by any phone at arm's length
_QUIET = 4  # modules of white around the code, as the standard asks
_PIXELS = 4  # a module's pixels across: crisp when a viewer smooths the image as it scales it
#: a QR matrix row (0 light, 1 dark) to grey levels (255 white, 0 black)
_GREY = bytes(255 if value == 0 else 0 for value in range(256))


def _qr_image(url: str) -> Any:
    """``url`` as a QR code (error correction M) with its quiet zone, an 8-bit grey Pillow image.

    Built from segno's matrix rather than its PNG writer, and grey rather than one-bit: fpdf2 then
    only compresses the pixels. The mask is fixed: segno's choice of the best of eight costs about
    12 ms of CPU here and every mask is valid. Together the code costs a few ms a certificate; the
    tests decode what is drawn."""
    import segno
    from PIL import Image

    qr = segno.make_qr(url, error="m", mask=0)
    size = len(qr.matrix) + 2 * _QUIET
    blank, margin = b"\xff" * size, b"\xff" * _QUIET
    rows = [margin + bytes(row).translate(_GREY) + margin for row in qr.matrix]
    image = Image.frombytes("L", (size, size), b"".join([blank] * _QUIET + rows + [blank] * _QUIET))
    return image.resize((size * _PIXELS, size * _PIXELS), Image.Resampling.NEAREST)


def _verification(page: _Page, url: str) -> None:
    """The QR code of the verification URL, and the URL written beside it (both are links)."""
    page.top += 6
    page.rule(0)
    top = page.top + 3
    pdf = page.pdf
    pdf.image(_qr_image(url), x=_LEFT, y=top, w=_QR_SIZE, h=_QR_SIZE)
    pdf.link(_LEFT, top, _QR_SIZE, _QR_SIZE, url)
    x = _LEFT + _QR_SIZE + 5
    page.top = top + 4
    page.heading("Verify this certificate", x)
    page.line("Scan the code or open this address to see whether the certificate is current:", 9, x=x)
    page.top += 1
    page.font(10, "B")
    page.put(url, x)
    pdf.link(x, page.top, page.measure(url), 5, url)
    page.top += 6
    page.line("The page shows the insured, the holder, the coverage, its dates and its status today:", 8, color=_MUTED, x=x)
    page.line("scheduled, active, expired, cancelled, or superseded by a newer certificate.", 8, color=_MUTED, x=x)
    page.top = max(page.top, top + _QR_SIZE)


def render_certificate(doc: CertificateDocument) -> bytes:
    """The certificate as PDF bytes: its sections drawn top to bottom."""
    pdf = _new_pdf(doc)
    page = _Page(pdf)
    _title(page, doc)
    if doc.stamp:
        _stamp(page, doc.stamp)
    page.paragraph(DISCLAIMER, 7, _MUTED)
    page.rule()
    _producer_and_insurer(page, doc)
    _insured(page, doc)
    _coverages(page, doc)
    _operations(page, doc)
    _holder(page, doc)
    _cancellation(page, doc)
    if doc.verification_url:
        _verification(page, doc.verification_url)
    return bytes(pdf.output())


def _warm_up() -> None:
    render_certificate(SAMPLE_CERTIFICATE)


def warm_up_in_background() -> None:
    """Import fpdf2 and draw one certificate in a thread, once per process: called when the first
    assignment arrives, so that an idle process stays small and the first opt-in does not wait
    about 2.5 s of CPU for the import."""
    warm_up_once("certificate-pdf", _warm_up)
