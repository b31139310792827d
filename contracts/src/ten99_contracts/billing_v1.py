"""Messages the billing service publishes: billing settings and invoices."""

from __future__ import annotations

from datetime import date, datetime

import msgspec

from .base import Message

__all__ = [
    "BillingSettingsUpdatedV1",
    "InvoiceCreditedV1",
    "InvoiceIssuedV1",
    "InvoiceLine",
    "InvoicePaidV1",
    "InvoiceVoidedV1",
    "MissingPoAssignment",
    "PoReminderDueV1",
]


class BillingSettingsUpdatedV1(Message, frozen=True, kw_only=True):
    SUBJECT = "ten99.billing.billing_settings_updated.v1"

    billing_email: str | None
    premium_payer: str  # company | contractor
    platform_fee_bps: int  # basis points of pay: 150 = 1.5 %


class InvoiceLine(msgspec.Struct, frozen=True, kw_only=True):
    assignment_id: str
    contractor_name: str
    description: str
    pay_cents: int
    net_rate: int
    premium_cents: int
    platform_fee_cents: int
    amount_cents: int


class InvoiceIssuedV1(Message, frozen=True, kw_only=True):
    """An invoice to a PO contact with the billing email copied. ``pdf`` is the invoice itself."""

    SUBJECT = "ten99.billing.invoice_issued.v1"

    invoice_id: str
    invoice_number: str
    po_number: str
    period: str  # YYYY-MM
    to_email: str
    cc_emails: list[str]
    issued_at: datetime
    due_date: date
    currency: str = "usd"
    premium_cents: int
    platform_fee_cents: int
    total_cents: int
    lines: list[InvoiceLine]
    filename: str
    pdf: bytes


class InvoicePaidV1(Message, frozen=True, kw_only=True):
    SUBJECT = "ten99.billing.invoice_paid.v1"

    invoice_id: str
    invoice_number: str
    paid_at: datetime
    amount_cents: int


class InvoiceVoidedV1(Message, frozen=True, kw_only=True):
    SUBJECT = "ten99.billing.invoice_voided.v1"

    invoice_id: str
    invoice_number: str
    reason: str


class InvoiceCreditedV1(Message, frozen=True, kw_only=True):
    """An invoiced assignment was cancelled before its start: its line is credited."""

    SUBJECT = "ten99.billing.invoice_credited.v1"

    credit_id: str
    invoice_id: str
    invoice_number: str
    assignment_id: str
    amount_cents: int
    reason: str


class MissingPoAssignment(msgspec.Struct, frozen=True, kw_only=True):
    assignment_id: str
    contractor_name: str
    contractor_email: str
    job_name: str
    effective_date: date
    end_date: date


class PoReminderDueV1(Message, frozen=True, kw_only=True):
    """Three days after an upload some of its assignments still have no PO number, so they cannot
    be invoiced. Sent at most once per upload, to the uploader and the billing email."""

    SUBJECT = "ten99.billing.po_reminder_due.v1"

    import_batch_id: str
    filename: str
    uploaded_at: datetime
    to_emails: list[str]
    assignments: list[MissingPoAssignment]
    #: how many of the upload's assignments lack a PO; ``assignments`` lists at most the first
    #: 500 of them (by contractor name), so that the message stays small
    missing_count: int = 0
