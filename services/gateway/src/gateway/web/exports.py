"""CSV exports from the dashboard: contractors, assignments with coverage, invoices.

Contractors and assignments are the contractor service's own CSV (``/v1/exports/*.csv``: keyset
pages, tax ids masked, formula cells neutralised), relayed to the browser as a stream. Invoices
are written here from billing's list API, one keyset page (``starting_after``) at a time, so no
export holds a whole table in memory. Every call carries the signed-in user's company only.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading
apostrophe (`neutralise`), so that a spreadsheet shows it instead of running it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from litestar import Request, Response, get
from litestar.params import FromQuery
from litestar.response import Stream
from ten99kit.spreadsheet import csv_text, neutralise

from ..adapters.services import ServiceClient
from .common import gateway_of, user_of
from .downloads import relay_download
from .invoices import INVOICE_STATUSES

__all__ = ["INVOICE_COLUMNS", "export_assignments", "export_contractors", "export_invoices", "neutralise"]

#: invoices per call to billing (its list's largest page)
PAGE = 100

INVOICE_COLUMNS = [
    "Invoice ID", "Number", "Status", "PO Number", "Period", "To", "Cc", "Currency", "Issued", "Due", "Past Due",
    "Lines", "Gross Pay", "Premium", "Platform Fee", "Total", "Credited", "Amount Due", "Paid At", "Void Reason",
]  # fmt: skip


def _csv(rows: Sequence[Sequence[Any]]) -> bytes:
    return csv_text(rows).encode()


def _day(epoch: Any) -> str:
    return datetime.fromtimestamp(int(epoch), UTC).date().isoformat() if isinstance(epoch, int) else ""


def _dollars(cents: Any) -> str:
    return f"{int(cents) / 100:.2f}" if isinstance(cents, int) else ""


def _invoice_row(i: dict[str, Any]) -> list[Any]:
    return [
        i.get("id"), i.get("number"), i.get("status"), i.get("purchase_order_number"), i.get("period"), i.get("to_email"),
        ", ".join(i.get("cc_emails") or []), (i.get("currency") or "usd").upper(), _day(i.get("issued_at")),
        _day(i.get("due_date")), "yes" if i.get("past_due") else "no", i.get("line_count"), _dollars(i.get("gross_pay")),
        _dollars(i.get("premium_due")), _dollars(i.get("platform_fee")), _dollars(i.get("total")),
        _dollars(i.get("credited")), _dollars(i.get("amount_due")), _day(i.get("paid_at")), i.get("void_reason"),
    ]  # fmt: skip


async def _invoice_pages(billing: ServiceClient, tenant: str, status: str, first: dict[str, Any]) -> AsyncIterator[bytes]:
    """The header, then each page of invoices as CSV; ``first`` is the page already read."""
    yield ("\ufeff".encode()) + _csv([INVOICE_COLUMNS])
    answer = first
    while True:
        data = [i for i in answer.get("data") or [] if isinstance(i, dict)]
        yield _csv([_invoice_row(i) for i in data])
        if not answer.get("has_more") or not data:
            return
        params = {"status": status, "limit": PAGE, "starting_after": data[-1]["id"]}
        answer = await billing.get("/v1/invoices", tenant=tenant, params=params)


def _attachment(filename: str) -> dict[str, str]:
    return {
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
    }


@get("/contractors/export.csv", include_in_schema=False)
async def export_contractors(request: Request[Any, Any, Any]) -> Response[Any]:
    gateway, user = gateway_of(request), user_of(request)
    return await relay_download(
        gateway.services.contractor, "/v1/exports/contractors.csv", tenant=user.company_id, filename="contractors.csv"
    )


@get("/contractors/assignments.csv", include_in_schema=False)
async def export_assignments(request: Request[Any, Any, Any]) -> Response[Any]:
    gateway, user = gateway_of(request), user_of(request)
    return await relay_download(
        gateway.services.contractor, "/v1/exports/assignments.csv", tenant=user.company_id, filename="assignments.csv"
    )


@get("/invoices/export.csv", include_in_schema=False)
async def export_invoices(request: Request[Any, Any, Any], status: FromQuery[str] = "") -> Stream:
    """The company's invoices (of the list's status filter) as CSV. The first page is read before
    the answer starts, so a failing billing service is an error page, not a truncated file."""
    gateway, user = gateway_of(request), user_of(request)
    status = status if status in {s for s, _ in INVOICE_STATUSES} else ""
    billing, tenant = gateway.services.billing, user.company_id
    first = await billing.get("/v1/invoices", tenant=tenant, params={"status": status, "limit": PAGE})
    body = _invoice_pages(billing, tenant, status, first if isinstance(first, dict) else {})
    return Stream(body, media_type="text/csv; charset=utf-8", headers=_attachment("invoices.csv"))
