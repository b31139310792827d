"""The Contractors page (the roster, with the missing-PO box) and the contractor profile
(details, assignments with their coverage and certificate, the opt-in link, actions).

Every id in a path is checked (`api.ids`) before it is used: a malformed one is a 404 page."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Template
from ten99_contracts.coverage import coverage_offered
from ten99kit.clock import epoch

from ..adapters.services import ServiceError, ServiceUnavailable
from ..api.ids import is_id, require_id
from .common import gateway_of, page, redirect, user_of
from .downloads import relay_download
from .shapes import items, pick, ref_id, ref_name

__all__ = ["cancel_assignment", "contractor_profile", "download_certificate", "extend_assignment", "resend_invitation", "roster"]

PAGE_SIZE = 50
STATUSES = [
    ("", "All statuses"),
    ("not_invited", "Not invited"),
    ("invited", "Invited"),
    ("opted_in", "Opted in"),
    ("covered", "Covered"),
    ("own_insurance", "Own insurance"),
    ("ineligible", "Ineligible"),
    ("declined", "Declined"),
    ("expired", "Expired"),
]


@get("/contractors", include_in_schema=False)
async def roster(
    request: Request[Any, Any, Any],
    q: FromQuery[str] = "",
    status: FromQuery[str] = "",
    page_number: FromQuery[int] = 1,
    gaps: FromQuery[str] = "",
) -> Template:
    """The roster; ``gaps=1`` lists instead the coverage gaps (assignments starting within 3 UTC
    days whose contractor has not opted in), which the banner counts and links to."""
    gateway, user = gateway_of(request), user_of(request)
    page_number = max(1, page_number)
    status = status if status in {s for s, _ in STATUSES} else ""
    only_gaps = gaps == "1"
    contractor, tenant, offset = gateway.services.contractor, user.company_id, (page_number - 1) * PAGE_SIZE
    gaps_call = contractor.get(
        "/v1/coverage_gaps", tenant=tenant, params={"limit": PAGE_SIZE + 1 if only_gaps else 0, "offset": offset}
    )
    answer, (gap_page, _) = await asyncio.gather(
        contractor.get(
            "/v1/roster",
            tenant=tenant,
            params={"q": q.strip()[:200], "status": status, "limit": 1 if only_gaps else PAGE_SIZE + 1, "offset": offset},
        ),
        # the list of gaps is the page's content; the banner alone is not worth failing the roster for
        _required(gaps_call) if only_gaps else _optional(gaps_call),
    )
    rows = [] if only_gaps else items(answer, "rows", "contractors")
    gap_rows = items(gap_page, "gaps") if only_gaps else []
    summary = answer.get("summary", {}) if isinstance(answer, dict) else {}
    context: dict[str, Any] = {
        "rows": rows[:PAGE_SIZE],
        "gap_rows": gap_rows[:PAGE_SIZE],
        "has_next": len(gap_rows if only_gaps else rows) > PAGE_SIZE,
        "page_number": page_number,
        "q": q,
        "status": status,
        "gaps": only_gaps,
        "coverage_gaps": int((gap_page or {}).get("count") or 0),
        "gap_days": int((gap_page or {}).get("within_days") or 3),
        "statuses": STATUSES,
        "summary": summary,
        "missing_po": int(summary.get("assignments_missing_po") or 0),
        "by_status": summary.get("by_status") or {},
        "filters": {"gaps": "1"} if only_gaps else {"q": q, "status": status},
    }
    if request.headers.get("hx-request") == "true" and request.headers.get("hx-target") == "roster-results":
        return page(request, "contractors/_results.html", **context)
    return page(request, "contractors/list.html", **context)


def _assignment_view(a: dict[str, Any], coverage: dict[str, Any] | None) -> dict[str, Any]:
    job = a.get("job")
    entity = a.get("entity") or (job.get("entity") if isinstance(job, dict) else None)
    certificate = (coverage or {}).get("certificate") or None
    return {
        "id": pick(a, "id", "assignment_id"),
        "job_name": pick(a, "job_name", "job.name") or ref_name(job) or ref_id(job),
        "entity_name": pick(a, "entity_name", "entity.name") or ref_name(entity) or ref_id(entity),
        "effective_date": pick(a, "effective_date", "start_date"),
        "end_date": pick(a, "end_date"),
        "po_number": pick(a, "po_number", "purchase_order_number"),
        "po_contact_email": pick(a, "po_contact_email"),
        "campaign": pick(a, "campaign"),
        "status": pick(a, "status", default=""),
        "coverage": coverage,
        # policy's word when it has one, else the contractor service's read model
        "coverage_status": pick(coverage, "status") or pick(a, "coverage_status", default=""),
        # policy's bound types; before that, what the work state gets of what is asked for (the
        # opt-in form offers the same: no workers' comp in a monopolistic state)
        "coverage_types": pick(coverage, "coverage_types")
        or coverage_offered(pick(a, "coverage_types", "coverage_type") or [], pick(a, "work_state", "job.work_state")),
        "coverage_from": pick(coverage, "effective_date"),
        "coverage_to": pick(coverage, "end_date"),
        "certificate": certificate if isinstance(certificate, dict) else None,
    }


async def _required(coro: Any) -> tuple[Any, str | None]:
    return await coro, None


async def _optional(coro: Any) -> tuple[Any, str | None]:
    """A secondary panel: its failure is shown in place, the page still renders."""
    try:
        return await coro, None
    except ServiceError as e:
        if e.status_code == 404:
            return None, None
        return None, e.text
    except ServiceUnavailable as e:
        return None, f"The {e.service} service {e.reason}."


@get("/contractors/{contractor_id:str}", include_in_schema=False)
async def contractor_profile(request: Request[Any, Any, Any], contractor_id: FromPath[str]) -> Template:
    contractor_id = require_id(contractor_id, "cn", "contractor")
    gateway, user = gateway_of(request), user_of(request)
    svc, tenant = gateway.services, user.company_id
    contractor = await svc.contractor.get(f"/v1/contractors/{contractor_id}", tenant=tenant)
    (assignments, assignments_error), (coverages, coverage_error), (invitation, invitation_error) = await asyncio.gather(
        _optional(svc.contractor.get(f"/v1/contractors/{contractor_id}/assignments", tenant=tenant)),
        _optional(svc.policy.get("/v1/coverages", tenant=tenant, params={"contractor": contractor_id})),
        _optional(svc.enrollment.get("/v1/invitations/current", tenant=tenant, params={"contractor": contractor_id})),
    )
    by_assignment = {c.get("assignment_id"): c for c in items(coverages, "coverages")}
    views = [_assignment_view(a, by_assignment.get(pick(a, "id", "assignment_id"))) for a in items(assignments, "assignments")]
    return page(
        request,
        "contractors/profile.html",
        contractor=contractor,
        assignments=views,
        assignments_error=assignments_error,
        coverage_error=coverage_error,
        invitation=invitation,
        invitation_error=invitation_error,
        today=gateway.db.clock.today(),
    )


@post("/contractors/{contractor_id:str}/invitation/resend", include_in_schema=False)
async def resend_invitation(request: Request[Any, Any, Any], contractor_id: FromPath[str]) -> Response[Any]:
    contractor_id = require_id(contractor_id, "cn", "contractor")
    gateway, user = gateway_of(request), user_of(request)
    try:
        await gateway.services.enrollment.post(
            "/v1/invitations/reissue", tenant=user.company_id, json={"contractor": contractor_id}
        )
    except ServiceError as e:
        return redirect(f"/contractors/{contractor_id}", error=f"The invitation was not resent: {e.text}")
    return redirect(f"/contractors/{contractor_id}", notice="A new opt-in link was emailed; the previous link no longer works.")


async def _form(request: Request[Any, Any, Any]) -> dict[str, str]:
    form = await request.form()
    return {k: str(v) for k, v in form.items() if isinstance(v, str)}


def _back(form: dict[str, str]) -> str:
    contractor = form.get("contractor", "")
    return f"/contractors/{contractor}" if is_id(contractor, "cn") else "/contractors"


@post("/assignments/{assignment_id:str}/cancel", include_in_schema=False)
async def cancel_assignment(request: Request[Any, Any, Any], assignment_id: FromPath[str]) -> Response[Any]:
    assignment_id = require_id(assignment_id, "an", "assignment")
    gateway, user = gateway_of(request), user_of(request)
    form = await _form(request)
    reason = form.get("reason", "").strip() or "client_request"
    try:
        await gateway.services.contractor.post(
            f"/v1/assignments/{assignment_id}/cancel", tenant=user.company_id, json={"reason": reason}
        )
    except ServiceError as e:
        return redirect(_back(form), error=f"The assignment was not cancelled: {e.text}")
    return redirect(_back(form), notice="The assignment was cancelled.")


@post("/assignments/{assignment_id:str}/extend", include_in_schema=False)
async def extend_assignment(request: Request[Any, Any, Any], assignment_id: FromPath[str]) -> Response[Any]:
    assignment_id = require_id(assignment_id, "an", "assignment")
    gateway, user = gateway_of(request), user_of(request)
    form = await _form(request)
    try:
        end = date.fromisoformat(form.get("end_date", ""))
    except ValueError:
        return redirect(_back(form), error="Enter the new end date as YYYY-MM-DD.")
    try:
        await gateway.services.contractor.post(
            f"/v1/assignments/{assignment_id}/extend", tenant=user.company_id, json={"end_date": epoch(end)}
        )
    except ServiceError as e:
        return redirect(_back(form), error=f"The assignment was not extended: {e.text}")
    return redirect(_back(form), notice=f"The assignment now ends on {end.isoformat()}.")


@get("/certificates/{certificate_id:str}/download", include_in_schema=False)
async def download_certificate(request: Request[Any, Any, Any], certificate_id: FromPath[str]) -> Response[Any]:
    certificate_id = require_id(certificate_id, "coi", "certificate")
    gateway, user = gateway_of(request), user_of(request)
    return await relay_download(
        gateway.services.policy,
        f"/v1/certificates/{certificate_id}/pdf",
        tenant=user.company_id,
        filename=f"certificate-{certificate_id}.pdf",
        keep_service_filename=True,
    )
