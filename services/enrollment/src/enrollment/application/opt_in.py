"""The public opt-in form behind a link: what it shows (a read that changes nothing, since mail
scanners open links) and what submitting it does (once: a repeated submit changes nothing).

The token names the invitation and so the tenant; no tenant header is involved. A submit:
validates everything first (400 ``invalid_input`` with messages per field, nothing written),
then, in one transaction holding the invitation's row lock, opens the application session (or
takes the one an API caller created for this link), records the consent, prices each live
assignment, answers the invitation and emits ``ApplicationStartedV1`` followed by
``ApplicationCompletedV1`` (with one ``AssignmentQuote`` per coverable assignment) or
``ApplicationIneligibleV1`` (with the reasons).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import msgspec
from sqlalchemy import bindparam, select, update
from ten99_contracts import Address
from ten99_contracts.enrollment_v1 import (
    ApplicationCompletedV1,
    ApplicationIneligibleV1,
    ApplicationStartedV1,
    Consent,
)
from ten99kit import ApiError, Database, InvalidInput, UnitOfWork, new_ulid_id

from ..adapters import store
from ..adapters.db import application_sessions, companies, consents, invitations, quotes
from ..domain.eligibility import (
    CONSENT_TEXT,
    CONSENT_TEXT_VERSION,
    QUESTIONS,
    NotCoverable,
    age_on,
    evaluate_answers,
    phone_problem,
    signature_matches,
)
from ..domain.states import US_STATES
from ..domain.tokens import hash_token, looks_like_token
from .invitations import effective_status
from .quoting import assignment_quote, home_state_of, price_row, quote_row

__all__ = ["AddressInput", "ConsentInput", "OptInSubmission", "submit_opt_in", "view_opt_in"]

Row = Mapping[Any, Any]  # a RowMapping or a dict

_STATE_FOR_PAGE = {"pending": "open", "answered": "answered", "expired": "expired", "revoked": "revoked"}
_MESSAGES = {
    "expired": "This link has expired. Ask the company that sent it for a new one.",
    "revoked": "This link was replaced by a newer one. Please use the most recent email you received.",
    "answered": "You have already answered this invitation; nothing more is needed.",
}


class AddressInput(msgspec.Struct, kw_only=True):
    line1: str | None = None
    line2: str | None = None
    locality: str | None = None
    region: str | None = None
    postalcode: str | None = None
    country: str | None = None


class ConsentInput(msgspec.Struct, kw_only=True):
    agreed: bool | str | None = None
    signed_name: str | None = None


class OptInSubmission(msgspec.Struct, kw_only=True):
    """The form as the gateway posts it. Omitted details keep what the company entered."""

    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    address: AddressInput | None = None
    date_of_birth: date | None = None
    answers: dict[str, bool | str | None] = {}
    consent: ConsentInput | None = None
    #: the contractor's browser, as the gateway saw it (else taken from forwarding headers)
    ip_address: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True)
class ClientInfo:
    ip_address: str | None
    user_agent: str | None


# The opt-in's statements are built once: building and keying a statement costs about as much
# Python time as executing it.
_INVITATION_BY_TOKEN = select(invitations).where(invitations.c.token_hash == bindparam("token_hash"))
# for the submit: the invitation locked, with the open session an API caller may have created for it
_OPEN_SESSION_OF_INVITATION = (
    select(application_sessions.c.id)
    .where(
        application_sessions.c.tenant_id == invitations.c.tenant_id,
        application_sessions.c.invitation_id == invitations.c.id,
        application_sessions.c.status == "open",
    )
    .limit(1)
    .scalar_subquery()
)
_INVITATION_BY_TOKEN_LOCKED = (
    select(invitations, _OPEN_SESSION_OF_INVITATION.label("open_session_id"))
    .where(invitations.c.token_hash == bindparam("token_hash"))
    .with_for_update(of=invitations)
)
_INSERT_SESSION = application_sessions.insert()
_INSERT_CONSENT = consents.insert()
_INSERT_QUOTES = quotes.insert()
_COMPLETE_SESSION = (
    update(application_sessions)
    .where(application_sessions.c.id == bindparam("sid"), application_sessions.c.tenant_id == bindparam("tid"))
    .values(version=application_sessions.c.version + 1)
)
_ANSWER_INVITATION = (
    update(invitations)
    .where(invitations.c.id == bindparam("iid"), invitations.c.tenant_id == bindparam("tid"))
    .values(status="answered", next_reminder_at=None, version=invitations.c.version + 1)
)


async def _invitation_by_token(session: Any, token: str, *, lock: bool = False) -> Row:
    if not looks_like_token(token):
        raise ApiError("This link is not valid.", error_code="resource_not_found", status_code=404)
    q = _INVITATION_BY_TOKEN_LOCKED if lock else _INVITATION_BY_TOKEN
    invitation = (await session.execute(q, {"token_hash": hash_token(token)})).mappings().first()
    if invitation is None:
        raise ApiError("This link is not valid.", error_code="resource_not_found", status_code=404)
    return invitation


async def _company_name(session: Any, tenant_id: str) -> str | None:
    return (await session.execute(select(companies.c.name).where(companies.c.tenant_id == tenant_id))).scalar()


async def _closed_view(session: Any, invitation: Row, state: str) -> dict[str, Any]:
    """What a link that can no longer be answered shows: the state, never personal data."""
    view: dict[str, Any] = {
        "state": state,
        "message": _MESSAGES[state],
        "company_name": await _company_name(session, invitation["tenant_id"]),
        "expires_at": invitation["expires_at"].isoformat(),
        "prefill": None,
        "questions": [],
        "consent_text": None,
        "consent_version": None,
    }
    if state == "answered" and invitation["session_id"]:
        status = (
            await session.execute(
                select(application_sessions.c.status).where(
                    application_sessions.c.id == invitation["session_id"],
                    application_sessions.c.tenant_id == invitation["tenant_id"],
                )
            )
        ).scalar()
        view["outcome"] = "completed" if status == "complete" else status
        view["session_id"] = invitation["session_id"]
        view["answered_at"] = invitation["answered_at"].isoformat() if invitation["answered_at"] else None
    return view


def _prefill_assignment(assignment: Row, home_state: str | None, today: date) -> dict[str, Any]:
    priced = price_row(assignment, home_state, today)
    item: dict[str, Any] = {
        "assignment_id": assignment["assignment_id"],
        "job": assignment["job_name"],
        "job_description": assignment["job_description"],
        "entity": assignment["entity_name"],
        "effective_date": assignment["effective_date"].isoformat(),
        "end_date": assignment["end_date"].isoformat(),
        "work_state": assignment["job_work_state"] or home_state,
        "remote": assignment["job_work_state"] is None,
    }
    if isinstance(priced, NotCoverable):
        item.update(coverable=False, coverage_types=[], net_rate=None, notes=[priced.reason])
    else:
        item.update(
            coverable=True,
            coverage_types=priced.coverage_types,
            net_rate=priced.net_rate,
            gl_net_rate=priced.gl_net_rate,
            wc_net_rate=priced.wc_net_rate,
            notes=priced.notes,
        )
    return item


async def view_opt_in(db: Database, token: str) -> dict[str, Any]:
    """The form's content. A read only: opening a link changes nothing."""
    async with db.session() as s:
        invitation = await _invitation_by_token(s, token)
        now = db.clock.now()
        state = _STATE_FOR_PAGE[effective_status(invitation, now)]
        if state != "open":
            return await _closed_view(s, invitation, state)
        tenant_id = invitation["tenant_id"]
        contractor = await store.contractor(s, tenant_id, invitation["contractor_id"])
        live = await store.live_assignments_of_invitation(s, tenant_id, invitation["id"])
        company_name = await _company_name(s, tenant_id)
    assert contractor is not None
    home = home_state_of(contractor["address"])
    today = now.date()
    return {
        "state": "open",
        "message": None,
        "company_name": company_name,
        "expires_at": invitation["expires_at"].isoformat(),
        "prefill": {
            "first_name": contractor["first_name"],
            "last_name": contractor["last_name"],
            "email": contractor["email"],
            "phone": contractor["phone"],
            "address": contractor["address"],
            "assignments": [_prefill_assignment(a, home, today) for a in live],
        },
        "questions": [{"id": q.id, "text": q.text, "type": "boolean"} for q in QUESTIONS],
        "consent_text": CONSENT_TEXT,
        "consent_version": CONSENT_TEXT_VERSION,
    }


# -- submitting ------------------------------------------------------------------------------

_ZIP = re.compile(r"^\d{5}(-\d{4})?$")
_YES = {"yes", "true", "y", "1", "on"}
_NO = {"no", "false", "n", "0", "off"}


def _as_bool(value: bool | str | None) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    v = value.strip().lower()
    return True if v in _YES else False if v in _NO else None


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    return value or None


@dataclass(frozen=True)
class ConfirmedDetails:
    first_name: str
    last_name: str
    phone: str | None
    address: dict[str, Any]
    date_of_birth: date | None
    answers: dict[str, bool]
    signed_name: str


def _validate(form: OptInSubmission, contractor: Row, today: date) -> tuple[ConfirmedDetails, list[str]]:
    """Merge the form with the prefill and check it. Raises 400 with every field's problem."""
    errors: dict[str, str] = {}
    first = _clean(form.first_name) if form.first_name is not None else contractor["first_name"]
    last = _clean(form.last_name) if form.last_name is not None else contractor["last_name"]
    for key, value in (("first_name", first), ("last_name", last)):
        if not value:
            errors[key] = "Required."
        elif len(value) > 100:
            errors[key] = "At most 100 characters."
    phone = _clean(form.phone) if form.phone is not None else contractor["phone"]
    if phone and (problem := phone_problem(phone)):
        errors["phone"] = problem

    if form.address is not None:
        given = msgspec.structs.asdict(form.address)
        address = {k: _clean(v) for k, v in given.items()}
    else:
        address = dict(contractor["address"] or {})
    country = (address.get("country") or "US").upper()
    address["country"] = country
    for key in ("line1", "locality", "postalcode"):
        if not address.get(key):
            errors[f"address.{key}"] = "Required."
    if country == "US":
        region = (address.get("region") or "").upper()
        address["region"] = region
        if region not in US_STATES:
            errors["address.region"] = "Choose a U.S. state (two letters, e.g. CA)."
        postalcode = address.get("postalcode")
        if postalcode and not _ZIP.match(postalcode):
            errors["address.postalcode"] = "A ZIP code has 5 digits (or 5+4)."
    elif len(country) != 2 or not country.isalpha():
        errors["address.country"] = "A two-letter country code, e.g. US."
    if not address.get("region"):
        errors.setdefault("address.region", "Required.")

    reasons: list[str] = []
    dob = form.date_of_birth
    if dob is not None:
        if dob >= today:
            errors["date_of_birth"] = "A date of birth is in the past."
        elif age_on(dob, today) > 120:
            errors["date_of_birth"] = "Please check the year."
        elif age_on(dob, today) < 18:
            reasons.append("You must be at least 18 years old to be insured.")

    raw_answers: dict[str, bool | None] = {}
    for key, value in form.answers.items():
        parsed = _as_bool(value)
        if value is not None and parsed is None:
            errors[f"answers.{key}"] = "Answer yes or no."
        raw_answers[key] = parsed
    answer_errors, answer_reasons = evaluate_answers(raw_answers)
    for key, msg in answer_errors.items():
        errors.setdefault(key, msg)
    reasons.extend(r for r in answer_reasons if r not in reasons)

    consent = form.consent or ConsentInput()
    if _as_bool(consent.agreed) is not True:
        errors["consent.agreed"] = "You must agree to the terms to opt in."
    signed = _clean(consent.signed_name)
    if not signed:
        errors["consent.signed_name"] = "Type your full name to sign."
    elif first and last and not signature_matches(signed, first, last):
        errors["consent.signed_name"] = f"The signature must be your name as entered above ({first} {last})."
    if errors:
        raise InvalidInput(errors)
    assert first and last and signed
    details = ConfirmedDetails(
        first_name=first,
        last_name=last,
        phone=phone,
        address={k: address.get(k) for k in ("line1", "line2", "locality", "region", "postalcode", "country")},
        date_of_birth=dob,
        answers={k: bool(v) for k, v in raw_answers.items()},
        signed_name=signed,
    )
    return details, reasons


async def submit_opt_in(db: Database, token: str, form: OptInSubmission, client: ClientInfo) -> dict[str, Any]:
    async with db.uow() as uow:
        if not looks_like_token(token):
            raise ApiError("This link is not valid.", error_code="resource_not_found", status_code=404)
        # lock order everywhere: the contractor, then their invitation
        contractor = await store.contractor_of_invitation(uow.session, hash_token(token), lock=True)
        invitation = await _invitation_by_token(uow.session, token, lock=True)
        assert contractor is not None
        now = uow.clock.now()
        state = _STATE_FOR_PAGE[effective_status(invitation, now)]
        if state != "open":
            return await _closed_view(uow.session, invitation, state)
        details, reasons = _validate(form, contractor, now.date())
        result = await _answer(uow, invitation, contractor, details, reasons, client)
        await uow.commit()
    return result


async def _answer(
    uow: UnitOfWork, invitation: Row, contractor: Row, details: ConfirmedDetails, reasons: list[str], client: ClientInfo
) -> dict[str, Any]:
    now = uow.clock.now()
    tenant_id = invitation["tenant_id"]
    contractor_id = invitation["contractor_id"]
    # the open session an API caller created for this link, else one created complete below
    session_id = invitation["open_session_id"] or new_ulid_id("ias")
    consent = Consent(
        signed_name=details.signed_name,
        signed_at=now,
        text_version=CONSENT_TEXT_VERSION,
        ip_address=(client.ip_address or None) and client.ip_address[:64],
        user_agent=(client.user_agent or None) and client.user_agent[:1000],
    )
    await uow.session.execute(
        _INSERT_CONSENT,
        {
            "session_id": session_id,
            "tenant_id": tenant_id,
            "contractor_id": contractor_id,
            "signed_name": consent.signed_name,
            "signed_at": now,
            "text_version": CONSENT_TEXT_VERSION,
            "text": CONSENT_TEXT,
            "ip_address": consent.ip_address,
            "user_agent": consent.user_agent,
        },
    )
    # what the contractor confirmed is the newest we know of them (until the company edits again)
    await store.upsert_contractor(
        uow.session,
        {
            "tenant_id": tenant_id,
            "contractor_id": contractor_id,
            "first_name": details.first_name,
            "last_name": details.last_name,
            "email": contractor["email"],
            "phone": details.phone,
            "address": details.address,
            "company_name": contractor["company_name"],
            # never older than what we hold, so that the confirmed details take effect
            "observed_at": max(now, contractor["observed_at"]),
            "version": contractor["version"],
        },
    )
    uow.emit(
        ApplicationStartedV1(session_id=session_id, contractor_id=contractor_id, invitation_id=invitation["id"]),
        tenant_id=tenant_id,
        aggregate_id=session_id,
        aggregate_version=1,
    )

    quoted: list[dict[str, Any]] = []
    not_covered: list[dict[str, Any]] = []
    marks: list[tuple[str, str, str, str | None]] = []
    live = await store.live_assignments_of_invitation(uow.session, tenant_id, invitation["id"])
    if not reasons:
        home = home_state_of(details.address)
        for assignment in live:
            priced = price_row(assignment, home, now.date())
            if isinstance(priced, NotCoverable):
                not_covered.append(
                    {"assignment_id": assignment["assignment_id"], "job": assignment["job_name"], "reason": priced.reason}
                )
                marks.append((tenant_id, assignment["assignment_id"], "not_coverable", priced.reason))
                continue
            quote = quote_row(
                now,
                tenant_id=tenant_id,
                contractor_id=contractor_id,
                job_id=assignment["job_id"],
                assignment_id=assignment["assignment_id"],
                session_id=session_id,
                source="application",
                category_code=assignment["category_code"],
                priced=priced,
                accepted=True,
            )
            marks.append((tenant_id, assignment["assignment_id"], "quoted", quote["eligibility_message"]))
            quoted.append(
                {**quote, "job_name": assignment["job_name"], "entity_name": assignment["entity_name"], "notes": priced.notes}
            )
        if quoted:
            await uow.session.execute(_INSERT_QUOTES, [{c.name: q[c.name] for c in quotes.c} for q in quoted])
        await store.record_enrollment(uow.session, marks)
        if not quoted:
            reasons.append(
                "None of your assignments can be insured: " + " ".join(n["reason"] for n in not_covered)
                if not_covered
                else "There is no assignment to insure."
            )
    outcome = "ineligible" if reasons else "complete"
    completion = {
        "status": outcome,
        "step": "application_complete" if outcome == "complete" else "application_questions",
        "completed_at": now,
        "first_name": details.first_name,
        "last_name": details.last_name,
        "email": contractor["email"],
        "phone": details.phone,
        "address": details.address,
        "date_of_birth": details.date_of_birth,
        "answers": details.answers,
        "reasons": reasons or None,
        "quote_id": quoted[0]["id"] if quoted else None,
    }
    if invitation["open_session_id"]:
        await uow.session.execute(_COMPLETE_SESSION, {"sid": session_id, "tid": tenant_id, **completion})
    else:
        new_session = {
            "id": session_id,
            "tenant_id": tenant_id,
            "contractor_id": contractor_id,
            "invitation_id": invitation["id"],
            "is_general_opt_in": False,
            "general_opt_in_work_state": None,
            "success_url": None,
            "cancel_url": None,
            "created_at": now,
            "expired_at": None,
            "version": 1,
        }
        await uow.session.execute(_INSERT_SESSION, {**new_session, **completion})
    await uow.session.execute(
        _ANSWER_INVITATION, {"iid": invitation["id"], "tid": tenant_id, "answered_at": now, "session_id": session_id}
    )
    if reasons:
        left_out = {n["assignment_id"] for n in not_covered}
        await store.mark_assignments(
            uow.session, tenant_id, [a["assignment_id"] for a in live if a["assignment_id"] not in left_out], "ineligible"
        )
        uow.emit(
            ApplicationIneligibleV1(
                session_id=session_id, contractor_id=contractor_id, invitation_id=invitation["id"], reasons=reasons
            ),
            tenant_id=tenant_id,
            aggregate_id=session_id,
            aggregate_version=2,
        )
        return {
            "state": "ineligible",
            "outcome": "ineligible",
            "session_id": session_id,
            "message": "We cannot insure you online: " + " ".join(reasons),
            "reasons": reasons,
        }
    uow.emit(
        ApplicationCompletedV1(
            session_id=session_id,
            contractor_id=contractor_id,
            invitation_id=invitation["id"],
            first_name=details.first_name,
            last_name=details.last_name,
            email=contractor["email"],
            phone=details.phone,
            address=msgspec.convert(details.address, Address),
            date_of_birth=details.date_of_birth,
            consent=consent,
            assignments=[assignment_quote(q) for q in quoted],
        ),
        tenant_id=tenant_id,
        aggregate_id=session_id,
        aggregate_version=2,
    )
    return {
        "state": "completed",
        "outcome": "completed",
        "session_id": session_id,
        "message": "Thank you: you have opted in. Your certificate of insurance will arrive by email.",
        "quotes": [
            {
                "quote_id": q["id"],
                "assignment_id": q["assignment_id"],
                "job": q["job_name"],
                "entity": q["entity_name"],
                "coverage_types": q["coverage_types"],
                "effective_date": q["effective_date"].isoformat(),
                "end_date": q["end_date"].isoformat(),
                "net_rate": q["net_rate"],
                "gl_net_rate": q["gl_net_rate"],
                "wc_net_rate": q["wc_net_rate"],
                "notes": q["notes"],
            }
            for q in quoted
        ],
        "not_covered": not_covered,
    }
