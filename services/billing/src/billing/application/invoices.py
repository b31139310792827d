"""Use cases on issued invoices: list, read (with lines and credits), PDF, mark paid, void.

Status: ``open`` -> ``paid`` (``InvoicePaidV1``) or ``open`` -> ``void`` (``InvoiceVoidedV1``).
Paying a paid invoice is ``invoice_already_paid``; a void invoice cannot be paid
(``invoice_void``); a paid invoice cannot be voided (``invoice_already_paid``); voiding twice is
``invoice_void``. Every query filters by the tenant; another company's invoice is not found.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select, update
from ten99_contracts.billing_v1 import InvoicePaidV1, InvoiceVoidedV1
from ten99kit import ApiError, Database, InvalidInput, NotFound

from ..adapters.db import invoice_credits, invoice_lines, invoices

__all__ = ["InvoicePage", "get_invoice", "get_invoice_pdf", "list_invoices", "mark_paid", "void_invoice"]

I = invoices.c  # noqa: E741
STATUSES = ("open", "paid", "void")
#: every column but the PDF
SUMMARY_COLUMNS = [c for c in invoices.c if c.name != "pdf"]


@dataclass(frozen=True)
class InvoicePage:
    rows: list[Any]
    has_more: bool


def _not_found(invoice_id: str) -> NotFound:
    return NotFound(f"No invoice {invoice_id}")


async def _seq_of(db: Database, tenant_id: str, invoice_id: str, param: str) -> int:
    async with db.session() as s:
        seq = (await s.execute(select(I.seq).where(I.tenant_id == tenant_id, I.id == invoice_id))).scalar()
    if seq is None:
        raise InvalidInput({param: f"no invoice {invoice_id}"})
    return int(seq)


async def list_invoices(
    db: Database,
    tenant_id: str,
    *,
    status: str | None = None,
    po_number: str | None = None,
    limit: int = 10,
    starting_after: str | None = None,
    ending_before: str | None = None,
) -> InvoicePage:
    """Newest first, 1099Policy's cursor pagination."""
    if status is not None and status not in STATUSES:
        raise InvalidInput({"status": f"must be one of {', '.join(STATUSES)}"})
    if not 1 <= limit <= 100:
        raise InvalidInput({"limit": "must be from 1 to 100"})
    if starting_after and ending_before:
        raise InvalidInput("give starting_after or ending_before, not both")
    q: Select[Any] = select(*SUMMARY_COLUMNS).where(I.tenant_id == tenant_id)
    if status:
        q = q.where(I.status == status)
    if po_number:
        q = q.where(I.po_number == po_number)
    if ending_before:
        seq = await _seq_of(db, tenant_id, ending_before, "ending_before")
        q = q.where(I.seq > seq).order_by(I.seq.asc()).limit(limit + 1)
    else:
        if starting_after:
            seq = await _seq_of(db, tenant_id, starting_after, "starting_after")
            q = q.where(I.seq < seq)
        q = q.order_by(I.seq.desc()).limit(limit + 1)
    async with db.session() as s:
        rows = list((await s.execute(q)).all())
    has_more = len(rows) > limit
    rows = rows[:limit]
    if ending_before:
        rows.reverse()
    return InvoicePage(rows, has_more)


async def get_invoice(db: Database, tenant_id: str, invoice_id: str) -> tuple[Any, list[Any], list[Any]]:
    """The invoice, its lines and its credits."""
    async with db.session() as s:
        row = (await s.execute(select(*SUMMARY_COLUMNS).where(I.tenant_id == tenant_id, I.id == invoice_id))).first()
        if row is None:
            raise _not_found(invoice_id)
        lines = (
            await s.execute(
                select(invoice_lines)
                .where(invoice_lines.c.tenant_id == tenant_id, invoice_lines.c.invoice_seq == row.seq)
                .order_by(invoice_lines.c.id)
            )
        ).all()
        credits = (
            await s.execute(
                select(invoice_credits)
                .where(invoice_credits.c.tenant_id == tenant_id, invoice_credits.c.invoice_seq == row.seq)
                .order_by(invoice_credits.c.created_at, invoice_credits.c.id)
            )
        ).all()
    return row, list(lines), list(credits)


async def get_invoice_pdf(db: Database, tenant_id: str, invoice_id: str) -> tuple[str, bytes]:
    async with db.session() as s:
        row = (await s.execute(select(I.filename, I.pdf).where(I.tenant_id == tenant_id, I.id == invoice_id))).first()
    if row is None:
        raise _not_found(invoice_id)
    return row.filename, row.pdf


async def mark_paid(db: Database, tenant_id: str, invoice_id: str) -> None:
    async with db.uow() as uow:
        row = (
            await uow.session.execute(
                select(I.seq, I.status, I.number, I.total_cents, I.credited_cents, I.version)
                .where(I.tenant_id == tenant_id, I.id == invoice_id)
                .with_for_update()
            )
        ).first()
        if row is None:
            raise _not_found(invoice_id)
        if row.status == "paid":
            raise ApiError(f"Invoice {row.number} is already paid", error_code="invoice_already_paid")
        if row.status == "void":
            raise ApiError(f"Invoice {row.number} is void and cannot be paid", error_code="invoice_void")
        now = uow.clock.now()
        amount = max(0, row.total_cents - row.credited_cents)
        await uow.session.execute(
            update(invoices)
            .where(I.seq == row.seq)
            .values(status="paid", paid_at=now, paid_amount_cents=amount, version=row.version + 1)
        )
        uow.emit(
            InvoicePaidV1(invoice_id=invoice_id, invoice_number=row.number, paid_at=now, amount_cents=amount),
            tenant_id=tenant_id,
            aggregate_id=invoice_id,
            aggregate_version=row.version + 1,
        )
        await uow.commit()


async def void_invoice(db: Database, tenant_id: str, invoice_id: str, reason: Any) -> None:
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput({"reason": "say why the invoice is void (1-500 characters)"})
    reason = reason.strip()
    if len(reason) > 500:
        raise InvalidInput({"reason": "at most 500 characters"})
    async with db.uow() as uow:
        row = (
            await uow.session.execute(
                select(I.seq, I.status, I.number, I.version).where(I.tenant_id == tenant_id, I.id == invoice_id).with_for_update()
            )
        ).first()
        if row is None:
            raise _not_found(invoice_id)
        if row.status == "paid":
            raise ApiError(f"Invoice {row.number} is paid and cannot be voided", error_code="invoice_already_paid")
        if row.status == "void":
            raise ApiError(f"Invoice {row.number} is already void", error_code="invoice_void")
        now = uow.clock.now()
        await uow.session.execute(
            update(invoices)
            .where(I.seq == row.seq)
            .values(status="void", voided_at=now, void_reason=reason, version=row.version + 1)
        )
        uow.emit(
            InvoiceVoidedV1(invoice_id=invoice_id, invoice_number=row.number, reason=reason),
            tenant_id=tenant_id,
            aggregate_id=invoice_id,
            aggregate_version=row.version + 1,
        )
        await uow.commit()
