"""CSV exports of a company's contractors and of its assignments with their coverage, streamed.

A large company's list is never held whole: rows are read in keyset pages (the kit's
`fetch_page` on the internal ``pk``, newest first, each page in its own short session) and each
page is written out as CSV text before the next is read. Every page filters by the tenant.

What a spreadsheet would run is never exported as a formula: a cell starting with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return gets a leading apostrophe (`neutralise`, OWASP's advice
against CSV injection). Tax ids are exported masked (``***-**-6789``), as the API shows them; the
clear value is never read here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from datetime import date
from typing import Any

from sqlalchemy import Select, and_, select
from ten99kit.pagination import MAX_LIMIT, PageRequest, fetch_page
from ten99kit.spreadsheet import csv_text, neutralise

from ..adapters.db import assignments, contractors, entities, jobs, roster_status
from ..domain import rules
from .context import Context
from .own_insurance import OWN_INSURANCE
from .roster import status_expression

__all__ = ["ASSIGNMENT_COLUMNS", "CONTRACTOR_COLUMNS", "assignments_csv", "contractors_csv", "neutralise"]

CONTRACTOR_COLUMNS = [
    "Contractor ID", "First Name", "Last Name", "Email", "Phone", "Company Name", "Tax ID (masked)",
    "Address Line 1", "Address Line 2", "City", "State", "Zip", "Status", "Created",
]  # fmt: skip

ASSIGNMENT_COLUMNS = [
    "Assignment ID", "Contractor ID", "Contractor Name", "Contractor Email", "Ultimate Client Name", "Job Title",
    "Start Date", "End Date", "Status", "PO Number", "PO Contact Email", "Campaign", "Contractor Status",
    "Coverage Status", "Coverage Types", "Policy ID", "Certificate Number",
]  # fmt: skip


async def _pages(ctx: Context, query: Select[Any], pk: Any, id_column: Any, where: list[Any]) -> AsyncIterator[list[Any]]:
    """Every row of ``query`` in keyset pages of `MAX_LIMIT`, newest first."""
    after: str | None = None
    while True:
        async with ctx.db.reads() as s:
            page = await fetch_page(s, query, keys=(pk,), id_column=id_column, where=where, request=PageRequest(MAX_LIMIT, after))
        if page.rows:
            yield list(page.rows)
        if not page.has_more or not page.rows:
            return
        after = page.rows[-1]["id"]


async def _stream(header: list[str], pages: AsyncIterator[list[Any]], row: Callable[[Any], list[Any]]) -> AsyncIterator[bytes]:
    yield ("\ufeff" + csv_text([header])).encode()  # the BOM: spreadsheets then read UTF-8
    async for rows in pages:
        yield csv_text(row(r) for r in rows).encode()


def _roster_join() -> Any:
    return and_(roster_status.c.tenant_id == contractors.c.tenant_id, roster_status.c.contractor_id == contractors.c.id)


def _address_part(address: Mapping[str, Any] | None, key: str) -> Any:
    return (address or {}).get(key)


def _contractor_row(r: Any) -> list[Any]:
    a = r["address"]
    return [
        r["id"], r["first_name"], r["last_name"], r["email"], r["phone"], r["company_name"], r["tax_id_masked"],
        _address_part(a, "line1"), _address_part(a, "line2"), _address_part(a, "locality"), _address_part(a, "region"),
        _address_part(a, "postalcode"), r["roster"], r["created_at"],
    ]  # fmt: skip


def contractors_csv(ctx: Context, tenant_id: str) -> AsyncIterator[bytes]:
    """The company's contractors with their roster status, as CSV bytes, page by page."""
    c = contractors.c
    query = select(
        c.pk, c.id, c.first_name, c.last_name, c.email, c.phone, c.company_name, c.tax_id_masked, c.address, c.created_at,
        status_expression().label("roster"),
    ).select_from(contractors.outerjoin(roster_status, _roster_join()))  # fmt: skip
    pages = _pages(ctx, query, c.pk, c.id, [c.tenant_id == tenant_id])
    return _stream(CONTRACTOR_COLUMNS, pages, _contractor_row)


def _assignment_row(today: date) -> Callable[[Any], list[Any]]:
    def row(r: Any) -> list[Any]:
        coverage = rules.coverage_status(
            cancelled=r["status"] == "cancelled",
            bound=r["coverage_bound_at"] is not None,
            effective=r["effective_date"],
            end=r["end_date"],
            today=today,
        )
        if r["own_insurance_upload_id"] is not None and r["status"] != "cancelled":
            coverage = OWN_INSURANCE  # the contractor's own certificate covers it (own_insurance.py)
        certificate = (r["certificates"] or {}).get("certificate_number")
        return [
            r["id"], r["contractor_id"], f"{r['first_name']} {r['last_name']}", r["email"], r["entity_name"], r["job_name"],
            r["effective_date"], r["end_date"], r["status"], r["po_number"], r["po_contact_email"], r["campaign"],
            r["roster"], coverage, r["coverage_types"] or [], r["policy_id"], certificate,
        ]  # fmt: skip

    return row


def assignments_csv(ctx: Context, tenant_id: str) -> AsyncIterator[bytes]:
    """The company's assignments (deleted ones left out) with contractor, job, end client and
    coverage (the read model this service keeps from policy's messages), as CSV bytes."""
    a = assignments.c
    query = select(
        a.pk, a.id, a.contractor_id, a.effective_date, a.end_date, a.status, a.po_number, a.po_contact_email, a.campaign,
        a.coverage_bound_at, a.coverage_types, a.policy_id, a.certificates, a.own_insurance_upload_id,
        contractors.c.first_name, contractors.c.last_name, contractors.c.email,
        jobs.c.name.label("job_name"), entities.c.name.label("entity_name"), status_expression().label("roster"),
    ).select_from(
        assignments.join(contractors, contractors.c.id == a.contractor_id)
        .join(jobs, jobs.c.id == a.job_id)
        .join(entities, entities.c.id == jobs.c.entity_id)
        .outerjoin(roster_status, _roster_join())
    )  # fmt: skip
    pages = _pages(ctx, query, a.pk, a.id, [a.tenant_id == tenant_id, a.deleted_at.is_(None)])
    return _stream(ASSIGNMENT_COLUMNS, pages, _assignment_row(ctx.today()))
