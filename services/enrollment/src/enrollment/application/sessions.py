"""Insurance application sessions as API objects (1099Policy's ``/apply/sessions``).

A session is the application a contractor fills in. Sessions come from two places:
- the opt-in form: submitting an invitation's link opens and completes one (`opt_in`);
- the API: ``POST /v1/apply/sessions`` with a ``quote`` (or a general opt-in for a contractor).
  Its ``url`` is the contractor's opt-in link: the open invitation, with the quote's assignment
  (if it has one) attached, or a new invitation (which is emailed). Submitting that link completes
  this session and binds its quote exactly as priced (`opt_in`); the form and its answers carry
  the session's ``success_url``/``cancel_url`` so the hosted page can send the contractor there.
  An ineligible quote (``eligible: false``) cannot open a session.

``POST .../expire`` closes an open session and its link (the contractor then sees an "expired"
page); a completed session cannot be expired (``application_already_complete``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlparse

import msgspec
from sqlalchemy import select, update
from ten99kit import ApiError, Database, UnitOfWork, new_ulid_id
from ten99kit.clock import epoch
from ten99kit.db import Row
from ten99kit.pagination import ListEnvelope, PageRequest, fetch_page

from ..adapters import store
from ..adapters.db import application_sessions, assignments, invitations, quotes
from ..domain.states import US_STATES
from .invitations import attach_assignments, close_as_expired, issue_invitation
from .links import OptInLinks

__all__ = [
    "ApplicationSession",
    "SessionChange",
    "SessionRequest",
    "create_session",
    "expire_session",
    "get_session",
    "list_sessions",
    "update_session",
]


_STEP = {"open": "verify_info", "complete": "application_complete"}


class SessionRequest(msgspec.Struct, kw_only=True):
    quote: str | None = None
    contractor: str | None = None
    success_url: str | None = None
    cancel_url: str | None = None
    is_general_opt_in: bool = False
    general_opt_in_work_state: str | None = None


class SessionChange(msgspec.Struct, kw_only=True):
    success_url: str | None = None
    cancel_url: str | None = None


def _check_url(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or len(value) > 2000:
        raise ApiError({field: "An http(s) URL of at most 2000 characters."}, error_code="invalid_input", status_code=400)
    return value


class ApplicationSession(msgspec.Struct, kw_only=True):
    """An insurance application session in 1099Policy's shape (epoch seconds)."""

    id: str
    object: Literal["application_session"] = "application_session"
    contractor: str
    quote: str | None
    quotes: list[str]
    invitation: str | None
    url: str | None
    step: str
    status: str
    expired: bool
    is_general_opt_in: bool
    general_opt_in_work_state: str | None
    success_url: str | None
    cancel_url: str | None
    reasons: list[str]
    created: int | None
    completed: int | None


def session_view(row: Row, links: OptInLinks, quote_ids: Sequence[str]) -> ApplicationSession:
    url = None
    if row.get("inv_nonce"):
        url = links.url_of({"id": row["invitation_id"], "nonce": row["inv_nonce"], "token_hash": row["inv_token_hash"]})
    return ApplicationSession(
        id=row["id"],
        contractor=row["contractor_id"],
        quote=row["quote_id"],
        quotes=list(quote_ids),
        invitation=row["invitation_id"],
        url=url,
        step=row["step"],
        status=row["status"],
        expired=row["status"] == "expired",
        is_general_opt_in=row["is_general_opt_in"],
        general_opt_in_work_state=row["general_opt_in_work_state"],
        success_url=row["success_url"],
        cancel_url=row["cancel_url"],
        reasons=row["reasons"] or [],
        created=epoch(row["created_at"]),
        completed=epoch(row["completed_at"]),
    )


def _with_link() -> Any:
    return select(
        application_sessions, invitations.c.nonce.label("inv_nonce"), invitations.c.token_hash.label("inv_token_hash")
    ).outerjoin(invitations, invitations.c.id == application_sessions.c.invitation_id)


async def _quote_ids(session: Any, tenant_id: str, session_ids: Sequence[str]) -> dict[str, list[str]]:
    if not session_ids:
        return {}
    q = (
        select(quotes.c.session_id, quotes.c.id)
        # the session's own quotes: priced in it, or the API quote it bound as priced (not repeats)
        .where(
            quotes.c.tenant_id == tenant_id,
            quotes.c.session_id.in_(list(session_ids)),
            quotes.c.source.in_(["application", "api"]),
        )
        .order_by(quotes.c.created_at, quotes.c.id)
    )
    out: dict[str, list[str]] = {}
    for sid, qid in (await session.execute(q)).all():
        out.setdefault(sid, []).append(qid)
    return out


async def _load(session: Any, tenant_id: str, session_id: str, *, lock: bool = False) -> Row:
    q = _with_link().where(application_sessions.c.tenant_id == tenant_id, application_sessions.c.id == session_id)
    if lock:
        q = q.with_for_update(of=application_sessions)
    row = (await session.execute(q)).mappings().first()
    if row is None:
        raise ApiError(f"No session {session_id}", error_code="invalid_session_id", status_code=404)
    return row


async def _view(session: Any, links: OptInLinks, tenant_id: str, session_id: str) -> ApplicationSession:
    row = await _load(session, tenant_id, session_id)
    return session_view(row, links, (await _quote_ids(session, tenant_id, [session_id])).get(session_id, []))


async def get_session(db: Database, links: OptInLinks, tenant_id: str, session_id: str) -> ApplicationSession:
    async with db.reads() as s:
        return await _view(s, links, tenant_id, session_id)


async def list_sessions(
    db: Database, links: OptInLinks, tenant_id: str, page_request: PageRequest, *, contractor: str | None = None
) -> ListEnvelope[ApplicationSession]:
    sc = application_sessions.c
    where = [sc.tenant_id == tenant_id]
    if contractor:
        where.append(sc.contractor_id == contractor)
    async with db.reads() as s:
        page = await fetch_page(s, _with_link(), keys=(sc.created_at, sc.id), id_column=sc.id, where=where, request=page_request)
        ids = await _quote_ids(s, tenant_id, [r["id"] for r in page.rows])
    return ListEnvelope(
        url="/v1/apply/sessions",
        has_more=page.has_more,
        data=[session_view(r, links, ids.get(r["id"], [])) for r in page.rows],
    )


@dataclass(frozen=True)
class _ApplyingFor:
    """What a new session applies for: a contractor's assignments, through a quote or not."""

    contractor: Row
    quote_id: str | None
    assignment_ids: list[str]


async def _applying_for(uow: UnitOfWork, tenant_id: str, data: SessionRequest) -> _ApplyingFor:
    if data.quote:
        return await _applying_for_quote(uow, tenant_id, data.quote, data.contractor)
    if not data.is_general_opt_in:
        raise ApiError({"quote": "Required (or is_general_opt_in with contractor)."}, error_code="invalid_input", status_code=400)
    return await _applying_for_general_opt_in(uow, tenant_id, data)


async def _applying_for_quote(uow: UnitOfWork, tenant_id: str, quote_id: str, contractor_id: str | None) -> _ApplyingFor:
    """The quote's assignment, if it still awaits coverage."""
    session = uow.session
    quote = (
        (await session.execute(select(quotes).where(quotes.c.tenant_id == tenant_id, quotes.c.id == quote_id))).mappings().first()
    )
    if quote is None:
        raise ApiError(f"No quote {quote_id}", error_code="invalid_quote_id", status_code=400)
    if contractor_id and contractor_id != quote["contractor_id"]:
        raise ApiError({"contractor": "The quote is for another contractor."}, error_code="invalid_input", status_code=400)
    if quote["accepted"] or quote["session_id"]:
        raise ApiError("This quote's application is complete", error_code="application_already_complete", status_code=400)
    if not quote["eligible"]:
        raise ApiError(
            {"quote": f"The quote is not eligible: {quote['eligibility_message']}"}, error_code="invalid_input", status_code=400
        )
    if not quote["assignment_id"]:
        # a quote for a job alone: the application binds the quote as priced
        contractor = await store.contractor(session, tenant_id, quote["contractor_id"], lock=True)
        if contractor is None:
            raise ApiError(f"No contractor {quote['contractor_id']}", error_code="invalid_contractor_id", status_code=400)
        return _ApplyingFor(contractor, quote["id"], [])
    assignment = (
        (
            await session.execute(
                select(assignments).where(
                    assignments.c.tenant_id == tenant_id, assignments.c.assignment_id == quote["assignment_id"]
                )
            )
        )
        .mappings()
        .one()
    )
    if assignment["status"] == "cancelled":
        raise ApiError("The quote's assignment was cancelled", error_code="invalid_input", status_code=400)
    if assignment["enrollment"] in ("quoted", "enrolled"):
        raise ApiError(
            "Contractor already has a matching policy on file", error_code="contractor_has_matching_policy", status_code=400
        )
    contractor = await store.contractor(session, tenant_id, quote["contractor_id"], lock=True)
    assert contractor is not None
    return _ApplyingFor(contractor, quote["id"], [assignment["assignment_id"]])


async def _applying_for_general_opt_in(uow: UnitOfWork, tenant_id: str, data: SessionRequest) -> _ApplyingFor:
    """Every assignment of the contractor that awaits an opt-in."""
    if not data.contractor:
        raise ApiError("contractor is required for a general opt-in", error_code="missing_contractor_id", status_code=400)
    state = (data.general_opt_in_work_state or "").upper()
    if state not in US_STATES:
        raise ApiError(
            {"general_opt_in_work_state": "A two-letter U.S. state, e.g. CA."}, error_code="invalid_input", status_code=400
        )
    contractor = await store.contractor(uow.session, tenant_id, data.contractor, lock=True)
    if contractor is None:
        raise ApiError(f"No contractor {data.contractor}", error_code="invalid_contractor_id", status_code=400)
    ids = await store.assignments_awaiting_opt_in(uow.session, tenant_id, data.contractor, uow.clock.today())
    if not ids:
        raise ApiError(
            "Coverage is bound per assignment: the contractor has no assignment awaiting an opt-in",
            error_code="invalid_input",
            status_code=400,
        )
    return _ApplyingFor(contractor, None, ids)


async def create_session(db: Database, links: OptInLinks, tenant_id: str, data: SessionRequest) -> ApplicationSession:
    success_url = _check_url(data.success_url, "success_url")
    cancel_url = _check_url(data.cancel_url, "cancel_url")
    async with db.uow() as uow:
        applying = await _applying_for(uow, tenant_id, data)
        contractor, quote_id, assignment_ids = applying.contractor, applying.quote_id, applying.assignment_ids
        contractor_id = contractor["contractor_id"]
        if contractor["deleted_at"] is not None:  # `deletions`: nothing of theirs stays usable
            raise ApiError(f"The contractor {contractor_id} was deleted", error_code="invalid_contractor_id", status_code=400)
        now = uow.clock.now()
        pending = await store.open_invitation(uow.session, tenant_id, contractor_id, lock=True)
        if pending is not None and pending["expires_at"] <= now:
            await close_as_expired(uow, [pending], now)
            pending = None
        if pending is not None:
            # one application per link: an older open session on it gives way to this one
            await store.update_open_sessions_of(
                uow.session,
                tenant_id,
                pending["id"],
                status="expired",
                expired_at=now,
                invitation_id=None,
                version=application_sessions.c.version + 1,
            )
            await attach_assignments(uow, tenant_id, pending["id"], assignment_ids)
            invitation_id = pending["id"]
        else:
            issued = await issue_invitation(uow, links, tenant_id=tenant_id, contractor=contractor, assignment_ids=assignment_ids)
            invitation_id = issued.row["id"]
        session_id = new_ulid_id("ias")
        await uow.session.execute(
            application_sessions.insert().values(
                id=session_id,
                tenant_id=tenant_id,
                contractor_id=contractor_id,
                invitation_id=invitation_id,
                quote_id=quote_id,
                is_general_opt_in=data.is_general_opt_in and not quote_id,
                general_opt_in_work_state=(data.general_opt_in_work_state or "").upper() or None,
                success_url=success_url,
                cancel_url=cancel_url,
                status="open",
                step=_STEP["open"],
                created_at=now,
                version=0,
            )
        )
        view = await _view(uow.session, links, tenant_id, session_id)
        await uow.commit()
    return view


async def update_session(
    db: Database, links: OptInLinks, tenant_id: str, session_id: str, data: SessionChange
) -> ApplicationSession:
    """Only ``success_url`` and ``cancel_url`` change, and only while the session is open."""
    success_url = _check_url(data.success_url, "success_url")
    cancel_url = _check_url(data.cancel_url, "cancel_url")
    async with db.uow() as uow:
        row = await _load(uow.session, tenant_id, session_id, lock=True)
        _must_be_open(row)
        values: dict[str, Any] = {}
        if data.success_url is not None:
            values["success_url"] = success_url
        if data.cancel_url is not None:
            values["cancel_url"] = cancel_url
        if values:
            await uow.session.execute(
                update(application_sessions)
                .where(application_sessions.c.tenant_id == tenant_id, application_sessions.c.id == session_id)
                .values(**values, version=application_sessions.c.version + 1)
            )
        view = await _view(uow.session, links, tenant_id, session_id)
        await uow.commit()
    return view


def _must_be_open(row: Row) -> None:
    if row["status"] == "expired":
        raise ApiError("This session has expired", error_code="session_expired", status_code=400)
    if row["status"] in ("complete", "ineligible"):
        raise ApiError("This application is already complete", error_code="application_already_complete", status_code=400)


async def expire_session(db: Database, links: OptInLinks, tenant_id: str, session_id: str) -> ApplicationSession:
    """Expire an open session and the link it waits on. Expiring an expired session is a no-op."""
    async with db.uow() as uow:
        found = await _load(uow.session, tenant_id, session_id)
        # lock order everywhere: the contractor, then the invitation, then the session
        await store.contractor(uow.session, tenant_id, found["contractor_id"], lock=True)
        row = await _load(uow.session, tenant_id, session_id)
        if row["status"] != "expired":
            _must_be_open(row)
            now = uow.clock.now()
            invitation = None
            if row["invitation_id"]:
                invitation = (
                    (
                        await uow.session.execute(
                            select(invitations)
                            .where(
                                invitations.c.tenant_id == tenant_id,
                                invitations.c.id == row["invitation_id"],
                                invitations.c.status == "pending",
                            )
                            .with_for_update()
                        )
                    )
                    .mappings()
                    .first()
                )
            await _load(uow.session, tenant_id, session_id, lock=True)
            if invitation is not None:
                await close_as_expired(uow, [invitation], now)  # expires this session too
            else:
                await uow.session.execute(
                    update(application_sessions)
                    .where(application_sessions.c.tenant_id == tenant_id, application_sessions.c.id == session_id)
                    .values(status="expired", expired_at=now, version=application_sessions.c.version + 1)
                )
        view = await _view(uow.session, links, tenant_id, session_id)
        await uow.commit()
    return view
