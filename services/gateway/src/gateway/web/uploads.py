"""A contractor's own certificates of insurance in the dashboard (docs/uploaded-certificates.md):
the company uploads one from the contractor's profile (for one assignment or all their work),
sees every upload with its review (a contractor's, or the company's on ``/uploads``, flagged ones
first), downloads the file, and approves or denies a flagged one.
Policy reviews and decides (``/v1/uploads``); these pages only relay."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from ..adapters.services import ServiceError, ServiceUnavailable
from ..api.ids import is_id, require_id
from .actors import act_as_contractor
from .common import gateway_of, page, redirect, user_of
from .downloads import relay_download
from .shapes import has_more, items

__all__ = [
    "company_uploads",
    "contractor_uploads",
    "decide_upload",
    "download_upload",
    "send_certificate",
    "upload_certificate",
    "upload_own_certificate",
]

#: the company-wide page's filters (policy's upload statuses; "all" for every one)
UPLOAD_FILTERS = ("flagged", "approved", "denied", "error", "all")
PAGE_SIZE = 50

#: what each review outcome says to the person who uploaded
OUTCOMES = {
    "approved": "The certificate was approved: its assignments are covered by the contractor's own insurance.",
    "flagged": "The certificate was flagged: some checks failed. Approve or deny it below.",
    "denied": "The certificate was denied: it does not meet the requirements.",
    "error": "The certificate could not be read. Ask the contractor for another PDF.",
}


@get("/contractors/{contractor_id:str}/certificates", include_in_schema=False)
async def contractor_uploads(request: Request[Any, Any, Any], contractor_id: FromPath[str]) -> Template:
    contractor_id = require_id(contractor_id, "cn", "contractor")
    gateway, user = gateway_of(request), user_of(request)
    contractor = await gateway.services.contractor.get(f"/v1/contractors/{contractor_id}", tenant=user.company_id)
    answer = await gateway.services.policy.get(
        "/v1/uploads", tenant=user.company_id, params={"contractor": contractor_id, "limit": 100}
    )
    return page(request, "uploads/index.html", contractor=contractor, uploads=items(answer, "data"))


@get("/uploads", include_in_schema=False)
async def company_uploads(
    request: Request[Any, Any, Any], status: FromQuery[str] = "flagged", starting_after: FromQuery[str | None] = None
) -> Template:
    """Every contractor's uploaded certificates, newest first: by default the flagged ones, which
    wait for a person's decision (an upload from the opt-in page or the portal lands here)."""
    status = status if status in UPLOAD_FILTERS else "flagged"
    gateway, user = gateway_of(request), user_of(request)
    params: dict[str, Any] = {"limit": PAGE_SIZE} | ({} if status == "all" else {"status": status})
    if is_id(starting_after, "ci"):
        params["starting_after"] = starting_after
    answer = await gateway.services.policy.get("/v1/uploads", tenant=user.company_id, params=params)
    uploads = items(answer, "data")
    names = await _contractor_names(request, user.company_id, {str(u.get("contractor")) for u in uploads})
    return page(request, "uploads/company.html", uploads=uploads, names=names, status=status, has_more=has_more(answer))


async def _contractor_names(request: Request[Any, Any, Any], company_id: str, ids: set[str]) -> dict[str, str]:
    """Each contractor's name, in one read of the company's contractors by id (a page holds at most
    `PAGE_SIZE`, within the contractor service's 100); one that cannot be read shows its id."""
    wanted = sorted(i for i in ids if is_id(i, "cn"))
    if not wanted:
        return {}
    try:
        answer = await gateway_of(request).services.contractor.get(
            "/v1/contractors", tenant=company_id, params={"ids": ",".join(wanted), "limit": len(wanted)}
        )
    except (ServiceError, ServiceUnavailable):
        return {}
    return {
        str(c["id"]): f"{c.get('first_name', '')} {c.get('last_name', '')}".strip()
        for c in items(answer, "data")
        if c.get("id") in wanted
    }


async def send_certificate(
    request: Request[Any, Any, Any], company: str, contractor: str, upload: UploadFile, **data: str
) -> Any:
    """One certificate PDF to policy's review (``/v1/uploads``) for ``contractor`` at ``company``
    (``assignment=`` for one assignment, else all their work); policy's answer. Raises
    `ServiceError` when policy refuses it, `ServiceUnavailable` when policy does not answer."""
    gateway = gateway_of(request)
    return await gateway.services.policy.post(
        "/v1/uploads",
        tenant=company,
        files={"certificate": (upload.filename, await upload.read(), "application/pdf")},
        data={"contractor": contractor, **data},
        timeout=gateway.services.upload_timeout_s,
    )


@post("/contractors/{contractor_id:str}/certificates", include_in_schema=False)
async def upload_certificate(request: Request[Any, Any, Any], contractor_id: FromPath[str]) -> Response[Any]:
    contractor_id = require_id(contractor_id, "cn", "contractor")
    user = user_of(request)
    back = f"/contractors/{contractor_id}/certificates"
    form = await request.form()
    upload = form.get("certificate")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return redirect(back, error="Choose the certificate PDF to upload.")
    assignment = str(form.get("assignment") or "")
    try:
        answer = await send_certificate(
            request, user.company_id, contractor_id, upload, **({"assignment": assignment} if is_id(assignment, "an") else {})
        )
    except ServiceError as e:
        return redirect(back, error=f"The certificate was not accepted: {e.text}")
    status = str(answer.get("status") or "")
    return redirect(back, notice=OUTCOMES.get(status, "The certificate was uploaded."))


#: what a contractor is told of their own certificate's review
CERTIFICATE_OUTCOMES = {
    "approved": "Thank you: your certificate was approved. Your own insurance covers this work; you need not opt in.",
    "flagged": "Thank you: your certificate needs a check by the company. They will decide; you may still opt in.",
    "denied": "Your certificate does not meet the requirements of this work. You may opt in instead.",
    "error": "Your certificate could not be read. Upload another PDF, or opt in instead.",
    "": "Your certificate was received.",
}


async def upload_own_certificate(request: Request[Any, Any, Any], company: str, contractor: str) -> tuple[bool, str]:
    """The contractor's own certificate (the form's ``certificate`` file; the opt-in page and the
    portal) to policy's review for all of their work at ``company``, as that contractor: (accepted,
    what to tell them). Raises `ServiceUnavailable` when policy does not answer."""
    upload = (await request.form()).get("certificate")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return False, "Choose your certificate (PDF) to upload."
    act_as_contractor(contractor)
    try:
        answer = await send_certificate(request, company, contractor, upload)
    except ServiceError as e:
        return False, f"Your certificate was not accepted: {e.text}"
    status = str(answer.get("status")) if isinstance(answer, dict) else ""
    return True, CERTIFICATE_OUTCOMES.get(status, CERTIFICATE_OUTCOMES[""])


@post("/uploads/{upload_id:str}/decision", include_in_schema=False)
async def decide_upload(request: Request[Any, Any, Any], upload_id: FromPath[str]) -> Response[Any]:
    upload_id = require_id(upload_id, "ci", "certificate")
    gateway, user = gateway_of(request), user_of(request)
    form = await request.form()
    contractor = str(form.get("contractor") or "")
    back = f"/contractors/{contractor}/certificates" if is_id(contractor, "cn") else "/uploads"
    if form.get("back") == "uploads":
        back = "/uploads"
    decision = str(form.get("decision") or "")
    if decision not in ("approve", "deny"):
        return redirect(back, error="Choose approve or deny.")
    try:
        await gateway.services.policy.post(
            f"/v1/uploads/{upload_id}/decision",
            tenant=user.company_id,
            json={"decision": decision, "decided_by": user.email},
        )
    except ServiceError as e:
        return redirect(back, error=f"The decision was not recorded: {e.text}")
    return redirect(back, notice="Approved: the contractor's own insurance covers it." if decision == "approve" else "Denied.")


@get("/uploads/{upload_id:str}/download", include_in_schema=False)
async def download_upload(request: Request[Any, Any, Any], upload_id: FromPath[str]) -> Response[Any]:
    upload_id = require_id(upload_id, "ci", "certificate")
    user = user_of(request)
    return await relay_download(
        gateway_of(request).services.policy, f"/v1/uploads/{upload_id}/pdf", tenant=user.company_id, filename=f"{upload_id}.pdf"
    )
