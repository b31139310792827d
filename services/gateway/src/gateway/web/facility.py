"""The facility view (docs/facility-view.md): for one entity (an end client, a venue), the
contractors working there today or starting within 14 days, each with their coverage status and
their certificate's verification link, and nothing more about them.

- Dashboard (login): ``GET /facilities`` lists the company's entities; ``GET /facilities/<entity>``
  shows the entity's links and the view itself; ``POST /facilities/<entity>/links`` makes a link
  (its URL is shown this once: only its hash is kept); ``POST .../links/<id>/revoke`` revokes one.
- Public (no login): ``GET /facility/<token>``. The token's shape is checked before any lookup; a
  malformed, unknown, revoked or expired token, and an entity since deleted, get the same 404 page.
  The page is ``no-store``, ``noindex`` and sends no referrer (its URL is the credential).

The view is read live on each request: names and dates from the contractor service
(``/v1/entities/<id>/facility``, with the link's company as tenant), each assignment's coverage
status and verification id from the policy service (``/v1/verifications?assignment=...``). Only
the fields named here are copied into the page, whatever else an answer might carry. There is no
rate limiter in the gateway (as for ``/verify``): the token carries 256 random bits.
"""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from ..adapters.services import ServiceError, Services, ServiceUnavailable
from ..api.ids import is_id, require_id
from ..application.facility_links import (
    create_facility_link,
    list_facility_links,
    resolve_facility_link,
    revoke_facility_link,
)
from ..domain.accounts import AccountError
from .common import gateway_of, page, redirect, user_of
from .shapes import items, next_cursor
from .verify import VERIFICATION_ID

__all__ = [
    "create_link",
    "entity_facility",
    "facilities",
    "public_facility",
    "revoke_link",
]

#: an assignment starting within this many UTC days is "soon" (the contractor service's default too)
WITHIN_DAYS = 14
#: assignment ids per policy request (its limit)
POLICY_BATCH = 100
#: the expiries the dashboard offers, in days (None: until revoked)
EXPIRY_CHOICES = ((None, "Never (until revoked)"), (7, "In 7 days"), (30, "In 30 days"), (90, "In 90 days"), (365, "In a year"))

#: coverage status -> (label, badge); no coverage at all is ``None``
STATUSES: dict[str | None, tuple[str, str]] = {
    "active": ("Covered", "active"),
    "scheduled": ("Covered from {effective_date}", "scheduled"),
    "expired": ("Coverage ended", "expired"),
    "cancelled": ("Cancelled", "cancelled"),
    None: ("Not covered", "not_invited"),
}
#: an assignment covered by the contractor's own approved certificate instead of ten99 coverage
OWN_INSURANCE = ("Own insurance", "covered")

_PUBLIC_HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex", "Referrer-Policy": "no-referrer"}
NOT_FOUND = ("Link not found", "This facility link does not exist, was revoked or has expired. Ask the company for a new one.")
UNAVAILABLE = ("Please try again in a moment", "The list could not be fetched just now.")


# ------------------------------------------------------------------ the view, from two services


def _row(assignment: dict[str, Any], coverage: dict[str, Any] | None) -> dict[str, Any]:
    """One line of the view: the names, dates, status and verification link, nothing else."""
    status = (coverage or {}).get("status")
    label, badge = STATUSES.get(status if isinstance(status, str) else None, STATUSES[None])
    own = coverage is None and assignment.get("own_insurance") is True
    if own:
        label, badge = OWN_INSURANCE
    verification_id = (coverage or {}).get("verification_id")
    valid = isinstance(verification_id, str) and VERIFICATION_ID.fullmatch(verification_id) is not None
    return {
        "contractor_name": str(assignment.get("contractor_name") or ""),
        "job_name": str(assignment.get("job_name") or ""),
        "effective_date": assignment.get("effective_date"),
        "end_date": assignment.get("end_date"),
        "status": status if coverage else ("own_insurance" if own else "not_covered"),
        "status_label": label.format(effective_date=assignment.get("effective_date") or "its start"),
        "badge": badge,
        "verify_url": f"/verify/{verification_id}" if valid else None,
    }


async def _coverages(services: Services, tenant: str, assignment_ids: list[str]) -> dict[str, dict[str, Any]]:
    batches = [assignment_ids[i : i + POLICY_BATCH] for i in range(0, len(assignment_ids), POLICY_BATCH)]
    answers = await asyncio.gather(
        *(services.policy.get("/v1/verifications", tenant=tenant, params=[("assignment", a) for a in batch]) for batch in batches)
    )
    return {str(c.get("assignment_id")): c for answer in answers for c in items(answer)}


async def facility_view(services: Services, tenant: str, entity_id: str) -> dict[str, Any]:
    """The entity's view for the company ``tenant``; `ServiceError` 404 if it is not theirs."""
    roster = await services.contractor.get(
        f"/v1/entities/{entity_id}/facility", tenant=tenant, params={"within_days": WITHIN_DAYS}
    )
    assignments = items(roster, "assignments")
    ids = [str(a["assignment_id"]) for a in assignments if is_id(a.get("assignment_id"), "an")]
    coverages = await _coverages(services, tenant, ids) if ids else {}
    return {
        "entity_name": str(roster.get("entity_name") or ""),
        "first_day": roster.get("first_day"),
        "last_day": roster.get("last_day"),
        "truncated": bool(roster.get("truncated")),
        "rows": [_row(a, coverages.get(str(a.get("assignment_id")))) for a in assignments],
    }


# ------------------------------------------------------------------ dashboard


@get("/facilities", include_in_schema=False)
async def facilities(request: Request[Any, Any, Any], after: FromQuery[str | None] = None) -> Template:
    """The company's entities (100 a page), each linking to its facility view and links."""
    gateway, user = gateway_of(request), user_of(request)
    params = {"limit": 100, "starting_after": after if is_id(after, "en") else None}
    answer = await gateway.services.contractor.get("/v1/entities", tenant=user.company_id, params=params)
    entities = [{"id": e.get("id"), "name": e.get("name")} for e in items(answer) if is_id(e.get("id"), "en")]
    more = next_cursor(answer, entities)
    return page(request, "facilities/list.html", entities=entities, more=more)


async def _entity_page(request: Request[Any, Any, Any], entity_id: str, **extra: Any) -> Template:
    gateway, user = gateway_of(request), user_of(request)
    view = await facility_view(gateway.services, user.company_id, entity_id)  # 404 if not the company's
    links = await list_facility_links(gateway.db, user.company_id, entity_id)
    return page(
        request,
        "facilities/entity.html",
        entity_id=entity_id,
        view=view,
        links=links,
        expiry_choices=EXPIRY_CHOICES,
        public_url=gateway.settings.http.public_url.rstrip("/"),
        **extra,
    )


@get("/facilities/{entity_id:str}", include_in_schema=False)
async def entity_facility(request: Request[Any, Any, Any], entity_id: FromPath[str]) -> Template:
    return await _entity_page(request, require_id(entity_id, "en", "entity"))


def _expires_in_days(value: object) -> int | None:
    text = str(value or "").strip()
    if not text or text == "never":
        return None
    if not text.isdigit() or len(text) > 4:
        raise AccountError("Choose when the link expires", "expires_in_days")
    return int(text)


@post("/facilities/{entity_id:str}/links", include_in_schema=False)
async def create_link(request: Request[Any, Any, Any], entity_id: FromPath[str]) -> Response[Any]:
    """A new link to the entity, shown once; the entity must be the company's (the contractor
    service answers 404 for anyone else's, and nothing is stored)."""
    gateway, user = gateway_of(request), user_of(request)
    entity_id = require_id(entity_id, "en", "entity")
    form = await request.form()
    await gateway.services.contractor.get(f"/v1/entities/{entity_id}", tenant=user.company_id)
    try:
        new = await create_facility_link(
            gateway.db,
            company_id=user.company_id,
            entity_id=entity_id,
            created_by=user.email,
            expires_in_days=_expires_in_days(form.get("expires_in_days")),
        )
    except AccountError as e:
        return redirect(f"/facilities/{entity_id}", error=e.message)
    response = await _entity_page(request, entity_id, new_link=new)
    response.headers["Cache-Control"] = "no-store"
    return response


@post("/facilities/{entity_id:str}/links/{link_id:str}/revoke", include_in_schema=False)
async def revoke_link(request: Request[Any, Any, Any], entity_id: FromPath[str], link_id: FromPath[str]) -> Redirect:
    gateway, user = gateway_of(request), user_of(request)
    entity_id = require_id(entity_id, "en", "entity")
    back = f"/facilities/{entity_id}"
    if is_id(link_id, "fl") and await revoke_facility_link(
        gateway.db, company_id=user.company_id, entity_id=entity_id, link_id=link_id
    ):
        return redirect(back, notice="The link was revoked: it shows nothing from now on.")
    return redirect(back, error="No such active link.")


# ------------------------------------------------------------------ public


def _public(request: Request[Any, Any, Any], status_code: int, **context: Any) -> Template:
    if status_code != 200:
        title, message = NOT_FOUND if status_code == 404 else UNAVAILABLE
        context = {
            "view": None,
            "title": title,
            "message": message,
            "state": "not_found" if status_code == 404 else "unavailable",
        }
    shown = page(request, "public/facility.html", status_code=status_code, **context)
    shown.headers.update(_PUBLIC_HEADERS)
    return shown


@get("/facility/{token:str}", include_in_schema=False)
async def public_facility(request: Request[Any, Any, Any], token: FromPath[str]) -> Template:
    gateway = gateway_of(request)
    link = await resolve_facility_link(gateway.db, token)  # the token's shape is checked first
    if link is None:
        return _public(request, 404)
    try:
        view = await facility_view(gateway.services, link.tenant_id, link.entity_id)
    except ServiceError:
        return _public(request, 404)  # the entity was deleted
    except ServiceUnavailable:
        return _public(request, 503)
    title = f"Contractors at {view['entity_name']}"
    return _public(request, 200, view=view, title=title, company_name=link.company_name)
