"""Invoices: the list (number, PO, to, total, status, issued, due), one invoice with its lines,
its PDF, and marking it paid."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from ..adapters.services import ServiceError
from ..api.ids import require_id
from .common import gateway_of, page, redirect, user_of
from .downloads import relay_download
from .shapes import items, next_cursor, pick

__all__ = ["invoice_detail", "invoice_pdf", "invoices_page", "mark_paid"]

INVOICE_STATUSES = [("", "All"), ("open", "Open"), ("paid", "Paid"), ("void", "Void")]


def invoice_view(i: dict[str, Any]) -> dict[str, Any]:
    to = pick(i, "to_email", "to", "po_contact_email", "bill_to", "recipient")
    if isinstance(to, list):
        to = ", ".join(str(x) for x in to)
    cc = pick(i, "cc_emails", "cc", "billing_email")
    if isinstance(cc, list):
        cc = ", ".join(str(x) for x in cc)
    return {
        "id": pick(i, "id", "invoice_id"),
        "number": pick(i, "number", "invoice_number", "id"),
        "po_number": pick(i, "purchase_order_number", "po_number"),
        "to": to,
        "cc": cc,
        "total": pick(i, "total", "total_cents", "amount_cents"),
        "amount_due": pick(i, "amount_due"),
        "credited": pick(i, "credited"),
        "past_due": bool(i.get("past_due")),
        "currency": pick(i, "currency", default="usd"),
        "status": pick(i, "status", default=""),
        "issued": pick(i, "issued_at", "issued", "created"),
        "due": pick(i, "due_date", "due_at", "due"),
        "paid_at": pick(i, "paid_at"),
        "lines": [
            {
                "description": pick(line, "description", "contractor_name", "assignment_id"),
                "assignment_id": pick(line, "assignment", "assignment_id"),
                "contractor": pick(line, "contractor_name", "contractor.name", "contractor"),
                "period": (pick(line, "paycycle_startdate", "period_start"), pick(line, "paycycle_enddate", "period_end")),
                "gross_pay": pick(line, "gross_pay"),
                "net_rate": pick(line, "net_rate"),
                "premium": pick(line, "premium_due", "premium_cents", "premium"),
                "fee": pick(line, "platform_fee", "platform_fee_cents", "fee_cents"),
                "amount": pick(line, "amount", "amount_cents", "total_cents", "total"),
                "credited": bool(line.get("credited")),
            }
            for line in items(i, "lines", "line_items")
        ],
        "raw": i,
    }


@get("/invoices", include_in_schema=False)
async def invoices_page(
    request: Request[Any, Any, Any], status: FromQuery[str] = "", starting_after: FromQuery[str] = ""
) -> Template:
    gateway, user = gateway_of(request), user_of(request)
    status = status if status in {s for s, _ in INVOICE_STATUSES} else ""
    answer = await gateway.services.billing.get(
        "/v1/invoices", tenant=user.company_id, params={"status": status, "limit": 50, "starting_after": starting_after}
    )
    invoices = [invoice_view(i) for i in items(answer, "invoices")]
    return page(
        request,
        "invoices/list.html",
        invoices=invoices,
        status=status,
        statuses=INVOICE_STATUSES,
        next_cursor=next_cursor(answer, invoices),
    )


@get("/invoices/{invoice_id:str}", include_in_schema=False)
async def invoice_detail(request: Request[Any, Any, Any], invoice_id: FromPath[str]) -> Template:
    invoice_id = require_id(invoice_id, "in", "invoice")
    gateway, user = gateway_of(request), user_of(request)
    invoice = await gateway.services.billing.get(f"/v1/invoices/{invoice_id}", tenant=user.company_id)
    return page(request, "invoices/detail.html", invoice=invoice_view(invoice))


@get("/invoices/{invoice_id:str}/pdf", include_in_schema=False)
async def invoice_pdf(request: Request[Any, Any, Any], invoice_id: FromPath[str]) -> Response[Any]:
    invoice_id = require_id(invoice_id, "in", "invoice")
    gateway, user = gateway_of(request), user_of(request)
    return await relay_download(
        gateway.services.billing,
        f"/v1/invoices/{invoice_id}/pdf",
        tenant=user.company_id,
        filename=f"invoice-{invoice_id}.pdf",
        keep_service_filename=True,
    )


@post("/invoices/{invoice_id:str}/mark-paid", include_in_schema=False)
async def mark_paid(request: Request[Any, Any, Any], invoice_id: FromPath[str]) -> Response[Any]:
    invoice_id = require_id(invoice_id, "in", "invoice")
    gateway, user = gateway_of(request), user_of(request)
    try:
        await gateway.services.billing.post(f"/v1/invoices/{invoice_id}/mark-paid", tenant=user.company_id, json={})
    except ServiceError as e:
        return redirect(f"/invoices/{invoice_id}", error=f"The invoice was not marked paid: {e.text}")
    return redirect(f"/invoices/{invoice_id}", notice="The invoice is marked paid.")
