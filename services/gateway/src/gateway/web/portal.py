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
- ``POST /portal/sign-out``: ends the session at enrollment and drops the cookie.
"""

from __future__ import annotations

import asyncio
import re
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
from .shapes import items, pick

__all__ = [
    "portal_certificate",
    "portal_form",
    "portal_home",
    "portal_request",
    "portal_sign_in",
    "portal_sign_in_page",
    "portal_sign_out",
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


async def _company_view(request: Request[Any, Any, Any], company: dict[str, Any]) -> dict[str, Any]:
    svc, tenant, contractor_id = gateway_of(request).services, str(company["tenant_id"]), str(company["contractor_id"])
    view: dict[str, Any] = {
        "tenant_id": tenant,
        "name": company.get("company_name") or "A company",
        "assignments": [],
        "error": None,
    }
    try:
        assignments, coverages = await asyncio.gather(
            svc.contractor.get(f"/v1/contractors/{contractor_id}/assignments", tenant=tenant),
            svc.policy.get("/v1/coverages", tenant=tenant, params={"contractor": contractor_id}),
        )
    except (ServiceError, ServiceUnavailable):
        view["error"] = "We could not load this company's assignments just now."
        return view
    by_assignment = {c.get("assignment_id"): c for c in items(coverages, "coverages")}
    view["assignments"] = [
        _assignment_view(a, by_assignment.get(pick(a, "id", "assignment_id"))) for a in items(assignments, "assignments")
    ]
    return view


@get("/portal/home", include_in_schema=False)
async def portal_home(request: Request[Any, Any, Any]) -> Template | Redirect:
    session = await _session(request)
    if session is None:
        return _signed_out()
    companies = [c for c in session.get("companies") or [] if isinstance(c, dict)]
    views = await asyncio.gather(*(_company_view(request, c) for c in companies))
    return page(request, "portal/home.html", email=session.get("email"), companies=views)


@get("/portal/certificates/{company_id:str}/{certificate_id:str}", include_in_schema=False)
async def portal_certificate(
    request: Request[Any, Any, Any], company_id: FromPath[str], certificate_id: FromPath[str]
) -> Response[Any] | Template | Redirect:
    session = await _session(request)
    if session is None:
        return _signed_out()
    mine = [c for c in session.get("companies") or [] if isinstance(c, dict) and c.get("tenant_id") == company_id]
    if not mine or not is_id(certificate_id, "coi"):
        return _message(request, "Not found", "There is no such certificate of yours.", status_code=404)
    policy = gateway_of(request).services.policy
    coverages = await policy.get("/v1/coverages", tenant=company_id, params={"contractor": mine[0]["contractor_id"]})
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
