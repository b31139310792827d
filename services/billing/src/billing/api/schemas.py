"""What the billing API takes and answers, as msgspec Structs (so its OpenAPI documents them).

Invoices are returned in 1099Policy's style: prefixed ``id``, ``object``, times and dates as Unix
epoch seconds (dates at 00:00 UTC), money in integer cents. Every field is always present
(``null`` where there is no value)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType
from ten99kit.clock import epoch
from ten99kit.db import Row

from ..application.invoices import InvoiceRecord
from ..application.settings import CompanyBilling
from ..application.usage import NewUsageInvoice, UsageChange
from ..domain.settings import MAX_FEE_BPS, SettingsChange

__all__ = [
    "BillingSettingsOut",
    "InvoiceCreditOut",
    "InvoiceDetailOut",
    "InvoiceLineOut",
    "InvoiceOut",
    "SettingsUpdate",
    "UsageInvoiceDeleted",
    "UsageInvoiceIn",
    "UsageInvoiceOut",
    "UsageInvoiceUpdate",
    "VoidRequest",
    "epoch",
    "invoice_detail",
]


# -- requests ------------------------------------------------------------------------------


class SettingsUpdate(msgspec.Struct, kw_only=True):
    """``PUT /v1/settings``: absent fields keep their value; ``billing_email: null`` (or empty)
    goes back to the owner's email."""

    billing_email: Annotated[str, Meta(max_length=320)] | UnsetType | None = UNSET
    premium_payer: Literal["company", "contractor"] | UnsetType = UNSET
    platform_fee_bps: Annotated[int, Meta(ge=0, le=MAX_FEE_BPS)] | UnsetType = UNSET

    def change(self) -> SettingsChange:
        return SettingsChange(
            billing_email=self.billing_email or None,
            set_billing_email=self.billing_email is not UNSET,
            premium_payer=None if self.premium_payer is UNSET else self.premium_payer,
            platform_fee_bps=None if self.platform_fee_bps is UNSET else self.platform_fee_bps,
        )


class VoidRequest(msgspec.Struct, kw_only=True):
    """``POST /v1/invoices/{id}/void``: why (1-500 characters once trimmed)."""

    reason: str


PoNumber = Annotated[str, Meta(max_length=100)]


class UsageInvoiceIn(msgspec.Struct, kw_only=True):
    """``POST /v1/invoices`` (1099Policy's usage invoice): gross pay in cents for one pay cycle
    (epoch seconds). ``purchase_order_number`` absent: the job's default PO; a value wins; ``""``
    (or null) clears it."""

    contractor: str
    job: str
    gross_pay: int
    paycycle_startdate: int
    paycycle_enddate: int
    purchase_order_number: PoNumber | UnsetType | None = UNSET

    def wanted(self) -> NewUsageInvoice:
        po = None if self.purchase_order_number is UNSET else (self.purchase_order_number or "").strip()
        return NewUsageInvoice(
            contractor=self.contractor,
            job=self.job,
            gross_pay=self.gross_pay,
            paycycle_startdate=self.paycycle_startdate,
            paycycle_enddate=self.paycycle_enddate,
            purchase_order_number=po,
        )


class UsageInvoiceUpdate(msgspec.Struct, kw_only=True):
    """``PUT /v1/invoices/{id}`` while unpaid: absent fields keep their value; the pay or the
    cycle re-prices the invoice; ``purchase_order_number: ""`` (or null) clears the PO."""

    gross_pay: int | UnsetType = UNSET
    paycycle_startdate: int | UnsetType = UNSET
    paycycle_enddate: int | UnsetType = UNSET
    purchase_order_number: PoNumber | UnsetType | None = UNSET

    def change(self) -> UsageChange:
        def given(value: Any) -> Any:
            return None if value is UNSET else value

        po = None if self.purchase_order_number is UNSET else (self.purchase_order_number or "").strip()
        return UsageChange(
            gross_pay=given(self.gross_pay),
            paycycle_startdate=given(self.paycycle_startdate),
            paycycle_enddate=given(self.paycycle_enddate),
            purchase_order_number=po,
        )


# -- responses -----------------------------------------------------------------------------


class BillingSettingsOut(msgspec.Struct, kw_only=True):
    object: Literal["billing_settings"] = "billing_settings"
    billing_email: str | None
    billing_email_is_default: bool
    default_billing_email: str | None
    premium_payer: str
    platform_fee_bps: int
    platform_fee_percent: str
    updated: int | None

    @classmethod
    def of(cls, company: CompanyBilling) -> BillingSettingsOut:
        values = company.settings
        return cls(
            billing_email=values.effective_billing_email,
            billing_email_is_default=values.billing_email is None,
            default_billing_email=values.owner_email,
            premium_payer=values.premium_payer,
            platform_fee_bps=values.platform_fee_bps,
            platform_fee_percent=f"{values.platform_fee_bps / 100:.2f}",
            updated=epoch(company.updated_at),
        )


class InvoiceOut(msgspec.Struct, kw_only=True):
    """An enterprise invoice: ten99's invoice to the company for the premiums of one PO."""

    id: str
    object: Literal["invoice"] = "invoice"
    kind: Literal["enterprise"] = "enterprise"
    created: int | None
    number: str
    status: Literal["open", "paid", "void"]
    purchase_order_number: str
    period: str
    supplements: str | None
    to_email: str
    cc_emails: list[str]
    currency: str
    issued_at: int | None
    due_date: int | None
    past_due: bool
    premium_payer: str
    platform_fee_bps: int
    line_count: int
    gross_pay: int
    premium_due: int
    platform_fee: int
    total: int
    credited: int
    amount_due: int
    amount_paid: int | None
    paid_at: int | None
    voided_at: int | None
    void_reason: str | None
    filename: str
    pdf_url: str

    @staticmethod
    def fields_of(row: Row, today: date) -> dict[str, Any]:
        """The fields of an invoice row (``invoices`` without the PDF)."""
        return {
            "id": row["id"],
            "created": epoch(row["issued_at"]),
            "number": row["number"],
            "status": row["status"],
            "purchase_order_number": row["po_number"],
            "period": row["period"],
            "supplements": row["supplements_id"],
            "to_email": row["to_email"],
            "cc_emails": list(row["cc_emails"] or []),
            "currency": row["currency"],
            "issued_at": epoch(row["issued_at"]),
            "due_date": epoch(row["due_date"]),
            "past_due": row["status"] == "open" and today > row["due_date"],
            "premium_payer": row["premium_payer"],
            "platform_fee_bps": row["platform_fee_bps"],
            "line_count": row["line_count"],
            "gross_pay": row["pay_cents"],
            "premium_due": row["premium_cents"],
            "platform_fee": row["platform_fee_cents"],
            "total": row["total_cents"],
            "credited": row["credited_cents"],
            "amount_due": max(0, row["total_cents"] - row["credited_cents"]) if row["status"] == "open" else 0,
            "amount_paid": row["paid_amount_cents"],
            "paid_at": epoch(row["paid_at"]),
            "voided_at": epoch(row["voided_at"]),
            "void_reason": row["void_reason"],
            "filename": row["filename"],
            "pdf_url": f"/v1/invoices/{row['id']}/pdf",
        }

    @classmethod
    def of(cls, row: Row, today: date) -> InvoiceOut:
        return cls(**cls.fields_of(row, today))  # type: ignore[arg-type]


class InvoiceLineOut(msgspec.Struct, kw_only=True):
    object: Literal["invoice_line"] = "invoice_line"
    assignment: str
    contractor: str | None
    contractor_name: str
    description: str
    kind: Literal["coverage", "extension", "retime"]
    paycycle_startdate: int | None
    paycycle_enddate: int | None
    wage: int
    wage_type: str
    gross_pay: int
    net_rate: int
    premium_payer: str
    premium: int
    premium_due: int
    platform_fee_bps: int
    platform_fee: int
    amount: int
    credited: bool

    @classmethod
    def of(cls, row: Row) -> InvoiceLineOut:
        return cls(
            assignment=row["assignment_id"],
            contractor=row["contractor_id"],
            contractor_name=row["contractor_name"],
            description=row["description"],
            kind=row["kind"],
            paycycle_startdate=epoch(row["span_start"]),
            paycycle_enddate=epoch(row["span_end"]),
            wage=row["wage_cents"],
            wage_type=row["wage_type"],
            gross_pay=row["pay_cents"],
            net_rate=row["net_rate"],
            premium_payer=row["premium_payer"],
            premium=row["premium_full_cents"],
            premium_due=row["premium_cents"],
            platform_fee_bps=row["platform_fee_bps"],
            platform_fee=row["platform_fee_cents"],
            amount=row["amount_cents"],
            credited=row["credited"],
        )


class InvoiceCreditOut(msgspec.Struct, kw_only=True):
    id: str
    object: Literal["invoice_credit"] = "invoice_credit"
    invoice: str
    assignment: str
    amount: int
    reason: str
    created: int | None

    @classmethod
    def of(cls, row: Row, invoice_id: str) -> InvoiceCreditOut:
        return cls(
            id=row["id"],
            invoice=invoice_id,
            assignment=row["assignment_id"],
            amount=row["amount_cents"],
            reason=row["reason"],
            created=epoch(row["created_at"]),
        )


class InvoiceDetailOut(InvoiceOut, kw_only=True):
    """An invoice with its lines and credits (``GET /v1/invoices/{id}``)."""

    lines: list[InvoiceLineOut]
    credits: list[InvoiceCreditOut]


def invoice_detail(record: InvoiceRecord, today: date) -> InvoiceDetailOut:
    invoice_id = record.invoice["id"]
    return InvoiceDetailOut(
        **InvoiceOut.fields_of(record.invoice, today),  # type: ignore[arg-type]
        lines=[InvoiceLineOut.of(row) for row in record.lines],
        credits=[InvoiceCreditOut.of(row, invoice_id) for row in record.credits],
    )


class UsageInvoiceOut(msgspec.Struct, kw_only=True):
    """A usage invoice in 1099Policy's shape: ``premium_due = gross_pay x net_rate / 10,000``
    (half up, at least 100 cents); the pay cycle in epoch seconds as reported."""

    id: str
    object: Literal["invoice"] = "invoice"
    kind: Literal["usage"] = "usage"
    contractor: str
    job: str
    gross_pay: int
    paycycle_startdate: int
    paycycle_enddate: int
    net_rate: int
    premium_due: int
    purchase_order_number: str | None
    status: Literal["open", "paid", "void"]
    currency: str = "usd"
    created: int | None
    updated: int | None
    paid_at: int | None
    voided_at: int | None
    void_reason: str | None

    @classmethod
    def of(cls, row: Row) -> UsageInvoiceOut:
        return cls(
            id=row["id"],
            contractor=row["contractor_id"],
            job=row["job_id"],
            gross_pay=row["gross_pay_cents"],
            paycycle_startdate=row["paycycle_start"],
            paycycle_enddate=row["paycycle_end"],
            net_rate=row["net_rate"],
            premium_due=row["premium_cents"],
            purchase_order_number=row["po_number"],
            status=row["status"],
            created=epoch(row["created_at"]),
            updated=epoch(row["updated_at"]),
            paid_at=epoch(row["paid_at"]),
            voided_at=epoch(row["voided_at"]),
            void_reason=row["void_reason"],
        )


class UsageInvoiceDeleted(msgspec.Struct, kw_only=True):
    """``DELETE /v1/invoices/{id}``: the usage invoice is void (kept, as every invoice is)."""

    id: str
    object: Literal["invoice"] = "invoice"
    deleted: bool = True
