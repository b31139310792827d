"""The public verification page of a certificate, no login: ``/verify/<verification id>``, the
URL printed (with its QR code) on every Certificate of Insurance (docs/certificates.md).

The id is checked for its shape before anything is forwarded; an unknown id and a malformed one
get the same 404 page, so the answer tells nothing about
which ids exist. The policy service answers the view (``GET /v1/verifications/<id>``, no tenant:
the id is the key) with the status of the day; the page shows only the fields named in `SHOWN`,
whatever else an answer might carry. ``Accept: application/json`` gets the same fields as JSON.
Nothing is cached: the status is live.

The gateway has no request rate limiter today; guessing is not a threat here (160-bit ids), but
a flood of lookups is served like any other public page.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import MediaType, Request, Response, get
from litestar.params import FromPath

from ..adapters.services import ServiceError, ServiceUnavailable
from .common import gateway_of, page

__all__ = ["SHOWN", "verify_certificate"]

#: ``vrf_`` and 27 base64url characters: the policy service's ``new_verification_id``
VERIFICATION_ID = re.compile(r"vrf_[A-Za-z0-9_-]{27}")

#: what the page (and its JSON) shows: no address, tax id, pay, premium or email
SHOWN = (
    "verification_id",
    "status",
    "status_on",
    "certificate_number",
    "issued_on",
    "insured_name",
    "holder_name",
    "coverage_types",
    "coverages",
    "effective_date",
    "end_date",
    "superseded_by",
)

STATUSES = {
    "scheduled": ("Scheduled", "scheduled", "The coverage is bound and starts on {effective_date}."),
    "active": ("Active", "active", "The coverage is in force today; it runs through {end_date}."),
    "expired": ("Expired", "expired", "The coverage ended on {end_date}."),
    "cancelled": ("Cancelled", "cancelled", "The coverage was cancelled: this certificate is no longer proof of insurance."),
    "superseded": (
        "Superseded",
        "expired",
        "A newer certificate replaced this one (new dates for the same coverage): check the newer one.",
    ),
}

NOT_FOUND = (
    "Certificate not found",
    "No certificate matches this address. Check that the whole address from the certificate was typed or scanned.",
)
UNAVAILABLE = ("Please try again in a moment", "The certificate's status could not be fetched just now.")

_HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}


def _wants_json(request: Request[Any, Any, Any]) -> bool:
    return request.accept.best_match([MediaType.HTML, MediaType.JSON], default=MediaType.HTML) == MediaType.JSON


def _problem(request: Request[Any, Any, Any], status_code: int) -> Response[Any]:
    title, message = NOT_FOUND if status_code == 404 else UNAVAILABLE
    if _wants_json(request):
        error_code = "resource_not_found" if status_code == 404 else "general_error"
        body = {"error_code": error_code, "message": message}
        return Response(body, status_code=status_code, media_type=MediaType.JSON, headers=_HEADERS)
    state = "not_found" if status_code == 404 else "unavailable"
    answer = page(request, "public/verify.html", status_code=status_code, view=None, state=state, title=title, message=message)
    answer.headers.update(_HEADERS)
    return answer


def _shown(answer: Any) -> dict[str, Any] | None:
    """The fields the page shows, if the answer is a view with a known status."""
    if not isinstance(answer, dict) or answer.get("status") not in STATUSES:
        return None
    return {name: answer.get(name) for name in SHOWN}


@get("/verify/{verification_id:str}", include_in_schema=False)
async def verify_certificate(request: Request[Any, Any, Any], verification_id: FromPath[str]) -> Response[Any]:
    if VERIFICATION_ID.fullmatch(verification_id) is None:
        return _problem(request, 404)
    try:
        answer = await gateway_of(request).services.policy.get(f"/v1/verifications/{verification_id}", tenant=None)
    except ServiceError:
        return _problem(request, 404)
    except ServiceUnavailable:
        return _problem(request, 503)
    view = _shown(answer)
    if view is None:
        return _problem(request, 503)
    if _wants_json(request):
        return Response(view, media_type=MediaType.JSON, headers=_HEADERS)
    label, badge, explanation = STATUSES[view["status"]]
    shown = page(
        request,
        "public/verify.html",
        title=f"Certificate {view['certificate_number']}: {label.lower()}",
        view=view,
        badge=badge,
        status_label=label,
        explanation=explanation.format(**view),
    )
    shown.headers.update(_HEADERS)
    return shown
