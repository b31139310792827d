"""What an invoice PDF shows: the document the issuer composes and a renderer (handed in by
bootstrap; `billing.adapters.pdf` in production) turns into bytes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

__all__ = ["InvoiceDocument", "InvoicePdfLine"]


@dataclass(frozen=True)
class InvoicePdfLine:
    contractor_name: str
    description: str
    pay_cents: int
    net_rate: int
    premium_cents: int
    platform_fee_cents: int
    amount_cents: int


@dataclass(frozen=True)
class InvoiceDocument:
    issuer_name: str
    company_name: str
    number: str
    period: str
    po_number: str
    issued_at: datetime
    due_date: date
    to_email: str
    cc_emails: list[str]
    premium_payer: str
    platform_fee_bps: int
    pay_cents: int
    premium_cents: int
    platform_fee_cents: int
    total_cents: int
    lines: list[InvoicePdfLine] = field(default_factory=list)
    supplements_number: str | None = None
    part: tuple[int, int] | None = None  # (n, of) when a large group was split
