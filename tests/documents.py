"""Documents the tiers hand to the system as a person would: a contractor's own certificate of
insurance, drawn with fpdf2 as an ACORD 25 lays it out, with the labelled lines policy's review
reads (docs/uploaded-certificates.md). It meets every requirement of the work the tiers make
(general liability, professional liability, workers' comp; limits above any entity's; dates around
today) except, when ``holder`` is not the work's end client, the certificate holder rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fpdf import FPDF

__all__ = ["own_certificate_pdf"]


def own_certificate_pdf(insured: str, holder: str) -> bytes:
    today = datetime.now(UTC).date()
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=11)
    for line in (
        "CERTIFICATE OF LIABILITY INSURANCE",
        f"Insured: {insured}",
        "Coverage: Commercial General Liability",
        "Coverage: Professional Liability",
        "Coverage: Workers Compensation",
        "Each Occurrence: $5,000,000",
        "General Aggregate: $10,000,000",
        f"Policy Effective: {(today - timedelta(days=30)).isoformat()}",
        f"Policy Expiration: {(today + timedelta(days=400)).isoformat()}",
        f"Certificate Holder: {holder}",
    ):
        pdf.cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
