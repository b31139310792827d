"""The contractor portal (issue 15): public pages, no dashboard login, no API key.

- ``GET/POST /portal``: the contractor enters their email; enrollment records the request and,
  if it knows the address, emails a sign-in link. The page answers the same either way.
- ``GET /portal/sign-in/<token>``: a page with a button (opening the link changes nothing: mail
  scanners open links); ``POST`` uses the link once (enrollment, `application.portal`) and sets the
  portal cookie: enrollment's session token (random, kept hashed there), HttpOnly, SameSite=Lax,
  Secure outside development (`cookies.secure_cookies`), 12 hours, path ``/portal``. It is not the
  dashboard's session cookie and opens nothing of the dashboard.
- ``GET /portal/home``: per company the email is known to, the contractor's assignments with
  coverage status and dates (contractor and policy services, with that company as tenant and the
  contractor id the session names) and their certificates.
- ``GET /portal/certificates/<company>/<coi>``: a certificate PDF, only one of the session's
  contractor's coverages in that company.
- ``POST /portal/companies/<company>/details``: the "Your details" form of one company (name,
  phone, mailing address, pre-filled from the contractor service with that company as tenant);
  enrollment checks the session, that the company has the contractor under its email, and the
  fields, and sends the correction to the company's records. The form carries a CSRF token
  derived from the portal cookie (an HMAC of it: another site can neither read nor forge it).
- ``POST /portal/companies/<company>/certificate``: a contractor with their own insurance uploads
  their certificate of insurance (PDF) for their work at that company; policy reviews it
  (docs/uploaded-certificates.md) and the page says the outcome. Same session and CSRF checks.
- ``POST /portal/companies/<company>/decline``: the contractor declines coverage at that company
  (a reason, an optional note), as on the opt-in page: enrollment declines their open invitation
  there (ApplicationDeclinedV1; the company's Contractors page then says Declined). The home page
  shows the decline per company (enrollment's ``coverage-answer``: when, why) and, while the
  assignment has not ended, a link to the opt-in page to opt in after all. Same session and CSRF
  checks.
- An assignment the contractor's own approved certificate covers (contractor's
  ``own_insurance_upload_id``) shows "Own insurance" rather than "Not covered yet".
- ``POST /portal/sign-out``: ends the session at enrollment and drops the cookie.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
from collections.abc import Callable
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.params import FromPath
from litestar.response import Redirect, Template

from ..adapters.services import ServiceError, ServiceUnavailable
from ..api.ids import is_id
from .common import client_ip, gateway_of, page
from .contractors import _assignment_view
from .downloads import relay_download
from .public import ADDRESS_FIELDS, DECLINE_NOTE_MAX, DECLINE_REASONS, _field_of
from .shapes import items, pick
from .uploads import upload_own_certificate

__all__ = [
    "portal_certificate",
    "portal_correct_details",
    "portal_decline",
    "portal_form",
    "portal_home",
    "portal_request",
    "portal_sign_in",
    "portal_sign_in_page",
    "portal_sign_out",
    "portal_upload_certificate",
]

PORTAL_COOKIE = "ten99_portal"
SESSION_SECONDS = 12 * 3600
_TOKEN = re.compile(r"[A-Za-z0-9_\-]{20,100}")
SENT = "If we know this address, we sent a sign-in link to it. It works once, for 15 minutes."


def _cookie(value: str, max_age: int) -> Cookie:
    return Cookie(key=PORTAL_COOKIE, value=value, max_age=max_age, path="/portal", httponly=True, samesite="lax")


def _message(request: Request[Any, Any, Any], title: str, message: str, *, status_code: int) -> Template:
    return page(request, "portal/message.html", title=title, message=message, status_code=status_code)


@get("/portal", include_in_schema=False)
async def portal_form(request: Request[Any, Any, Any]) -> Template | Redirect:
    """The email form; a browser still signed in goes to its home page."""
    if request.cookies.get(PORTAL_COOKIE) and await _session(request) is not None:
        return Redirect("/portal/home", status_code=303)
    return page(request, "portal/sign_in.html", email="", error=None)


@post("/portal", include_in_schema=False)
async def portal_request(request: Request[Any, Any, Any]) -> Template:
    form = await request.form()
    email = str(form.get("email") or "").strip()[:320]
    try:
        await gateway_of(request).services.enrollment.post(
            "/v1/portal/links", tenant=None, json={"email": email, "client": client_ip(request)}
        )
    except ServiceError as e:
        if e.status_code == 429:
            return page(request, "portal/sign_in.html", email=email, error=e.text, status_code=429)
        return page(request, "portal/sign_in.html", email=email, error=e.text, status_code=400)
    except ServiceUnavailable:
        return _message(request, "Please try again in a moment", "We could not send a link just now.", status_code=503)
    return _message(request, "Check your email", SENT, status_code=200)


@get("/portal/sign-in/{token:str}", include_in_schema=False)
async def portal_sign_in_page(request: Request[Any, Any, Any], token: FromPath[str]) -> Template:
    """Shows a button only: the link is used by the POST."""
    if not _TOKEN.fullmatch(token):
        return _message(request, "This link is not valid", "Ask for a new sign-in link.", status_code=404)
    return page(request, "portal/confirm.html", token=token)


@post("/portal/sign-in/{token:str}", include_in_schema=False)
async def portal_sign_in(request: Request[Any, Any, Any], token: FromPath[str]) -> Template | Redirect:
    if not _TOKEN.fullmatch(token):
        return _message(request, "This link is not valid", "Ask for a new sign-in link.", status_code=404)
    try:
        opened = await gateway_of(request).services.enrollment.post("/v1/portal/sessions", tenant=None, json={"token": token})
    except ServiceError:
        return _message(
            request,
            "This link can no longer be used",
            "Sign-in links work once, for 15 minutes. Ask for a new one.",
            status_code=410,
        )
    except ServiceUnavailable:
        return _message(request, "Please try again in a moment", "We could not sign you in just now.", status_code=503)
    session_token = str((opened or {}).get("session_token") or "")
    return Redirect("/portal/home", status_code=303, cookies=[_cookie(session_token, SESSION_SECONDS)])


async def _session(request: Request[Any, Any, Any]) -> dict[str, Any] | None:
    """The open portal session the cookie names, or None."""
    token = request.cookies.get(PORTAL_COOKIE) or ""
    if not _TOKEN.fullmatch(token):
        return None
    try:
        found = await gateway_of(request).services.enrollment.get(
            "/v1/portal/sessions/current", tenant=None, headers={"x-portal-session": token}
        )
    except ServiceError:
        return None
    return found if isinstance(found, dict) else None


def _signed_out() -> Redirect:
    return Redirect("/portal", status_code=303, cookies=[_cookie("", 0)])


def _csrf(session_token: str) -> str:
    """The details form's CSRF token: bound to the portal session, useless without its cookie."""
    return hmac.new(session_token.encode(), b"ten99 portal details form", hashlib.sha256).hexdigest()


def _details_values(contractor: Any) -> dict[str, str]:
    """The form's fields from the contractor service's record (never the email or tax id)."""
    record = contractor if isinstance(contractor, dict) else {}
    values = {k: str(record.get(k) or "") for k in ("first_name", "last_name", "phone")}
    found = record.get("address")
    address = found if isinstance(found, dict) else {}
    for part in ADDRESS_FIELDS:
        values[f"address_{part}"] = str(address.get(part) or "")
    values["address_country"] = str(address.get("country") or "US")
    return values


async def _company_view(request: Request[Any, Any, Any], company: dict[str, Any]) -> dict[str, Any]:
    svc, tenant, contractor_id = gateway_of(request).services, str(company["tenant_id"]), str(company["contractor_id"])
    view: dict[str, Any] = {
        "tenant_id": tenant,
        "name": company.get("company_name") or "A company",
        "assignments": [],
        "error": None,
        "details": None,
        "details_errors": {},
        "details_notice": None,
        "upload_notice": None,
        "upload_error": None,
        "answer": None,
        "decline_notice": None,
        "decline_errors": {},
        "decline_values": {},
    }
    try:
        assignments, coverages, contractor, view["answer"] = await asyncio.gather(
            svc.contractor.get(f"/v1/contractors/{contractor_id}/assignments", tenant=tenant),
            svc.policy.get("/v1/coverages", tenant=tenant, params={"contractor": contractor_id}),
            svc.contractor.get(f"/v1/contractors/{contractor_id}", tenant=tenant),
            _coverage_answer(request, tenant),
        )
    except (ServiceError, ServiceUnavailable):
        view["error"] = "We could not load this company's assignments just now."
        return view
    view["details"] = _details_values(contractor)
    by_assignment = {c.get("assignment_id"): c for c in items(coverages, "coverages")}
    view["assignments"] = [
        _portal_assignment(a, by_assignment.get(pick(a, "id", "assignment_id"))) for a in items(assignments, "assignments")
    ]
    return view


def _portal_assignment(assignment: dict[str, Any], coverage: dict[str, Any] | None) -> dict[str, Any]:
    """The dashboard's assignment view; work the contractor's own approved certificate covers
    (and ten99 does not) says so instead of a missing coverage."""
    view = _assignment_view(assignment, coverage)
    if coverage is None and pick(assignment, "own_insurance_upload_id") and view["status"] != "cancelled":
        view.update(coverage_status="own_insurance", coverage_types=[])
    return view


async def _coverage_answer(request: Request[Any, Any, Any], tenant: str) -> dict[str, Any] | None:
    """The contractor's answer to the company's invitation (enrollment), or None: the decline
    panel is left out rather than the company's assignments when it cannot be read."""
    try:
        found = await gateway_of(request).services.enrollment.get(
            f"/v1/portal/companies/{tenant}/coverage-answer",
            tenant=None,
            headers={"x-portal-session": request.cookies.get(PORTAL_COOKIE) or ""},
        )
    except (ServiceError, ServiceUnavailable):
        return None
    return found if isinstance(found, dict) else None


@get("/portal/home", include_in_schema=False)
async def portal_home(request: Request[Any, Any, Any]) -> Template | Redirect:
    session = await _session(request)
    if session is None:
        return _signed_out()
    return await _home(request, session)


async def _home(
    request: Request[Any, Any, Any], session: dict[str, Any], *, change: dict[str, Any] | None = None, status_code: int = 200
) -> Template:
    """The home page; ``change`` shows one company's details form as just submitted (its values,
    and its errors or its confirmation)."""
    companies = [c for c in session.get("companies") or [] if isinstance(c, dict)]
    views = await asyncio.gather(*(_company_view(request, c) for c in companies))
    for view in views:
        if change is not None and view["tenant_id"] == change["tenant_id"]:
            view.update({k: v for k, v in change.items() if k != "tenant_id"})
    csrf = _csrf(request.cookies.get(PORTAL_COOKIE) or "")
    return page(
        request,
        "portal/home.html",
        status_code=status_code,
        email=session.get("email"),
        companies=views,
        csrf=csrf,
        decline_reasons=DECLINE_REASONS,
        decline_note_max=DECLINE_NOTE_MAX,
    )


def _correction(values: dict[str, str]) -> dict[str, Any]:
    """Enrollment's DetailsInput from the form (the email is not a field: it signs them in)."""
    address = {part: values.get(f"address_{part}") or None for part in ADDRESS_FIELDS}
    return {
        "first_name": values.get("first_name", ""),
        "last_name": values.get("last_name", ""),
        "phone": values.get("phone") or None,
        "address": address | {"country": values.get("address_country") or "US"},
    }


def _session_company(session: dict[str, Any], company_id: str) -> dict[str, Any] | None:
    """The session's entry for ``company_id`` (its contractor id there), or None."""
    return next((c for c in session.get("companies") or [] if isinstance(c, dict) and c.get("tenant_id") == company_id), None)


async def _posted_for_company(
    request: Request[Any, Any, Any], company_id: str
) -> tuple[dict[str, Any], dict[str, Any]] | Template | Redirect:
    """A portal form's open session and its company ``company_id``, if the form's CSRF token
    matches the portal cookie; else the page to answer (signed out, 403 expired form, 404 not the
    contractor's company)."""
    session = await _session(request)
    if session is None:
        return _signed_out()
    form = await request.form()
    given, expected = form.get("_csrf"), _csrf(request.cookies.get(PORTAL_COOKIE) or "")
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), expected.encode()):
        return _message(request, "This form had expired", "Open your coverage page again and resend it.", status_code=403)
    company = _session_company(session, company_id)
    if company is None:
        return _message(request, "Not found", "You have no details at this company.", status_code=404)
    return session, company


async def _ask_enrollment(
    request: Request[Any, Any, Any],
    session: dict[str, Any],
    path: str,
    body: dict[str, Any],
    form_again: Callable[[dict[str, str]], dict[str, Any]],
    unavailable: str,
) -> Any:
    """POST a portal form's ``body`` to enrollment as the portal session; its answer, or the page to
    show instead: signed out (401), the home page with the form and what to fix (another 4xx,
    ``form_again(errors)``; an error without fields is the form's), or try-again (unavailable)."""
    try:
        return await gateway_of(request).services.enrollment.post(
            path, tenant=None, json=body, headers={"x-portal-session": request.cookies.get(PORTAL_COOKIE) or ""}
        )
    except ServiceError as e:
        if e.status_code == 401:
            return _signed_out()
        change = form_again(e.field_errors or {"form": e.text})
        return await _home(request, session, change=change, status_code=e.status_code)
    except ServiceUnavailable:
        return _message(request, "Please try again in a moment", unavailable, status_code=503)


@post("/portal/companies/{company_id:str}/details", include_in_schema=False)
async def portal_correct_details(request: Request[Any, Any, Any], company_id: FromPath[str]) -> Template | Redirect:
    checked = await _posted_for_company(request, company_id)
    if not isinstance(checked, tuple):
        return checked
    session, company = checked
    form = await request.form()
    values = {k: str(v).strip()[:300] for k, v in form.items() if isinstance(v, str) and k != "_csrf"}
    answer = await _ask_enrollment(
        request,
        session,
        f"/v1/portal/companies/{company_id}/details",
        _correction(values),
        lambda errors: {
            "tenant_id": company_id,
            "details": values,
            "details_errors": {_field_of(k): m for k, m in errors.items()},
        },
        "We could not send your details just now.",
    )
    if isinstance(answer, Template | Redirect):
        return answer
    name = company.get("company_name") or "The company"
    notice = (
        f"Sent: {name} now has your corrected details."
        if isinstance(answer, dict) and answer.get("changed")
        else f"{name} already has these details: nothing to change."
    )
    change = {"tenant_id": company_id, "details": _details_values(answer), "details_notice": notice}
    return await _home(request, session, change=change)


@post("/portal/companies/{company_id:str}/decline", include_in_schema=False)
async def portal_decline(request: Request[Any, Any, Any], company_id: FromPath[str]) -> Template | Redirect:
    """Decline coverage at one company (a reason, an optional note): enrollment checks both, as
    for the opt-in page's form; the home page then shows the decline, or the form with what to fix."""
    checked = await _posted_for_company(request, company_id)
    if not isinstance(checked, tuple):
        return checked
    session, company = checked
    form = await request.form()
    values = {k: str(form.get(k) or "").strip()[: DECLINE_NOTE_MAX + 100] for k in ("reason", "note")}
    answer = await _ask_enrollment(
        request,
        session,
        f"/v1/portal/companies/{company_id}/decline",
        {"reason": values["reason"], "note": values["note"] or None},
        lambda errors: {"tenant_id": company_id, "decline_values": values, "decline_errors": errors},
        "We could not send your answer just now.",
    )
    if isinstance(answer, Template | Redirect):
        return answer
    name = company.get("company_name") or "The company"
    notice = (
        f"You declined coverage. {name} is told, and no reminders follow."
        if isinstance(answer, dict) and answer.get("changed")
        else "You had already declined coverage: nothing changed."
    )
    return await _home(request, session, change={"tenant_id": company_id, "decline_notice": notice})


@get("/portal/certificates/{company_id:str}/{certificate_id:str}", include_in_schema=False)
async def portal_certificate(
    request: Request[Any, Any, Any], company_id: FromPath[str], certificate_id: FromPath[str]
) -> Response[Any] | Template | Redirect:
    session = await _session(request)
    if session is None:
        return _signed_out()
    mine = _session_company(session, company_id)
    if mine is None or not is_id(certificate_id, "coi"):
        return _message(request, "Not found", "There is no such certificate of yours.", status_code=404)
    policy = gateway_of(request).services.policy
    coverages = await policy.get("/v1/coverages", tenant=company_id, params={"contractor": mine["contractor_id"]})
    owned = {pick(c, "certificate.certificate_id") for c in items(coverages, "coverages")}
    if certificate_id not in owned:
        return _message(request, "Not found", "There is no such certificate of yours.", status_code=404)
    return await relay_download(
        policy,
        f"/v1/certificates/{certificate_id}/pdf",
        tenant=company_id,
        filename=f"certificate-{certificate_id}.pdf",
        keep_service_filename=True,
    )


@post("/portal/companies/{company_id:str}/certificate", include_in_schema=False)
async def portal_upload_certificate(request: Request[Any, Any, Any], company_id: FromPath[str]) -> Template | Redirect:
    """The contractor's own certificate of insurance for their work at one company, reviewed by policy."""
    checked = await _posted_for_company(request, company_id)
    if not isinstance(checked, tuple):
        return checked
    session, company = checked
    if not is_id(company.get("contractor_id"), "cn"):
        return _message(request, "Not found", "You have no details at this company.", status_code=404)
    try:
        ok, message = await upload_own_certificate(request, company_id, str(company["contractor_id"]))
    except ServiceUnavailable:
        return _message(request, "Please try again in a moment", "We could not send your certificate just now.", status_code=503)
    change = {"tenant_id": company_id, "upload_notice" if ok else "upload_error": message}
    return await _home(request, session, change=change, status_code=200 if ok else 400)


@post("/portal/sign-out", include_in_schema=False)
async def portal_sign_out(request: Request[Any, Any, Any]) -> Redirect:
    """Ends the session at enrollment too (a copied cookie stops working), then drops the cookie."""
    token = request.cookies.get(PORTAL_COOKIE) or ""
    if _TOKEN.fullmatch(token):
        try:
            await gateway_of(request).services.enrollment.post(
                "/v1/portal/sessions/current/end", tenant=None, headers={"x-portal-session": token}
            )
        except (ServiceError, ServiceUnavailable):
            pass  # the cookie is dropped anyway; the session then ends with its 12 hours
    return _signed_out()
