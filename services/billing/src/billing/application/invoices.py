"""Use cases on issued invoices: list, read (with lines and credits), PDF, mark paid, void.

Status: ``open`` -> ``paid`` (``InvoicePaidV1``) or ``open`` -> ``void`` (``InvoiceVoidedV1``).
Paying a paid invoice is ``invoice_already_paid``; a void invoice cannot be paid
(``invoice_void``); a paid invoice cannot be voided (``invoice_already_paid``); voiding twice is
``invoice_void``. Every query filters by the tenant; another company's invoice is not found.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, select, update
from ten99_contracts import Message
from ten99_contracts.billing_v1 import InvoicePaidV1, InvoiceVoidedV1
from ten99kit import ApiError, Database, InvalidInput, NotFound, Page, PageRequest, UnitOfWork, fetch_page
from ten99kit.db import Row

from ..adapters.db import invoice_credits, invoice_lines, invoices

__all__ = [
    "InvoiceFilter",
    "InvoiceRecord",
    "get_invoice",
    "get_invoice_pdf",
    "list_invoices",
    "mark_paid",
    "void_invoice",
]

STATUSES = ("open", "paid", "void")
MAX_VOID_REASON = 500
#: every column but the PDF
SUMMARY_COLUMNS = [c for c in invoices.c if c.name != "pdf"]

#: (what was asked, the invoice's status) -> (message, error code) of the refusal
_REFUSALS = {
    ("pay", "paid"): ("Invoice {number} is already paid", "invoice_already_paid"),
    ("pay", "void"): ("Invoice {number} is void and cannot be paid", "invoice_void"),
    ("void", "paid"): ("Invoice {number} is paid and cannot be voided", "invoice_already_paid"),
    ("void", "void"): ("Invoice {number} is already void", "invoice_void"),
}


@dataclass(frozen=True)
class InvoiceFilter:
    """What a list of invoices is narrowed to (``?status=``, ``?po_number=``)."""

    status: str | None = None
    po_number: str | None = None

    def where(self, tenant_id: str) -> list[ColumnElement[bool]]:
        if self.status is not None and self.status not in STATUSES:
            raise InvalidInput({"status": f"must be one of {', '.join(STATUSES)}"})
        where = [invoices.c.tenant_id == tenant_id]
        if self.status:
            where.append(invoices.c.status == self.status)
        if self.po_number:
            where.append(invoices.c.po_number == self.po_number)
        return where


@dataclass(frozen=True)
class InvoiceRecord:
    """An invoice (without its PDF), its lines and its credits."""

    invoice: Row
    lines: list[Row]
    credits: list[Row]


def _not_found(invoice_id: str) -> NotFound:
    """1099Policy's code for an unknown invoice (its SDK raises ``InvalidInvoiceIdError``)."""
    return NotFound(f"No invoice {invoice_id}", error_code="invalid_invoice_id")


async def list_invoices(db: Database, tenant_id: str, filters: InvoiceFilter, request: PageRequest) -> Page:
    """Newest first, 1099Policy's cursor pagination."""
    where = filters.where(tenant_id)
    async with db.reads() as session:
        return await fetch_page(
            session, select(*SUMMARY_COLUMNS), keys=(invoices.c.seq,), id_column=invoices.c.id, where=where, request=request
        )


async def get_invoice(db: Database, tenant_id: str, invoice_id: str) -> InvoiceRecord:
    async with db.reads() as session:
        query = select(*SUMMARY_COLUMNS).where(invoices.c.tenant_id == tenant_id, invoices.c.id == invoice_id)
        invoice = (await session.execute(query)).mappings().first()
        if invoice is None:
            raise _not_found(invoice_id)
        lines = await session.execute(
            select(invoice_lines)
            .where(invoice_lines.c.tenant_id == tenant_id, invoice_lines.c.invoice_seq == invoice["seq"])
            .order_by(invoice_lines.c.id)
        )
        credits = await session.execute(
            select(invoice_credits)
            .where(invoice_credits.c.tenant_id == tenant_id, invoice_credits.c.invoice_seq == invoice["seq"])
            .order_by(invoice_credits.c.created_at, invoice_credits.c.id)
        )
        return InvoiceRecord(invoice, list(lines.mappings()), list(credits.mappings()))


async def get_invoice_pdf(db: Database, tenant_id: str, invoice_id: str) -> tuple[str, bytes]:
    """The PDF's file name and content."""
    async with db.reads() as session:
        query = select(invoices.c.filename, invoices.c.pdf).where(invoices.c.tenant_id == tenant_id, invoices.c.id == invoice_id)
        row = (await session.execute(query)).first()
    if row is None:
        raise _not_found(invoice_id)
    return row.filename, row.pdf


async def mark_paid(db: Database, tenant_id: str, invoice_id: str) -> None:
    async with db.uow() as uow:
        row = await _open_invoice(uow, tenant_id, invoice_id, "pay")
        now = uow.clock.now()
        amount = max(0, row.total_cents - row.credited_cents)
        paid = InvoicePaidV1(invoice_id=invoice_id, invoice_number=row.number, paid_at=now, amount_cents=amount)
        await _change_status(uow, tenant_id, invoice_id, row, paid, status="paid", paid_at=now, paid_amount_cents=amount)
        await uow.commit()


def void_reason(reason: str) -> str:
    """The reason trimmed, or ``invalid_input``."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput({"reason": f"say why the invoice is void (1-{MAX_VOID_REASON} characters)"})
    if len(reason) > MAX_VOID_REASON:
        raise InvalidInput({"reason": f"at most {MAX_VOID_REASON} characters"})
    return reason


async def void_invoice(db: Database, tenant_id: str, invoice_id: str, reason: str) -> None:
    reason = void_reason(reason)
    async with db.uow() as uow:
        row = await _open_invoice(uow, tenant_id, invoice_id, "void")
        voided = InvoiceVoidedV1(invoice_id=invoice_id, invoice_number=row.number, reason=reason)
        await _change_status(
            uow, tenant_id, invoice_id, row, voided, status="void", voided_at=uow.clock.now(), void_reason=reason
        )
        await uow.commit()


async def _open_invoice(uow: UnitOfWork, tenant_id: str, invoice_id: str, action: str) -> Any:
    """The invoice, locked, if it is open; else the refusal of ``action`` (pay, void)."""
    columns = invoices.c
    row: Any = (
        await uow.session.execute(
            select(columns.seq, columns.status, columns.number, columns.total_cents, columns.credited_cents, columns.version)
            .where(columns.tenant_id == tenant_id, columns.id == invoice_id)
            .with_for_update()
        )
    ).first()
    if row is None:
        raise _not_found(invoice_id)
    refusal = _REFUSALS.get((action, row.status))
    if refusal is not None:
        message, error_code = refusal
        raise ApiError(message.format(number=row.number), error_code=error_code)
    return row


async def _change_status(uow: UnitOfWork, tenant_id: str, invoice_id: str, row: Any, message: Message, **values: Any) -> None:
    """Write the invoice's new status (and its next version) and emit ``message`` with it."""
    version = row.version + 1
    await uow.session.execute(update(invoices).where(invoices.c.seq == row.seq).values(version=version, **values))
    uow.emit(message, tenant_id=tenant_id, aggregate_id=invoice_id, aggregate_version=version)
