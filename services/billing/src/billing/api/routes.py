"""Litestar controllers of the billing API (the shapes they answer are in ``schemas``)."""

from __future__ import annotations

from litestar import Controller, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from ten99kit import Database, ListEnvelope, PageRequest

from ..application import invoices as uc
from ..application.settings import get_settings, update_settings
from ..domain.settings import FIELD_RULES
from ..settings import BillingSettings
from .bodies import body_errors
from .schemas import BillingSettingsOut, InvoiceDetailOut, InvoiceOut, SettingsUpdate, VoidRequest, invoice_detail

__all__ = ["InvoiceController", "SettingsController", "route_handlers"]

VOID_REASON_RULE = f"say why the invoice is void (1-{uc.MAX_VOID_REASON} characters)"


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
    path = "/v1/invoices"
    exception_handlers = body_errors({"reason": VOID_REASON_RULE}, "expected a JSON object with a reason")

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
    ) -> ListEnvelope[InvoiceOut]:
        filters = uc.InvoiceFilter(status=status, po_number=po_number)
        page = await uc.list_invoices(db, tenant_id, filters, PageRequest(limit, starting_after, ending_before))
        today = db.clock.today()
        return ListEnvelope(url="/v1/invoices", has_more=page.has_more, data=[InvoiceOut.of(row, today) for row in page.rows])

    @get("/{invoice_id:str}")
    async def detail(
        self, db: NamedDependency[Database], tenant_id: NamedDependency[str], invoice_id: FromPath[str]
    ) -> InvoiceDetailOut:
        return invoice_detail(await uc.get_invoice(db, tenant_id, invoice_id), db.clock.today())

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
    ) -> InvoiceDetailOut:
        await uc.mark_paid(db, tenant_id, invoice_id)
        return invoice_detail(await uc.get_invoice(db, tenant_id, invoice_id), db.clock.today())

    @post("/{invoice_id:str}/void", status_code=200)
    async def void(
        self,
        db: NamedDependency[Database],
        tenant_id: NamedDependency[str],
        invoice_id: FromPath[str],
        data: JSONBody[VoidRequest],
    ) -> InvoiceDetailOut:
        await uc.void_invoice(db, tenant_id, invoice_id, data.reason)
        return invoice_detail(await uc.get_invoice(db, tenant_id, invoice_id), db.clock.today())


route_handlers = [SettingsController, InvoiceController]
