"""Assignments missing a PO number: select many (all, or by campaign) and set one PO number and
PO contact email in one action. The count falls as POs are set."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromQuery
from ten99kit.labels import labelled

from ..adapters.services import ServiceError
from ..api.ids import is_id
from ..domain.accounts import AccountError, normalize_email
from .common import gateway_of, page, redirect, user_of
from .shapes import items, pick

__all__ = ["missing_po", "set_po"]

PAGE_SIZE = 250


def _row(a: dict[str, Any]) -> dict[str, Any]:
    contractor = a.get("contractor")
    job = a.get("job")
    return {
        "id": pick(a, "assignment_id", "id"),
        "contractor_id": pick(a, "contractor_id", "contractor.id") or (contractor if isinstance(contractor, str) else None),
        "contractor_name": pick(a, "contractor_name", "contractor.name")
        or " ".join(x for x in (pick(a, "contractor.first_name"), pick(a, "contractor.last_name")) if x)
        or None,
        "contractor_email": pick(a, "contractor_email", "contractor.email", "email"),
        "job_name": pick(a, "job_name", "job.name") or (job if isinstance(job, str) else None),
        "entity_name": pick(a, "entity_name", "entity.name", "job.entity.name", "end_client"),
        "campaign": pick(a, "campaign", default=""),
        "effective_date": pick(a, "effective_date", "start_date"),
        "end_date": pick(a, "end_date"),
        "import_id": pick(a, "import_id"),
    }


async def _render(request: Request[Any, Any, Any], *, offset: int, status_code: int = 200, **extra: Any) -> Response[Any]:
    gateway, user = gateway_of(request), user_of(request)
    answer = await gateway.services.contractor.get(
        "/v1/po/missing", tenant=user.company_id, params={"limit": PAGE_SIZE, "offset": offset}
    )
    rows = [_row(a) for a in items(answer, "assignments")]
    count = int(answer.get("count", len(rows))) if isinstance(answer, dict) else len(rows)
    campaigns = sorted({r["campaign"] for r in rows if r["campaign"]})
    return page(
        request,
        "po/missing.html",
        status_code=status_code,
        rows=rows,
        count=count,
        campaigns=campaigns,
        offset=offset,
        page_size=PAGE_SIZE,
        selected=set(extra.pop("selected", [])),
        values=extra.pop("values", {}),
        errors=extra.pop("errors", {}),
        **extra,
    )


@get("/po/missing", include_in_schema=False)
async def missing_po(request: Request[Any, Any, Any], offset: FromQuery[int] = 0) -> Response[Any]:
    return await _render(request, offset=max(0, offset))


@post("/po/missing", include_in_schema=False)
async def set_po(request: Request[Any, Any, Any]) -> Response[Any]:
    gateway, user = gateway_of(request), user_of(request)
    form = await request.form()
    ids = [str(v) for v in form.getall("assignment_ids", [])]
    ids = [i for i in dict.fromkeys(ids) if is_id(i, "an")]
    po_number = str(form.get("po_number") or "").strip()
    contact = str(form.get("po_contact_email") or "").strip()
    offset = int(str(form.get("offset") or "0")) if str(form.get("offset") or "0").isdigit() else 0
    errors: dict[str, str] = {}
    # "every assignment of this campaign still missing a PO", counted by the contractor service
    whole_campaign = str(form.get("whole_campaign") or "").strip()
    if not ids and not whole_campaign:
        errors["assignment_ids"] = "Select at least one assignment, or choose a whole campaign."
    if not po_number:
        errors["po_number"] = "Enter the PO number."
    elif len(po_number) > 100:
        errors["po_number"] = "The PO number may have at most 100 characters."
    if contact:
        try:
            contact = normalize_email(contact)
        except AccountError:
            errors["po_contact_email"] = "Enter a valid email address for the PO contact."
    else:
        errors["po_contact_email"] = "Enter the PO contact's email: the invoice goes to this address."
    if not errors:
        body: dict[str, Any] = {"po_number": po_number, "po_contact_email": contact, "set_by": user.email}
        if ids:
            body["assignment_ids"] = ids
        else:
            body["campaign"] = whole_campaign
        try:
            answer = await gateway.services.contractor.post("/v1/po/bulk-set", tenant=user.company_id, json=body)
        except ServiceError as e:
            errors = e.field_errors or {"form": e.text}
        else:
            updated = answer.get("updated", len(ids)) if isinstance(answer, dict) else len(ids)
            return redirect(f"/po/missing?offset={offset}", notice=f"{labelled('PO', po_number)} set on {updated} assignment(s).")
    htmx = request.headers.get("hx-request") == "true"
    return await _render(
        request,
        offset=offset,
        status_code=200 if htmx else 400,
        selected=ids,
        values={"po_number": po_number, "po_contact_email": contact},
        errors=errors,
    )
