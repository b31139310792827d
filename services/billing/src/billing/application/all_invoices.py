"""Both kinds of invoice in one list (``GET /v1/invoices?kind=all``), newest first: enterprise
invoices by their issue time, usage invoices by their creation, ties by id. A page is read as
(kind, id) pairs from the union of the two tables, then each invoice in full from its own table."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, literal, select, union_all
from ten99kit import Database, InvalidInput, PageRequest, fetch_page
from ten99kit.db import Row

from ..adapters.db import invoices, usage_invoices
from .invoices import STATUSES, SUMMARY_COLUMNS

__all__ = ["MixedPage", "list_all_invoices"]


@dataclass(frozen=True)
class MixedPage:
    #: (kind, row) in list order: ``enterprise`` rows without the PDF, ``usage`` rows
    rows: list[tuple[str, Row]]
    has_more: bool


async def list_all_invoices(db: Database, tenant_id: str, status: str | None, request: PageRequest) -> MixedPage:
    if status is not None and status not in STATUSES:
        raise InvalidInput({"status": f"must be one of {', '.join(STATUSES)}"})
    enterprise = select(
        invoices.c.id,
        invoices.c.tenant_id,
        invoices.c.status,
        invoices.c.issued_at.label("created_at"),
        literal("enterprise").label("kind"),
    )
    usage = select(
        usage_invoices.c.id,
        usage_invoices.c.tenant_id,
        usage_invoices.c.status,
        usage_invoices.c.created_at,
        literal("usage").label("kind"),
    )
    both = union_all(enterprise, usage).subquery("all_invoices")
    where: list[ColumnElement[bool]] = [both.c.tenant_id == tenant_id]
    if status:
        where.append(both.c.status == status)
    async with db.reads() as session:
        page = await fetch_page(
            session, select(both), keys=(both.c.created_at, both.c.id), id_column=both.c.id, where=where, request=request
        )
        ids = {kind: [row["id"] for row in page.rows if row["kind"] == kind] for kind in ("enterprise", "usage")}
        found: dict[str, Row] = {}
        if ids["enterprise"]:
            query = select(*SUMMARY_COLUMNS).where(invoices.c.tenant_id == tenant_id, invoices.c.id.in_(ids["enterprise"]))
            found.update({row["id"]: row for row in (await session.execute(query)).mappings()})
        if ids["usage"]:
            query = select(usage_invoices).where(usage_invoices.c.tenant_id == tenant_id, usage_invoices.c.id.in_(ids["usage"]))
            found.update({row["id"]: row for row in (await session.execute(query)).mappings()})
    return MixedPage([(row["kind"], found[row["id"]]) for row in page.rows], page.has_more)
