"""The public opt-in form behind a link: what it shows (a read that changes nothing, since mail
scanners open links) and what submitting it does (once: a repeated submit changes nothing).

The token names the invitation and so the tenant; no tenant header is involved. A submit:
validates everything first (`opt_in_form`: 400 ``invalid_input`` with messages per field,
nothing written), then, in one transaction holding the invitation's row lock, opens the
application session (or takes the one an API caller created for this link), records the consent,
prices each live assignment, answers the invitation and emits ``ApplicationStartedV1`` followed
by ``ApplicationCompletedV1`` (with one ``AssignmentQuote`` per coverable assignment) or
``ApplicationIneligibleV1`` (with the reasons).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

import msgspec
from msgspec import UNSET, UnsetType
from sqlalchemy import bindparam, select, update
from ten99_contracts import Address, AssignmentRefusal, actor_of
from ten99_contracts.common import AddressInput
from ten99_contracts.enrollment_v1 import (
    ApplicationCompletedV1,
    ApplicationIneligibleV1,
    ApplicationStartedV1,
    Consent,
)
from ten99kit import ApiError, Database, UnitOfWork, new_ulid_id
from ten99kit.db import Row
from ten99kit.logging import bind_actor

from ..adapters import store
from ..adapters.db import application_sessions, companies, consents, invitations, quotes
from ..adapters.store import EnrollmentMark
from ..domain.eligibility import CONSENT_TEXT, CONSENT_TEXT_VERSION, QUESTIONS, NotCoverable
from ..domain.tokens import hash_token, looks_like_token
from .declines import DeclineSubmission, changeable_until, check_decline, decline_once
from .invitations import effective_status
from .opened_sessions import Opened, latest_session_of_invitation, open_session_of_invitation, opened
from .opt_in_form import ClientInfo, ConfirmedDetails, OptInSubmission, check_submission
from .quoting import accepted_quote, assignment_quote, home_state_of, price_row, quoted_coverage

__all__ = [
    "ClientInfo",
    "OptInCompleted",
    "OptInIneligible",
    "OptInPage",
    "OptInSubmission",
    "decline_opt_in",
    "submit_opt_in",
    "view_opt_in",
]

_STATE_FOR_PAGE = {
    "pending": "open",
    "answered": "answered",
    "expired": "expired",
    "revoked": "revoked",
    "declined": "declined",
}
_MESSAGES = {
    "expired": "This link has expired. Ask the company that sent it for a new one.",
    "revoked": "This link was replaced by a newer one. Please use the most recent email you received.",
    "answered": "You have already answered this invitation; nothing more is needed.",
}
_NOT_VALID = "This link is not valid."


# -- what the form shows and answers ---------------------------------------------------------


class QuestionView(msgspec.Struct, kw_only=True):
    id: str
    text: str
    type: Literal["boolean"] = "boolean"


class PrefillAssignment(msgspec.Struct, kw_only=True):
    """An assignment the link asks about, priced as it stands (ISO dates); a coverable one has
    its GL and WC rates, one that is not has ``coverable`` false and the reason in ``notes``."""

    assignment_id: str
    job: str
    job_description: str
    entity: str
    effective_date: str
    end_date: str
    #: the job's work state; the home state for remote work
    work_state: str | None
    remote: bool
    coverable: bool
    coverage_types: list[str]
    net_rate: int | None
    gl_net_rate: int | UnsetType = UNSET
    wc_net_rate: int | UnsetType = UNSET
    notes: list[str]


class Prefill(msgspec.Struct, kw_only=True):
    """What the company entered about the contractor, for the form to show."""

    first_name: str
    last_name: str
    email: str
    phone: str | None
    address: AddressInput | None
    assignments: list[PrefillAssignment]


class QuotedAssignment(msgspec.Struct, kw_only=True):
    """A quote of the application: one per coverable assignment, and the quote the session was
    opened from (``assignment_id`` null when it is for a job alone), bound as priced."""

    quote_id: str
    assignment_id: str | None
    job: str
    entity: str
    coverage_types: list[str]
    effective_date: str
    end_date: str
    net_rate: int
    gl_net_rate: int
    wc_net_rate: int
    notes: list[str]


class OptInPage(msgspec.Struct, kw_only=True):
    """The form's content (``state`` open), or what a link that can no longer be answered shows
    (``expired`` | ``revoked`` | ``answered``: no personal data; an answered one says how)."""

    state: str
    message: str | None
    company_name: str | None
    expires_at: str
    prefill: Prefill | None
    questions: list[QuestionView]
    consent_text: str | None
    consent_version: str | None
    #: an answered link's: completed | ineligible
    outcome: str | UnsetType | None = UNSET
    session_id: str | UnsetType = UNSET
    answered_at: str | UnsetType | None = UNSET
    #: the quote the application binds as priced (an open link whose session an API caller
    #: opened from a quote), shown beside the assignments
    quote: QuotedAssignment | None = None
    #: where the API caller wants the contractor sent: ``success_url`` after completing,
    #: ``cancel_url`` if ineligible, abandoning or expired (1099Policy's session URLs)
    success_url: str | None = None
    cancel_url: str | None = None
    #: for a link that can no longer be answered: where to send the contractor now (the
    #: ``success_url`` of a completed application, else the ``cancel_url``), if the caller gave one
    redirect_url: str | None = None
    #: a declined link (``state`` declined): when and why; ``can_change`` while an assignment of
    #: the link has not ended (until ``changeable_until``), and then the form's content as well
    declined_at: str | None = None
    decline_reason: str | None = None
    decline_note: str | None = None
    can_change: bool | None = None
    changeable_until: str | None = None
    #: an open link's company and contractor, for the gateway only (a contractor with their own
    #: insurance uploads their certificate to policy from the form; docs/uploaded-certificates.md)
    company_id: str | None = None
    contractor_id: str | None = None


class NotCovered(msgspec.Struct, kw_only=True):
    assignment_id: str
    job: str
    reason: str


class OptInCompleted(msgspec.Struct, kw_only=True):
    """A submit that opted the contractor in: a quote per coverable assignment."""

    state: Literal["completed"] = "completed"
    outcome: Literal["completed"] = "completed"
    session_id: str
    message: str
    quotes: list[QuotedAssignment]
    not_covered: list[NotCovered]
    #: the session's ``success_url``: where the hosted page sends the contractor now (null: stay)
    success_url: str | None = None
    redirect_url: str | None = None


class OptInIneligible(msgspec.Struct, kw_only=True):
    """A submit whose answers (or assignments) cannot be insured online, with the reasons."""

    state: Literal["ineligible"] = "ineligible"
    outcome: Literal["ineligible"] = "ineligible"
    session_id: str
    message: str
    reasons: list[str]
    #: the session's ``cancel_url``: where the hosted page sends the contractor now (null: stay)
    cancel_url: str | None = None
    redirect_url: str | None = None


#: what a submit answers: the outcome, or (for a link that can no longer be answered) its page
OptInAnswer = OptInCompleted | OptInIneligible | OptInPage


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
        raise ApiError(_NOT_VALID, error_code="resource_not_found", status_code=404)
    q = _INVITATION_BY_TOKEN_LOCKED if lock else _INVITATION_BY_TOKEN
    invitation = (await session.execute(q, {"token_hash": hash_token(token)})).mappings().first()
    if invitation is None:
        raise ApiError(_NOT_VALID, error_code="resource_not_found", status_code=404)
    return invitation


async def _company_name(session: Any, tenant_id: str) -> str | None:
    return (await session.execute(select(companies.c.name).where(companies.c.tenant_id == tenant_id))).scalar()


async def _closed_view(session: Any, invitation: Row, state: str) -> OptInPage:
    """What a link that can no longer be answered shows: the state, never personal data; and
    where the API caller wants the contractor sent (if it opened a session on the link)."""
    sid = invitation["session_id"] or await latest_session_of_invitation(session, invitation["tenant_id"], invitation["id"])
    wishes = await opened(session, invitation["tenant_id"], sid)
    view = OptInPage(
        state=state,
        message=_MESSAGES[state],
        company_name=await _company_name(session, invitation["tenant_id"]),
        expires_at=invitation["expires_at"].isoformat(),
        prefill=None,
        questions=[],
        consent_text=None,
        consent_version=None,
    )
    if state == "answered" and invitation["session_id"]:
        status = (
            await session.execute(
                select(application_sessions.c.status).where(
                    application_sessions.c.id == invitation["session_id"],
                    application_sessions.c.tenant_id == invitation["tenant_id"],
                )
            )
        ).scalar()
        view.outcome = "completed" if status == "complete" else status
        view.session_id = invitation["session_id"]
        view.answered_at = invitation["answered_at"].isoformat() if invitation["answered_at"] else None
    view.success_url, view.cancel_url = wishes.success_url, wishes.cancel_url
    view.redirect_url = wishes.redirect_for(view.outcome if isinstance(view.outcome, str) else None)
    return view


def _prefill_assignment(assignment: Row, home_state: str | None, today: date) -> PrefillAssignment:
    priced = price_row(assignment, home_state, today)
    common: dict[str, Any] = {
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
        return PrefillAssignment(**common, coverable=False, coverage_types=[], net_rate=None, notes=[priced.reason])
    return PrefillAssignment(
        **common,
        coverable=True,
        coverage_types=list(priced.coverage_types),
        net_rate=priced.net_rate,
        gl_net_rate=priced.gl_net_rate,
        wc_net_rate=priced.wc_net_rate,
        notes=list(priced.notes),
    )


def _prefill(contractor: Row, live: Sequence[Row], today: date) -> Prefill:
    home = home_state_of(contractor["address"])
    address = contractor["address"]
    return Prefill(
        first_name=contractor["first_name"],
        last_name=contractor["last_name"],
        email=contractor["email"],
        phone=contractor["phone"],
        address=msgspec.convert(address, AddressInput) if address is not None else None,
        assignments=[_prefill_assignment(a, home, today) for a in live],
    )


async def view_opt_in(db: Database, token: str) -> OptInPage:
    """The form's content. A read only: opening a link changes nothing."""
    async with db.reads() as s:
        invitation = await _invitation_by_token(s, token)
        now = db.clock.now()
        state = _STATE_FOR_PAGE[effective_status(invitation, now)]
        if state == "declined":
            return await _declined_view(s, invitation, now)
        if state != "open":
            return await _closed_view(s, invitation, state)
        return await _open_view(s, invitation, now)


async def _declined_view(session: Any, invitation: Row, now: datetime) -> OptInPage:
    """A declined link: when and why; while it can still change, the form's content as well."""
    live = await store.live_assignments_of_invitation(session, invitation["tenant_id"], invitation["id"])
    until = changeable_until(live)
    can_change = until is not None and until >= now.date()
    if can_change:
        view = await _open_view(session, invitation, now)
        view.state = "declined"
    else:
        view = OptInPage(
            state="declined",
            message=None,
            company_name=await _company_name(session, invitation["tenant_id"]),
            expires_at=invitation["expires_at"].isoformat(),
            prefill=None,
            questions=[],
            consent_text=None,
            consent_version=None,
        )
    declined_at = invitation["declined_at"]
    view.message = "You declined coverage." + ("" if can_change else " This can no longer be changed: the assignment has ended.")
    view.declined_at = declined_at.isoformat() if declined_at else None
    view.decline_reason, view.decline_note = invitation["decline_reason"], invitation["decline_note"]
    view.can_change, view.changeable_until = can_change, until.isoformat() if until else None
    return view


async def _open_view(s: Any, invitation: Row, now: datetime) -> OptInPage:
    tenant_id = invitation["tenant_id"]
    contractor = await store.contractor(s, tenant_id, invitation["contractor_id"])
    live = await store.live_assignments_of_invitation(s, tenant_id, invitation["id"])
    company_name = await _company_name(s, tenant_id)
    wishes = await opened(s, tenant_id, await open_session_of_invitation(s, tenant_id, invitation["id"]))
    assert contractor is not None
    return OptInPage(
        state="open",
        message=None,
        company_name=company_name,
        expires_at=invitation["expires_at"].isoformat(),
        prefill=_prefill(contractor, live, now.date()),
        questions=[QuestionView(id=q.id, text=q.text) for q in QUESTIONS],
        consent_text=CONSENT_TEXT,
        consent_version=CONSENT_TEXT_VERSION,
        quote=_opened_quote_view(wishes, wishes.quote, live) if wishes.quote is not None else None,
        success_url=wishes.success_url,
        cancel_url=wishes.cancel_url,
        company_id=tenant_id,
        contractor_id=invitation["contractor_id"],
    )


def _opened_quote_view(wishes: Opened, quote: Row, live: Sequence[Row]) -> QuotedAssignment:
    """The session's quote as the form and the answer show it (the job's names from the job,
    else from its assignment)."""
    assignment = next((a for a in live if a["assignment_id"] == quote["assignment_id"]), None)
    return QuotedAssignment(
        quote_id=quote["id"],
        assignment_id=quote["assignment_id"],
        job=wishes.job_name or (assignment["job_name"] if assignment else ""),
        entity=wishes.entity_name or (assignment["entity_name"] if assignment else ""),
        coverage_types=list(quote["coverage_types"]),
        effective_date=quote["effective_date"].isoformat(),
        end_date=quote["end_date"].isoformat(),
        net_rate=quote["net_rate"],
        gl_net_rate=quote["gl_net_rate"],
        wc_net_rate=quote["wc_net_rate"],
        notes=[],
    )


# -- submitting ------------------------------------------------------------------------------


def act_as_link_holder(invitation: Row) -> None:
    """Whoever answers the link answers as its contractor: the actor of what the answer causes."""
    bind_actor(actor_of("contractor", str(invitation["contractor_id"])))


async def submit_opt_in(db: Database, token: str, form: OptInSubmission, client: ClientInfo) -> OptInAnswer:
    async with db.uow() as uow:
        if not looks_like_token(token):
            raise ApiError(_NOT_VALID, error_code="resource_not_found", status_code=404)
        # lock order everywhere: the contractor, then their invitation
        contractor = await store.contractor_of_invitation(uow.session, hash_token(token), lock=True)
        invitation = await _invitation_by_token(uow.session, token, lock=True)
        assert contractor is not None
        act_as_link_holder(invitation)
        now = uow.clock.now()
        state = _STATE_FOR_PAGE[effective_status(invitation, now)]
        if state == "declined":
            # changing their mind: an opt-in while an assignment of the link has not ended
            live = await store.live_assignments_of_invitation(uow.session, invitation["tenant_id"], invitation["id"])
            until = changeable_until(live)
            if until is None or until < now.date():
                return await _declined_view(uow.session, invitation, now)
        elif state != "open":
            return await _closed_view(uow.session, invitation, state)
        details, reasons = check_submission(form, contractor, now.date())
        answering = _Answering(
            invitation=invitation,
            contractor=contractor,
            details=details,
            # the open session an API caller created for this link, else one created below
            session_id=invitation["open_session_id"] or new_ulid_id("ias"),
            now=now,
            wishes=await opened(uow.session, invitation["tenant_id"], invitation["open_session_id"]),
        )
        result = await _answer(uow, answering, reasons, client)
        await uow.commit()
    return result


async def decline_opt_in(db: Database, token: str, form: DeclineSubmission) -> OptInPage:
    """Decline coverage on the link (once: declining again changes nothing); the page it shows
    now. A link that can no longer be answered shows its page; after the assignment's end, 409."""
    reason, note = check_decline(form)
    async with db.uow() as uow:
        if not looks_like_token(token):
            raise ApiError(_NOT_VALID, error_code="resource_not_found", status_code=404)
        # lock order everywhere: the contractor, then their invitation
        await store.contractor_of_invitation(uow.session, hash_token(token), lock=True)
        invitation = await _invitation_by_token(uow.session, token, lock=True)
        act_as_link_holder(invitation)
        now = uow.clock.now()
        state = _STATE_FOR_PAGE[effective_status(invitation, now)]
        if state not in ("open", "declined"):
            return await _closed_view(uow.session, invitation, state)
        view = await _declined_view(uow.session, await decline_once(uow, invitation, reason, note), now)
        await uow.commit()
    return view


@dataclass(frozen=True)
class _Answering:
    """A submit being answered: the link, its contractor, what they confirmed, the session."""

    invitation: Row
    contractor: Row
    details: ConfirmedDetails
    session_id: str
    now: datetime
    #: what the API caller opened the session with (its quote, its redirect addresses)
    wishes: Opened = field(default_factory=Opened)

    @property
    def tenant_id(self) -> str:
        return str(self.invitation["tenant_id"])

    @property
    def contractor_id(self) -> str:
        return str(self.invitation["contractor_id"])

    @property
    def invitation_id(self) -> str:
        return str(self.invitation["id"])

    def emit(self, uow: UnitOfWork, message: Any, version: int) -> None:
        uow.emit(message, tenant_id=self.tenant_id, aggregate_id=self.session_id, aggregate_version=version)


@dataclass(frozen=True)
class _Quoted:
    """A quote written for a live assignment (or the session's quote, accepted as priced), with
    what the answer shows of it."""

    row: Row
    assignment: Row | None
    notes: list[str]


@dataclass
class _Pricing:
    """The live assignments priced: quoted, or not coverable (and why); and the session's quote
    bound as priced (``bound``; also among ``quoted`` when it is for one of the assignments)."""

    quoted: list[_Quoted] = field(default_factory=list)
    not_covered: list[NotCovered] = field(default_factory=list)
    marks: list[EnrollmentMark] = field(default_factory=list)
    bound: _Quoted | None = None


async def _answer(uow: UnitOfWork, answering: _Answering, reasons: list[str], client: ClientInfo) -> OptInAnswer:
    """Record the answer: the consent, the confirmed details, a quote per coverable assignment
    (none when the answers already make the contractor ineligible), the completed session and the
    answered invitation; then emit the outcome and say it."""
    consent = await _record_consent(uow, answering, client)
    await _record_confirmed_details(uow, answering)
    answering.emit(
        uow,
        ApplicationStartedV1(
            session_id=answering.session_id, contractor_id=answering.contractor_id, invitation_id=answering.invitation_id
        ),
        version=1,
    )
    live = await store.live_assignments_of_invitation(uow.session, answering.tenant_id, answering.invitation_id)
    pricing = _Pricing()
    if not reasons:
        pricing = _price(answering, live)
        problem = _bind_opened_quote(answering, live, pricing)
        if problem is not None:
            reasons.append(problem)
        else:
            await _record_quotes(uow, answering, pricing)
            if not pricing.quoted and pricing.bound is None:
                reasons.append(_nothing_to_insure(pricing.not_covered))
    await _record_session(uow, answering, reasons, pricing)
    await uow.session.execute(
        _ANSWER_INVITATION,
        {
            "iid": answering.invitation_id,
            "tid": answering.tenant_id,
            "answered_at": answering.now,
            "session_id": answering.session_id,
        },
    )
    if reasons:
        return await _ineligible(uow, answering, reasons, live, pricing)
    return _completed(uow, answering, consent, pricing)


async def _record_consent(uow: UnitOfWork, answering: _Answering, client: ClientInfo) -> Consent:
    consent = Consent(
        signed_name=answering.details.signed_name,
        signed_at=answering.now,
        text_version=CONSENT_TEXT_VERSION,
        ip_address=(client.ip_address or None) and client.ip_address[:64],
        user_agent=(client.user_agent or None) and client.user_agent[:1000],
    )
    await uow.session.execute(
        _INSERT_CONSENT,
        {
            "session_id": answering.session_id,
            "tenant_id": answering.tenant_id,
            "contractor_id": answering.contractor_id,
            "signed_name": consent.signed_name,
            "signed_at": answering.now,
            "text_version": CONSENT_TEXT_VERSION,
            "text": CONSENT_TEXT,
            "ip_address": consent.ip_address,
            "user_agent": consent.user_agent,
        },
    )
    return consent


async def _record_confirmed_details(uow: UnitOfWork, answering: _Answering) -> None:
    """What the contractor confirmed is the newest we know of them (until the company edits again)."""
    details, contractor = answering.details, answering.contractor
    await store.upsert_contractor(
        uow.session,
        {
            "tenant_id": answering.tenant_id,
            "contractor_id": answering.contractor_id,
            "first_name": details.first_name,
            "last_name": details.last_name,
            "email": contractor["email"],
            "phone": details.phone,
            "address": details.address,
            "company_name": contractor["company_name"],
            # never older than what we hold, so that the confirmed details take effect
            "observed_at": max(answering.now, contractor["observed_at"]),
            "version": contractor["version"],
        },
    )


def _price(answering: _Answering, live: Sequence[Row]) -> _Pricing:
    """A quote for each live assignment that can be covered, from the confirmed home state."""
    pricing = _Pricing()
    home = home_state_of(answering.details.address)
    tenant_id = answering.tenant_id
    bound_to = answering.wishes.quote["assignment_id"] if answering.wishes.quote is not None else None
    for assignment in live:
        assignment_id = assignment["assignment_id"]
        if assignment_id == bound_to:
            continue  # its quote is bound as priced (`_bind_opened_quote`)
        priced = price_row(assignment, home, answering.now.date())
        if isinstance(priced, NotCoverable):
            pricing.not_covered.append(NotCovered(assignment_id=assignment_id, job=assignment["job_name"], reason=priced.reason))
            pricing.marks.append(EnrollmentMark(tenant_id, assignment_id, "not_coverable", priced.reason))
            continue
        row = accepted_quote(
            answering.now,
            assignment,
            priced,
            contractor_id=answering.contractor_id,
            session_id=answering.session_id,
            source="application",
        )
        pricing.marks.append(EnrollmentMark(tenant_id, assignment_id, "quoted", row["eligibility_message"]))
        pricing.quoted.append(_Quoted(row=row, assignment=assignment, notes=list(priced.notes)))
    return pricing


def _bind_opened_quote(answering: _Answering, live: Sequence[Row], pricing: _Pricing) -> str | None:
    """Accept the session's quote exactly as priced (no re-pricing: its coverage types, rates and
    dates are what the API caller quoted); a reason instead when it can no longer be bound."""
    quote = answering.wishes.quote
    if quote is None:
        return None
    if quote["end_date"] < answering.now.date():
        return f"The quote's coverage ended on {quote['end_date']}; ask for a new quote."
    assignment = next((a for a in live if a["assignment_id"] == quote["assignment_id"]), None)
    if quote["assignment_id"] and assignment is None:
        return "The quoted assignment was cancelled."
    row = {**quote, "session_id": answering.session_id, "accepted": True, "updated_at": answering.now}
    pricing.bound = _Quoted(row=row, assignment=assignment, notes=[])
    if assignment is not None:
        pricing.quoted.insert(0, pricing.bound)
        pricing.marks.append(
            EnrollmentMark(answering.tenant_id, assignment["assignment_id"], "quoted", quote["eligibility_message"])
        )
    return None


async def _record_quotes(uow: UnitOfWork, answering: _Answering, pricing: _Pricing) -> None:
    new_quotes = [q.row for q in pricing.quoted if q is not pricing.bound]
    if new_quotes:
        await uow.session.execute(_INSERT_QUOTES, new_quotes)
    if pricing.bound is not None:
        await uow.session.execute(
            update(quotes)
            .where(quotes.c.tenant_id == answering.tenant_id, quotes.c.id == pricing.bound.row["id"])
            .values(session_id=answering.session_id, accepted=True, updated_at=answering.now)
        )
    await store.record_enrollment(uow.session, pricing.marks)


def _nothing_to_insure(not_covered: Sequence[NotCovered]) -> str:
    if not not_covered:
        return "There is no assignment to insure."
    return "None of your assignments can be insured: " + " ".join(n.reason for n in not_covered)


async def _record_session(uow: UnitOfWork, answering: _Answering, reasons: list[str], pricing: _Pricing) -> None:
    """Complete the session an API caller opened for this link, or write a new one, complete."""
    details, outcome = answering.details, "ineligible" if reasons else "complete"
    completion = {
        "status": outcome,
        "step": "application_complete" if outcome == "complete" else "application_questions",
        "completed_at": answering.now,
        "first_name": details.first_name,
        "last_name": details.last_name,
        "email": answering.contractor["email"],
        "phone": details.phone,
        "address": details.address,
        "date_of_birth": details.date_of_birth,
        "answers": details.answers,
        "reasons": reasons or None,
        # the session keeps the quote it was opened from
        "quote_id": _session_quote_id(answering, pricing),
    }
    if answering.invitation["open_session_id"]:
        await uow.session.execute(_COMPLETE_SESSION, {"sid": answering.session_id, "tid": answering.tenant_id, **completion})
        return
    new_session = {
        "id": answering.session_id,
        "tenant_id": answering.tenant_id,
        "contractor_id": answering.contractor_id,
        "invitation_id": answering.invitation_id,
        "is_general_opt_in": False,
        "general_opt_in_work_state": None,
        "success_url": None,
        "cancel_url": None,
        "created_at": answering.now,
        "expired_at": None,
        "version": 1,
    }
    await uow.session.execute(_INSERT_SESSION, {**new_session, **completion})


def _session_quote_id(answering: _Answering, pricing: _Pricing) -> str | None:
    if answering.wishes.quote is not None:
        return str(answering.wishes.quote["id"])
    return pricing.quoted[0].row["id"] if pricing.quoted else None


async def _ineligible(
    uow: UnitOfWork, answering: _Answering, reasons: list[str], live: Sequence[Row], pricing: _Pricing
) -> OptInIneligible:
    left_out = {n.assignment_id for n in pricing.not_covered}
    await store.mark_assignments(
        uow.session,
        answering.tenant_id,
        [a["assignment_id"] for a in live if a["assignment_id"] not in left_out],
        "ineligible",
    )
    quote = answering.wishes.quote
    answering.emit(
        uow,
        ApplicationIneligibleV1(
            session_id=answering.session_id,
            contractor_id=answering.contractor_id,
            invitation_id=answering.invitation_id,
            reasons=reasons,
            assignment_ids=[a["assignment_id"] for a in live if a["assignment_id"] not in left_out],
            quote_id=quote["id"] if quote is not None else None,
        ),
        version=2,
    )
    return OptInIneligible(
        session_id=answering.session_id,
        message="We cannot insure you online: " + " ".join(reasons),
        reasons=reasons,
        cancel_url=answering.wishes.cancel_url,
        redirect_url=answering.wishes.cancel_url,
    )


def _completed(uow: UnitOfWork, answering: _Answering, consent: Consent, pricing: _Pricing) -> OptInCompleted:
    details = answering.details
    answering.emit(
        uow,
        ApplicationCompletedV1(
            session_id=answering.session_id,
            contractor_id=answering.contractor_id,
            invitation_id=answering.invitation_id,
            first_name=details.first_name,
            last_name=details.last_name,
            email=answering.contractor["email"],
            phone=details.phone,
            address=msgspec.convert(details.address, Address),
            date_of_birth=details.date_of_birth,
            consent=consent,
            assignments=[assignment_quote(quoted.row) for quoted in pricing.quoted],
            quote=quoted_coverage(pricing.bound.row) if pricing.bound is not None else None,
            not_covered=[AssignmentRefusal(assignment_id=n.assignment_id, reason=n.reason) for n in pricing.not_covered],
        ),
        version=2,
    )
    shown = [_quoted_view(quoted) for quoted in pricing.quoted]
    if pricing.bound is not None and pricing.bound.assignment is None:
        shown.insert(0, _opened_quote_view(answering.wishes, pricing.bound.row, []))
    return OptInCompleted(
        session_id=answering.session_id,
        message="Thank you: you have opted in. Your certificate of insurance will arrive by email.",
        quotes=shown,
        not_covered=pricing.not_covered,
        success_url=answering.wishes.success_url,
        redirect_url=answering.wishes.success_url,
    )


def _quoted_view(quoted: _Quoted) -> QuotedAssignment:
    row = quoted.row
    assert quoted.assignment is not None
    return QuotedAssignment(
        quote_id=row["id"],
        assignment_id=row["assignment_id"],
        job=quoted.assignment["job_name"],
        entity=quoted.assignment["entity_name"],
        coverage_types=list(row["coverage_types"]),
        effective_date=row["effective_date"].isoformat(),
        end_date=row["end_date"].isoformat(),
        net_rate=row["net_rate"],
        gl_net_rate=row["gl_net_rate"],
        wc_net_rate=row["wc_net_rate"],
        notes=quoted.notes,
    )
