"""Litestar controllers of the billing API, and the JSON shapes they return."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from ten99kit import Database, InvalidInput

from ..application import invoices as uc
from ..application.settings import CompanyBilling, get_settings, update_settings
from ..settings import BillingSettings

__all__ = ["InvoiceController", "SettingsController", "route_handlers"]


def epoch(value: datetime | date | None) -> int | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    return int(value.timestamp())


async def json_body(request: Request[Any, Any, Any]) -> Any:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise InvalidInput("the body is not valid JSON") from None


def settings_json(company: CompanyBilling) -> dict[str, Any]:
    s = company.settings
    return {
        "object": "billing_settings",
        "billing_email": s.effective_billing_email,
        "billing_email_is_default": s.billing_email is None,
        "default_billing_email": s.owner_email,
        "premium_payer": s.premium_payer,
        "platform_fee_bps": s.platform_fee_bps,
        "platform_fee_percent": f"{s.platform_fee_bps / 100:.2f}",
        "updated": epoch(company.updated_at),
    }


def invoice_json(row: Any, today: date, lines: list[Any] | None = None, credits: list[Any] | None = None) -> dict[str, Any]:
    amount_due = max(0, row.total_cents - row.credited_cents) if row.status == "open" else 0
    out: dict[str, Any] = {
        "id": row.id,
        "object": "invoice",
        "created": epoch(row.issued_at),
        "number": row.number,
        "status": row.status,
        "purchase_order_number": row.po_number,
        "period": row.period,
        "supplements": row.supplements_id,
        "to_email": row.to_email,
        "cc_emails": list(row.cc_emails or []),
        "currency": row.currency,
        "issued_at": epoch(row.issued_at),
        "due_date": epoch(row.due_date),
        "past_due": row.status == "open" and today > row.due_date,
        "premium_payer": row.premium_payer,
        "platform_fee_bps": row.platform_fee_bps,
        "line_count": row.line_count,
        "gross_pay": row.pay_cents,
        "premium_due": row.premium_cents,
        "platform_fee": row.platform_fee_cents,
        "total": row.total_cents,
        "credited": row.credited_cents,
        "amount_due": amount_due,
        "amount_paid": row.paid_amount_cents,
        "paid_at": epoch(row.paid_at),
        "voided_at": epoch(row.voided_at),
        "void_reason": row.void_reason,
        "filename": row.filename,
        "pdf_url": f"/v1/invoices/{row.id}/pdf",
    }
    if lines is not None:
        out["lines"] = [line_json(r) for r in lines]
    if credits is not None:
        out["credits"] = [credit_json(r, row.id) for r in credits]
    return out


def line_json(r: Any) -> dict[str, Any]:
    return {
        "object": "invoice_line",
        "assignment": r.assignment_id,
        "contractor": r.contractor_id,
        "contractor_name": r.contractor_name,
        "description": r.description,
        "kind": r.kind,
        "paycycle_startdate": epoch(r.span_start),
        "paycycle_enddate": epoch(r.span_end),
        "wage": r.wage_cents,
        "wage_type": r.wage_type,
        "gross_pay": r.pay_cents,
        "net_rate": r.net_rate,
        "premium_payer": r.premium_payer,
        "premium": r.premium_full_cents,
        "premium_due": r.premium_cents,
        "platform_fee_bps": r.platform_fee_bps,
        "platform_fee": r.platform_fee_cents,
        "amount": r.amount_cents,
        "credited": r.credited,
    }


def credit_json(r: Any, invoice_id: str) -> dict[str, Any]:
    return {
        "id": r.id,
        "object": "invoice_credit",
        "invoice": invoice_id,
        "assignment": r.assignment_id,
        "amount": r.amount_cents,
        "reason": r.reason,
        "created": epoch(r.created_at),
    }


async def invoice_detail(db: Database, tenant_id: str, invoice_id: str) -> dict[str, Any]:
    row, lines, credits = await uc.get_invoice(db, tenant_id, invoice_id)
    return invoice_json(row, db.clock.today(), lines, credits)


class SettingsController(Controller):
    path = "/v1/settings"

    @get("/")
    async def read(
        self, db: NamedDependency[Database], tenant_id: NamedDependency[str], config: NamedDependency[BillingSettings]
    ) -> dict[str, Any]:
        return settings_json(await get_settings(db, tenant_id, config.defaults))

    @put("/")
    async def change(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        tenant_id: NamedDependency[str],
        config: NamedDependency[BillingSettings],
    ) -> dict[str, Any]:
        body = await json_body(request)
        return settings_json(await update_settings(db, tenant_id, body, config.defaults))


class InvoiceController(Controller):
    path = "/v1/invoices"

    @get("/")
    async def list_(
        self,
        db: NamedDependency[Database],
        tenant_id: NamedDependency[str],
        status: FromQuery[str | None] = None,
        po_number: FromQuery[str | None] = None,
        limit: FromQuery[int] = 10,
        starting_after: FromQuery[str | None] = None,
        ending_before: FromQuery[str | None] = None,
    ) -> dict[str, Any]:
        page = await uc.list_invoices(
            db,
            tenant_id,
            status=status,
            po_number=po_number,
            limit=limit,
            starting_after=starting_after,
            ending_before=ending_before,
        )
        today = db.clock.today()
        return {
            "object": "list",
            "data": [invoice_json(r, today) for r in page.rows],
            "has_more": page.has_more,
            "url": "/v1/invoices",
        }

    @get("/{invoice_id:str}")
    async def detail(
        self, db: NamedDependency[Database], tenant_id: NamedDependency[str], invoice_id: FromPath[str]
    ) -> dict[str, Any]:
        return await invoice_detail(db, tenant_id, invoice_id)

    @get("/{invoice_id:str}/pdf")
    async def pdf(
        self, db: NamedDependency[Database], tenant_id: NamedDependency[str], invoice_id: FromPath[str]
    ) -> Response[bytes]:
        filename, content = await uc.get_invoice_pdf(db, tenant_id, invoice_id)
        return Response(
            content,
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    @post("/{invoice_id:str}/mark-paid", status_code=200)
    async def mark_paid(
        self, db: NamedDependency[Database], tenant_id: NamedDependency[str], invoice_id: FromPath[str]
    ) -> dict[str, Any]:
        await uc.mark_paid(db, tenant_id, invoice_id)
        return await invoice_detail(db, tenant_id, invoice_id)

    @post("/{invoice_id:str}/void", status_code=200)
    async def void(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        tenant_id: NamedDependency[str],
        invoice_id: FromPath[str],
    ) -> dict[str, Any]:
        body = await json_body(request)
        if not isinstance(body, dict):
            raise InvalidInput({"body": "expected a JSON object with a reason"})
        await uc.void_invoice(db, tenant_id, invoice_id, body.get("reason"))
        return await invoice_detail(db, tenant_id, invoice_id)


route_handlers = [SettingsController, InvoiceController]
