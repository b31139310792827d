"""The time to render one Certificate of Insurance (policy) and one invoice of 1,000 lines
(billing), in the process, best of several rounds. Moved here from a unit test's time limit: a
timing is measured, not asserted (bench/README.md has the numbers)."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from typing import Any

from billing.adapters.pdf import render_invoice_pdf
from billing.domain.document import InvoiceDocument, InvoicePdfLine
from policy.adapters.pdf import render_certificate
from policy.domain.certificate import SAMPLE_CERTIFICATE

CERTIFICATE = SAMPLE_CERTIFICATE


def _invoice(lines: int) -> InvoiceDocument:
    line = InvoicePdfLine("Ada Lovelace", "Content creator, Nike, 11/10-12/09", 250_000, 82, 2_050, 375, 2_425)
    return InvoiceDocument(
        issuer_name="ten99",
        company_name="Acme Talent Agency",
        number="INV-2026-000001",
        period="November 2026",
        po_number="PO-100",
        issued_at=datetime(2026, 11, 30, tzinfo=UTC),
        due_date=date(2026, 12, 30),
        to_email="ap@nike.test",
        cc_emails=["billing@acme.test"],
        premium_payer="company",
        platform_fee_bps=150,
        pay_cents=250_000 * lines,
        premium_cents=2_050 * lines,
        platform_fee_cents=375 * lines,
        total_cents=2_425 * lines,
        lines=[line] * lines,
    )


def _best_ms(render: Any, document: Any, n: int, rounds: int = 5) -> float:
    render(document)  # imports and font tables loaded once, as in a warmed-up service
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(n):
            render(document)
        best = min(best, (time.perf_counter() - started) / n * 1000)
    return round(best, 2)


async def main() -> dict[str, Any]:
    invoice = _invoice(1000)
    return {
        "certificate_ms": _best_ms(render_certificate, CERTIFICATE, 50),
        "invoice_1000_lines_ms": _best_ms(render_invoice_pdf, invoice, 2, rounds=3),
    }
