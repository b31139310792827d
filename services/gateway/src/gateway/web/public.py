"""Public pages, no login: the contractor's opt-in form (proxied to enrollment), the signed
certificate download (proxied to policy) and the integrations' webhooks (proxied to contractor
with the company in the URL as tenant).

Opening the opt-in link changes nothing (mail scanners open links): GET only reads. Expired,
revoked, answered and unknown links get a friendly page, never an error dump. Tokens, certificate
and company ids and integration names are checked (`api.ids`) before anything is forwarded: a
malformed one is a 404.

An application session created through the API carries the caller's ``success_url`` and
``cancel_url`` (1099Policy's): enrollment names where the contractor goes next (``redirect_url``),
and the page sends them there with a 303: after opting in to the success URL; when ineligible, or
on a link that can no longer be answered, to the one enrollment names. Only an absolute ``http(s)``
URL of printable ASCII is followed; anything else shows the page as before.

The contractor may decline instead (``POST /opt-in/<token>/decline``: a reason, an optional note).
The same link then says when they declined and, while an assignment of it has not ended, offers a
button that reopens the form (``?reconsider=1``, a GET: it changes nothing until they submit);
after the assignment's end it says the answer can no longer be changed (a decline then is a 409)."""

from __future__ import annotations

import re
from typing import Any

from litestar import MediaType, Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from ten99_contracts.coverage import WORKERS_COMP, offers

from ..adapters.services import ServiceError, ServiceUnavailable
from ..api.ids import is_id, is_integration_provider, is_opt_in_token, is_signed_link_token
from ..application.accounts import get_company
from .common import client_ip, gateway_of, page, redirect
from .downloads import relay_download
from .shapes import items, pick
from .uploads import upload_own_certificate

__all__ = ["integration_webhook", "not_found", "opt_in_decline", "opt_in_form", "opt_in_submit", "public_certificate"]

STATE_PAGES = {
    "expired": ("This link has expired", "Your opt-in link is no longer valid. Ask the company that sent it for a new one."),
    "revoked": ("This link was replaced", "A newer opt-in link was sent to you by email. Please use the most recent email."),
    "answered": (
        "You have already opted in",
        "This link was already used to opt in. There is nothing more to do: your certificate comes by email.",
    ),
    "declined": (
        "You declined coverage",
        "You told us you do not want this coverage. The company has been told; no reminders will follow.",
    ),
    "ended": ("This can no longer be changed", "The assignment has ended: your answer can no longer be changed."),
    "invalid": (
        "This link is not valid",
        "Check that you copied the whole link from the email, or ask the company for a new one.",
    ),
    "unavailable": (
        "Please try again in a moment",
        "We could not open your form just now. Nothing was lost; please reload the page shortly.",
    ),
}

ADDRESS_FIELDS = ("line1", "line2", "locality", "region", "postalcode")
#: the reasons a contractor may give for declining (enrollment checks them too)
DECLINE_REASONS = (
    ("has_own_insurance", "I have my own insurance"),
    ("does_not_want", "I do not want this coverage"),
    ("other", "Other reason"),
)
DECLINE_NOTE_MAX = 500
#: a redirect target the page follows: absolute http(s), printable ASCII, no spaces, not too long
_REDIRECT_URL = re.compile(r"https?://[\x21-\x7e]{1,2040}")


def _redirect(answer: Any, *names: str) -> Redirect | None:
    """A 303 to the first of ``names`` the answer carries as a safe URL (the session's own)."""
    if not isinstance(answer, dict):
        return None
    for name in names:
        url = answer.get(name)
        if isinstance(url, str) and _REDIRECT_URL.fullmatch(url):
            return Redirect(url, status_code=303)
    return None


def _state_page(
    request: Request[Any, Any, Any], state: str, *, status_code: int = 200, company_name: str | None = None, **extra: Any
) -> Template:
    title, message = STATE_PAGES.get(state, STATE_PAGES["invalid"])
    context = {"title": title, "message": message, **extra}
    return page(request, "public/opt_in_state.html", status_code=status_code, state=state, company_name=company_name, **context)


def _questions(raw: Any) -> list[dict[str, Any]]:
    out = []
    for i, q in enumerate(items(raw, "questions")):
        options = []
        for o in q.get("options") or q.get("choices") or []:
            if isinstance(o, dict):
                options.append(
                    {
                        "value": str(o.get("value", o.get("id", ""))),
                        "label": str(o.get("label", o.get("text", o.get("value", "")))),
                    }
                )
            else:
                options.append({"value": str(o), "label": str(o)})
        out.append(
            {
                "key": str(pick(q, "id", "key", "name", default=f"q{i}")),
                "text": str(pick(q, "text", "label", "question", "prompt", default="")),
                "type": str(pick(q, "type", "kind", default="boolean")).lower(),
                "options": options,
            }
        )
    return out


def _values_from_prefill(prefill: dict[str, Any]) -> dict[str, str]:
    values = {k: str(prefill.get(k) or "") for k in ("first_name", "last_name", "email", "phone", "date_of_birth")}
    address = prefill.get("address") or {}
    for part in ADDRESS_FIELDS:
        values[f"address_{part}"] = str(address.get(part) or "") if isinstance(address, dict) else ""
    return values


def _form_page(
    request: Request[Any, Any, Any],
    token: str,
    info: dict[str, Any],
    values: dict[str, str],
    errors: dict[str, str],
    *,
    status_code: int = 200,
    decline_errors: dict[str, str] | None = None,
) -> Template:
    prefill = info.get("prefill") or {}
    assignments = items(prefill, "assignments") or items(info, "assignments")
    # the one rule of which coverage a state gets (ten99_contracts.coverage), as the profile shows it
    offers_wc = any(offers(a.get("work_state"), WORKERS_COMP) for a in assignments) if assignments else True
    return page(
        request,
        "public/opt_in_form.html",
        status_code=status_code,
        token=token,
        company_name=info.get("company_name"),
        assignments=assignments,
        questions=_questions(info.get("questions")),
        consent_text=info.get("consent_text"),
        offers_wc=offers_wc,
        values=values,
        errors=errors,
        # after a decline the form is reopened to opt in after all: no second decline offered
        reconsidering=info.get("state") == "declined",
        decline_reasons=DECLINE_REASONS,
        decline_note_max=DECLINE_NOTE_MAX,
        decline_errors=decline_errors or {},
    )


def _declined_page(request: Request[Any, Any, Any], token: str, info: dict[str, Any], *, status_code: int = 200) -> Template:
    """A declined link: when and why; the button to opt in after all, or that it cannot change now."""
    reasons = dict(DECLINE_REASONS)
    can_change = info.get("can_change") is True
    return _state_page(
        request,
        "declined",
        status_code=status_code,
        company_name=info.get("company_name"),
        token=token,
        declined_at=info.get("declined_at"),
        decline_reason=reasons.get(str(info.get("decline_reason")), ""),
        decline_note=info.get("decline_note"),
        can_change=can_change,
        changeable_until=info.get("changeable_until"),
    )


async def _fetch(
    request: Request[Any, Any, Any], token: str, *, reconsider: bool = False
) -> tuple[dict[str, Any] | None, Template | Redirect | None]:
    """The opt-in form's data, or the page to show instead (a declined link's form only when the
    contractor asked to reconsider and still can)."""
    if not is_opt_in_token(token):
        return None, _state_page(request, "invalid", status_code=404)
    try:
        info = await gateway_of(request).services.enrollment.get(f"/v1/opt-in/{token}", tenant=None)
    except ServiceError as e:
        state = {404: "invalid", 410: "expired"}.get(e.status_code, "invalid")
        if e.error_code in STATE_PAGES:
            state = e.error_code
        return None, _state_page(request, state, status_code=e.status_code if e.status_code in (404, 410) else 400)
    except ServiceUnavailable:
        return None, _state_page(request, "unavailable", status_code=503)
    if not isinstance(info, dict):
        return None, _state_page(request, "unavailable", status_code=503)
    state = str(info.get("state") or "open")
    if state == "declined":
        if reconsider and info.get("can_change") is True:
            return info, None
        # asking to reopen a link whose assignment has ended: refused, with the reason
        return None, _declined_page(request, token, info, status_code=409 if reconsider else 200)
    if state != "open" and (elsewhere := _redirect(info, "redirect_url")):
        return None, elsewhere
    if state != "open":
        return None, _state_page(
            request, state, status_code=410 if state in ("expired", "revoked") else 200, company_name=info.get("company_name")
        )
    return info, None


@get("/opt-in/{token:str}", include_in_schema=False)
async def opt_in_form(
    request: Request[Any, Any, Any], token: FromPath[str], reconsider: FromQuery[str] = ""
) -> Template | Redirect:
    info, other = await _fetch(request, token, reconsider=reconsider == "1")
    if other is not None:
        return other
    assert info is not None
    return _form_page(request, token, info, _values_from_prefill(info.get("prefill") or {}), {})


async def _form_again(
    request: Request[Any, Any, Any], token: str, values: dict[str, str], errors: dict[str, str]
) -> Template | Redirect:
    """The form once more, with the contractor's input and what needs fixing."""
    info, other = await _fetch(request, token, reconsider=True)
    if other is not None:
        return other
    assert info is not None
    values["email"] = str((info.get("prefill") or {}).get("email") or "")
    questions = _questions(info.get("questions"))
    for q in questions:
        name = f"q_{q['key']}"
        if q["type"] in ("boolean", "yes_no", "bool") and values.get(name) not in ("yes", "no"):
            errors.setdefault(name, "Answer yes or no")
    return _form_page(request, token, info, values, errors, status_code=400)


def _field_of(key: str) -> str:
    """Map a service's field name (``address.region``, ``answers.q1``) to the form's."""
    key = key.replace("[", ".").replace("]", "")
    if key.startswith("address."):
        return "address_" + key.split(".", 1)[1]
    if key.startswith("answers."):
        return "q_" + key.split(".", 1)[1]
    if key in ("consent.signed_name", "signature"):
        return "signed_name"
    if key in ("consent.agreed", "consent"):
        return "consent"
    return key


_REQUIRED = (
    "first_name",
    "last_name",
    "address_line1",
    "address_locality",
    "address_region",
    "address_postalcode",
    "signed_name",
)


def _form_errors(values: dict[str, str]) -> dict[str, str]:
    """What the form itself can tell is missing (enrollment checks the rest)."""
    errors = {name: "Required" for name in _REQUIRED if not values.get(name)}
    if values.get("consent") != "yes":
        errors["consent"] = "Tick the box to give your consent"
    return errors


def _submission(request: Request[Any, Any, Any], values: dict[str, str]) -> dict[str, Any]:
    """Enrollment's OptInSubmission from the form; the email is the company's and not editable here."""
    answers: dict[str, Any] = {}
    for name, raw in values.items():
        if name.startswith("q_"):
            answers[name[2:]] = True if raw == "yes" else False if raw == "no" else raw
    return {
        "first_name": values["first_name"],
        "last_name": values["last_name"],
        "phone": values.get("phone") or None,
        "date_of_birth": values.get("date_of_birth") or None,
        "address": {part: values.get(f"address_{part}") or None for part in ADDRESS_FIELDS} | {"country": "US"},
        "answers": answers,
        "consent": {"agreed": True, "signed_name": values["signed_name"]},
        "ip_address": client_ip(request),
        "user_agent": (request.headers.get("user-agent") or "")[:300] or None,
    }


def _forwarded_headers(body: dict[str, Any]) -> dict[str, str]:
    headers = {
        "User-Agent": body["user_agent"] or "",
        "X-Forwarded-User-Agent": body["user_agent"] or "",
        "X-Forwarded-For": body["ip_address"] or "",
    }
    return {k: v for k, v in headers.items() if v}


def _answer_page(request: Request[Any, Any, Any], answer: Any) -> Template | Redirect:
    """What the contractor sees after enrollment took the answer (or where the session sends them)."""
    answer = answer or {}
    state = str(answer.get("state") or "completed")
    names = {"completed": ("success_url", "redirect_url"), "ineligible": ("cancel_url", "redirect_url")}
    if elsewhere := _redirect(answer, *names.get(state, ("redirect_url",))):
        return elsewhere
    if state == "declined":  # an opt-in after the assignment's end: the decline stands
        return _declined_page(request, str(answer.get("token") or ""), answer, status_code=409)
    if state in ("expired", "revoked", "answered"):  # a repeated POST shows what the link is now
        status = 410 if state != "answered" else 200
        return _state_page(request, state, status_code=status, company_name=answer.get("company_name"))
    if state == "ineligible":
        return page(
            request,
            "public/opt_in_state.html",
            state="ineligible",
            title="We cannot offer coverage",
            message=str(
                answer.get("message")
                or "Based on your answers, we cannot offer you coverage for these assignments. The company has been told."
            ),
        )
    return page(
        request,
        "public/opt_in_state.html",
        state="done",
        title="Thank you: you have opted in",
        message=str(
            answer.get("message")
            or "Your coverage starts on the first day of each assignment. Your certificate of insurance comes by email."
        ),
        session_id=answer.get("session_id"),
        quotes=items(answer, "quotes"),
    )


@post("/opt-in/{token:str}", include_in_schema=False)
async def opt_in_submit(request: Request[Any, Any, Any], token: FromPath[str]) -> Template | Redirect:
    """Submit straight to enrollment (one call on the happy path, which a steady stream of opt-ins
    needs); the form's data is fetched only to show the form again with what needs fixing."""
    if not is_opt_in_token(token):
        return _state_page(request, "invalid", status_code=404)
    form = await request.form()
    values = {k: str(v).strip() for k, v in form.items() if isinstance(v, str)}
    values.pop("email", None)
    errors = _form_errors(values)
    if errors:
        return await _form_again(request, token, values, errors)
    body = _submission(request, values)
    try:
        answer = await gateway_of(request).services.enrollment.post(
            f"/v1/opt-in/{token}", tenant=None, json=body, headers=_forwarded_headers(body)
        )
    except ServiceError as e:
        if e.error_code in STATE_PAGES or e.status_code in (404, 410):
            state = e.error_code if e.error_code in STATE_PAGES else {404: "invalid"}.get(e.status_code, "expired")
            return _state_page(request, state, status_code=e.status_code)
        field_errors = {_field_of(k): v for k, v in e.field_errors.items()}
        return await _form_again(request, token, values, field_errors or {"form": e.text})
    except ServiceUnavailable:
        return _state_page(request, "unavailable", status_code=503)
    return _answer_page(request, answer)


def _decline_errors(values: dict[str, str]) -> dict[str, str]:
    errors = {}
    if values.get("reason") not in dict(DECLINE_REASONS):
        errors["reason"] = "Choose a reason"
    if len(values.get("note", "")) > DECLINE_NOTE_MAX:
        errors["note"] = f"At most {DECLINE_NOTE_MAX} characters"
    return errors


@post("/opt-in/{token:str}/certificate", include_in_schema=False)
async def opt_in_certificate(request: Request[Any, Any, Any], token: FromPath[str]) -> Template | Redirect:
    """A contractor with their own insurance uploads their certificate from the form: policy
    reviews it for all of their work with the company (docs/uploaded-certificates.md)."""
    if not is_opt_in_token(token):
        return _state_page(request, "invalid", status_code=404)
    info, other = await _fetch(request, token)
    if other is not None:
        return other
    assert info is not None
    company, contractor = info.get("company_id"), info.get("contractor_id")
    if not (is_id(company, "co") and is_id(contractor, "cn")):
        return _state_page(request, "unavailable", status_code=503)
    try:
        ok, message = await upload_own_certificate(request, str(company), str(contractor))
    except ServiceUnavailable:
        return _state_page(request, "unavailable", status_code=503)
    return redirect(f"/opt-in/{token}", **({"notice": message} if ok else {"error": message}))


@post("/opt-in/{token:str}/decline", include_in_schema=False)
async def opt_in_decline(request: Request[Any, Any, Any], token: FromPath[str]) -> Template | Redirect:
    """Decline coverage: the declined page, or the form again with what needs fixing (400)."""
    if not is_opt_in_token(token):
        return _state_page(request, "invalid", status_code=404)
    form = await request.form()
    values = {k: str(v).strip() for k, v in form.items() if isinstance(v, str) and k in ("reason", "note")}
    errors = _decline_errors(values)
    if not errors:
        body = {"reason": values["reason"], "note": values.get("note") or None}
        try:
            answer = await gateway_of(request).services.enrollment.post(f"/v1/opt-in/{token}/decline", tenant=None, json=body)
        except ServiceError as e:
            if e.error_code == "assignment_ended":
                return _state_page(request, "ended", status_code=409, message=e.text)
            if e.status_code in (404, 410):
                return _state_page(request, {404: "invalid"}.get(e.status_code, "expired"), status_code=e.status_code)
            errors = {_field_of(k): v for k, v in e.field_errors.items()} or {"reason": e.text}
        except ServiceUnavailable:
            return _state_page(request, "unavailable", status_code=503)
        else:
            if isinstance(answer, dict) and answer.get("state") == "declined":
                return _declined_page(request, token, answer)
            return _answer_page(request, answer)
    info, other = await _fetch(request, token)
    if other is not None:
        return other
    assert info is not None
    return _form_page(
        request, token, info, _values_from_prefill(info.get("prefill") or {}), {}, status_code=400, decline_errors=errors
    )


@get("/{unknown:path}", include_in_schema=False)
async def not_found(request: Request[Any, Any, Any], unknown: FromPath[str]) -> Template:
    """Any other page: a 404 page for people (the API and the service's own routes answer JSON)."""
    return page(
        request,
        "public/opt_in_state.html",
        status_code=404,
        state="not_found",
        title="Page not found",
        message="There is no page at this address. The dashboard starts at /contractors.",
    )


@get("/certificates/{name:str}", include_in_schema=False)
async def public_certificate(request: Request[Any, Any, Any], name: FromPath[str], token: FromQuery[str] = "") -> Response[Any]:
    """The signed link from the certificate email: ``/certificates/<id>.pdf?token=...``; an
    uploaded certificate's (``ci_``, its ``pdf_url``) has the same form."""
    certificate_id = name[:-4] if name.endswith(".pdf") else name
    uploaded = is_id(certificate_id, "ci")
    if not (uploaded or is_id(certificate_id, "coi")) or not is_signed_link_token(token):
        return _certificate_problem(request, 404)
    policy = gateway_of(request).services.policy
    try:
        return await relay_download(
            policy,
            f"/v1/public/{'uploads' if uploaded else 'certificates'}/{certificate_id}.pdf",
            tenant=None,
            params={"token": token},
            filename=f"certificate-{certificate_id}.pdf",
            inline=True,
        )
    except ServiceError as e:
        return _certificate_problem(request, e.status_code, e.error_code)
    except ServiceUnavailable:
        return _certificate_problem(request, 503)


def _certificate_problem(request: Request[Any, Any, Any], status_code: int, error_code: str = "") -> Template:
    if status_code == 503:
        title, message = "Please try again in a moment", "The certificate could not be fetched just now."
    elif status_code == 410 or "expired" in error_code:
        title, message = (
            "This link has expired",
            "Download links in emails last a limited time. Ask the company for the certificate, or use the latest email.",
        )
    else:
        title, message = "Certificate not found", "This link is not valid. Check that you copied the whole link from the email."
    return page(request, "public/opt_in_state.html", status_code=status_code, state="certificate", title=title, message=message)


@post("/integrations/{provider:str}/{company_id:str}", include_in_schema=False)
async def integration_webhook(
    request: Request[Any, Any, Any], provider: FromPath[str], company_id: FromPath[str]
) -> Response[Any]:
    """Forward a signed integration webhook as it came; the contractor service checks the signature."""
    gateway = gateway_of(request)
    if not is_integration_provider(provider):
        return Response(
            {"error_code": "resource_not_found", "message": "Unknown integration"}, status_code=404, media_type=MediaType.JSON
        )
    if not is_id(company_id, "co") or await get_company(gateway.db, company_id) is None:
        return Response(
            {"error_code": "no_tenant_found", "message": "Unknown company"}, status_code=404, media_type=MediaType.JSON
        )
    body = await request.body()
    headers = {"Content-Type": request.headers.get("content-type", "application/json")}
    signature = request.headers.get("x-ten99-signature")
    if signature:
        headers["X-Ten99-Signature"] = signature
    try:
        upstream = await gateway.services.contractor.request(
            "POST", f"/v1/integrations/{provider}/webhook", tenant=company_id, content=body, headers=headers
        )
    except ServiceUnavailable as e:
        return Response(
            {"error_code": "general_error", "message": f"The {e.service} service {e.reason}; retry later"},
            status_code=503,
            media_type=MediaType.JSON,
        )
    return Response(
        upstream.content,
        status_code=upstream.status_code,
        media_type=upstream.headers.get("content-type", MediaType.JSON),
    )
