"""Litestar controllers of the billing API (the shapes they answer are in ``schemas``)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from ten99kit import ApiError, Database, InvalidInput, ListEnvelope, PageRequest
from ten99kit.request_keys import request_key_of

from ..application import invoices as uc
from ..application import usage
from ..application.all_invoices import list_all_invoices
from ..application.settings import get_settings, update_settings
from ..domain.settings import FIELD_RULES
from ..settings import BillingSettings
from .bodies import body_errors
from .schemas import (
    BillingSettingsOut,
    InvoiceDetailOut,
    InvoiceOut,
    SettingsUpdate,
    UsageInvoiceDeleted,
    UsageInvoiceIn,
    UsageInvoiceOut,
    UsageInvoiceUpdate,
    VoidRequest,
    invoice_detail,
)

__all__ = ["InvoiceController", "SettingsController", "route_handlers"]

VOID_REASON_RULE = f"say why the invoice is void (1-{uc.MAX_VOID_REASON} characters)"
#: a usage invoice's body fields, as billing words them when they do not decode
USAGE_FIELD_RULES = {
    "contractor": "the contractor's id (cn_...)",
    "job": "the job's id (jb_...)",
    "gross_pay": "integer cents from 100 to 100,000,000",
    "paycycle_startdate": "epoch seconds (an integer)",
    "paycycle_enddate": "epoch seconds (an integer)",
    "purchase_order_number": "a string of at most 100 characters",
}
KINDS = ("enterprise", "usage", "all")


def _not_editable(invoice_id: str) -> ApiError:
    return ApiError(
        f"Invoice {invoice_id} was issued by ten99 for a purchase order; only usage invoices are edited or deleted",
        error_code="bad_request",
    )


class SettingsController(Controller):
    path = "/v1/settings"
    exception_handlers = body_errors(FIELD_RULES, "expected a JSON object")

    @get("/")
    async def read(
        self, db: NamedDependency[Database], tenant_id: NamedDependency[str], config: NamedDependency[BillingSettings]
    ) -> BillingSettingsOut:
        return BillingSettingsOut.of(await get_settings(db, tenant_id, config.defaults))

    @put("/")
    async def change(
        self,
        db: NamedDependency[Database],
        tenant_id: NamedDependency[str],
        config: NamedDependency[BillingSettings],
        data: JSONBody[SettingsUpdate],
    ) -> BillingSettingsOut:
        return BillingSettingsOut.of(await update_settings(db, tenant_id, data.change(), config.defaults))


class InvoiceController(Controller):
    """Both kinds of invoice under one resource (ids ``in_...`` either way): enterprise invoices
    (issued by billing per PO) and usage invoices (created by ``POST``, 1099Policy's)."""

    path = "/v1/invoices"
    exception_handlers = body_errors(
        {"reason": VOID_REASON_RULE, **USAGE_FIELD_RULES}, "expected a JSON object with the invoice's fields"
    )

    @get("/")
    async def list_(
        self,
        db: NamedDependency[Database],
        tenant_id: NamedDependency[str],
        kind: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        po_number: FromQuery[str | None] = None,
        contractor: FromQuery[str | None] = None,
        job: FromQuery[str | None] = None,
        limit: FromQuery[int] = 10,
        starting_after: FromQuery[str | None] = None,
        ending_before: FromQuery[str | None] = None,
    ) -> ListEnvelope[InvoiceOut | UsageInvoiceOut]:
        kind = _kind(kind, contractor or job)
        request = PageRequest(limit, starting_after, ending_before)
        if kind == "all":
            return await _all_kinds(db, tenant_id, status, request)
        if kind == "usage":
            filters = usage.UsageFilter(contractor=contractor, job=job, status=status)
            found = await usage.list_usage_invoices(db, tenant_id, filters, request)
            data: list[InvoiceOut | UsageInvoiceOut] = [UsageInvoiceOut.of(row) for row in found.rows]
            return ListEnvelope(url="/v1/invoices", has_more=found.has_more, data=data)
        page = await uc.list_invoices(db, tenant_id, uc.InvoiceFilter(status=status, po_number=po_number), request)
        today = db.clock.today()
        return ListEnvelope(url="/v1/invoices", has_more=page.has_more, data=[InvoiceOut.of(row, today) for row in page.rows])

    @post("/", status_code=201)
    async def create_usage(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        tenant_id: NamedDependency[str],
        data: JSONBody[UsageInvoiceIn],
    ) -> UsageInvoiceOut:
        key = request_key_of(request.headers)
        return UsageInvoiceOut.of(await usage.create_usage_invoice(db, tenant_id, data.wanted(), request_key=key))

    @get("/{invoice_id:str}")
    async def detail(
        self, db: NamedDependency[Database], tenant_id: NamedDependency[str], invoice_id: FromPath[str]
    ) -> InvoiceDetailOut | UsageInvoiceOut:
        found = await usage.find_usage_invoice(db, tenant_id, invoice_id)
        if found is not None:
            return UsageInvoiceOut.of(found)
        return invoice_detail(await uc.get_invoice(db, tenant_id, invoice_id), db.clock.today())

    @put("/{invoice_id:str}")
    async def update_usage(
        self,
        db: NamedDependency[Database],
        tenant_id: NamedDependency[str],
        invoice_id: FromPath[str],
        data: JSONBody[UsageInvoiceUpdate],
    ) -> UsageInvoiceOut:
        if await usage.find_usage_invoice(db, tenant_id, invoice_id) is None:
            await uc.get_invoice(db, tenant_id, invoice_id)  # not found, or:
            raise _not_editable(invoice_id)
        return UsageInvoiceOut.of(await usage.reprice_usage_invoice(db, tenant_id, invoice_id, data.change()))

    @delete("/{invoice_id:str}", status_code=200)
    async def delete_usage(
        self, db: NamedDependency[Database], tenant_id: NamedDependency[str], invoice_id: FromPath[str]
    ) -> UsageInvoiceDeleted:
        if await usage.find_usage_invoice(db, tenant_id, invoice_id) is None:
            await uc.get_invoice(db, tenant_id, invoice_id)
            raise _not_editable(invoice_id)
        await usage.delete_usage_invoice(db, tenant_id, invoice_id)
        return UsageInvoiceDeleted(id=invoice_id)

    @get("/{invoice_id:str}/pdf", media_type="application/pdf")
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
    ) -> InvoiceDetailOut | UsageInvoiceOut:
        if await usage.find_usage_invoice(db, tenant_id, invoice_id) is not None:
            return UsageInvoiceOut.of(await usage.pay_usage_invoice(db, tenant_id, invoice_id))
        await uc.mark_paid(db, tenant_id, invoice_id)
        return invoice_detail(await uc.get_invoice(db, tenant_id, invoice_id), db.clock.today())

    @post("/{invoice_id:str}/void", status_code=200)
    async def void(
        self,
        db: NamedDependency[Database],
        tenant_id: NamedDependency[str],
        invoice_id: FromPath[str],
        data: JSONBody[VoidRequest],
    ) -> InvoiceDetailOut | UsageInvoiceOut:
        if await usage.find_usage_invoice(db, tenant_id, invoice_id) is not None:
            reason = uc.void_reason(data.reason)
            return UsageInvoiceOut.of(await usage.void_usage_invoice(db, tenant_id, invoice_id, reason))
        await uc.void_invoice(db, tenant_id, invoice_id, data.reason)
        return invoice_detail(await uc.get_invoice(db, tenant_id, invoice_id), db.clock.today())


def _kind(kind: str | None, usage_filter: str | None) -> str:
    """The kind of invoice listed: ``enterprise`` unless asked; ``all``: both, newest first. A
    contractor or job filter lists usage invoices (only they have one: enterprise invoices are per
    PO), so with it ``all`` is ``usage`` and ``enterprise`` is refused."""
    if kind is not None and kind not in KINDS:
        raise InvalidInput({"kind": f"must be one of {', '.join(KINDS)}"})
    if usage_filter and kind == "enterprise":
        raise InvalidInput({"kind": "contractor and job filter usage invoices (kind=usage or all)"})
    return "usage" if usage_filter else (kind or "enterprise")


async def _all_kinds(
    db: Database, tenant_id: str, status: str | None, request: PageRequest
) -> ListEnvelope[InvoiceOut | UsageInvoiceOut]:
    page = await list_all_invoices(db, tenant_id, status, request)
    today = db.clock.today()
    data: list[InvoiceOut | UsageInvoiceOut] = [
        UsageInvoiceOut.of(row) if kind == "usage" else InvoiceOut.of(row, today) for kind, row in page.rows
    ]
    return ListEnvelope(url="/v1/invoices", has_more=page.has_more, data=data)


route_handlers = [SettingsController, InvoiceController]
