"""The contractor portal's sign-in links (issue 15).

A contractor asks for a link with their email. Every request is recorded (the rate limits count
them, known email or not); when the email belongs to a contractor of some company, the row also
keeps ``sha256(token)`` and a ``PortalLinkRequestedV1`` asks notification to email the link. The
answer is the same either way, so the page tells nobody which addresses are known.

A token is 256 random bits (``secrets.token_urlsafe(32)``), valid `LINK_TTL`, and consumed once:
``UPDATE ... SET used_at = now WHERE token_hash = ? AND used_at IS NULL AND expires_at > now
RETURNING email`` (two concurrent uses: one wins). Using it opens a portal session: a new random
256-bit token (the gateway's portal cookie holds it; this row keeps its sha256), valid
`SESSION_TTL`. Reading the session answers the email and, per company, the contractor ids under
that email (looked up at each read: a contractor deleted since is gone): what the portal may show.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import func, select, update
from ten99_contracts.enrollment_v1 import PortalLinkRequestedV1
from ten99kit import ApiError, Database
from ten99kit.ids import new_id

from ..adapters.db import companies, contractors, portal_links
from ..domain.tokens import hash_token
from .links import OptInLinks

__all__ = [
    "CLIENT_LIMIT",
    "EMAIL_LIMIT",
    "LINK_TTL",
    "PORTAL_TENANT",
    "SESSION_TTL",
    "LinkAnswer",
    "LinkRequest",
    "OpenedSession",
    "PortalCompany",
    "PortalSession",
    "end_session",
    "open_session",
    "read_session",
    "request_link",
    "session_of",
]

LINK_TTL = timedelta(minutes=15)
#: the tenant the sign-in email is recorded under: no company's (a company's mailbox and delivery
#: log must never show a link that signs in to the contractor's data at every company)
PORTAL_TENANT = "portal"
SESSION_TTL = timedelta(hours=12)
#: requests per email, and per client, within `LIMIT_WINDOW`
EMAIL_LIMIT = 3
CLIENT_LIMIT = 10
LIMIT_WINDOW = timedelta(minutes=15)
ANSWER = "If we know this address, we sent a sign-in link to it. It works once, for 15 minutes."


class LinkRequest(msgspec.Struct, kw_only=True):
    email: str
    #: the asking client's address (the gateway passes it on)
    client: str | None = None


class LinkAnswer(msgspec.Struct, kw_only=True):
    message: str


class PortalCompany(msgspec.Struct, kw_only=True):
    tenant_id: str
    company_name: str | None
    contractor_id: str
    first_name: str


class PortalSession(msgspec.Struct, kw_only=True):
    email: str
    expires_at: datetime
    companies: list[PortalCompany]


class OpenedSession(PortalSession, kw_only=True):
    #: the portal cookie's value (given out once; only its hash is kept)
    session_token: str


def normalize_email(value: str) -> str:
    email = value.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or len(email) > 320 or any(ch.isspace() or not ch.isprintable() for ch in email):
        raise ApiError("Enter a valid email address.", error_code="invalid_email", status_code=400)
    return email


def _client_key(client: str | None) -> str | None:
    return hashlib.sha256(client.encode()).hexdigest() if client else None


async def request_link(db: Database, links: OptInLinks, data: LinkRequest) -> LinkAnswer:
    """Record the request; email a link if the address is known; answer the same either way."""
    email = normalize_email(data.email)
    client = _client_key(data.client)
    async with db.uow() as uow:
        now = uow.clock.now()
        since = now - LIMIT_WINDOW
        recent = select(func.count()).select_from(portal_links).where(portal_links.c.created_at > since)
        if (await uow.session.execute(recent.where(portal_links.c.email == email))).scalar_one() >= EMAIL_LIMIT:
            raise ApiError(
                "Too many sign-in links were asked for this address. Try again in 15 minutes.",
                error_code="rate_limited",
                status_code=429,
            )
        if client and (await uow.session.execute(recent.where(portal_links.c.client == client))).scalar_one() >= CLIENT_LIMIT:
            raise ApiError(
                "Too many sign-in links were asked from here. Try again in 15 minutes.",
                error_code="rate_limited",
                status_code=429,
            )
        known = (
            await uow.session.execute(
                select(contractors.c.first_name)
                .where(func.lower(contractors.c.email) == email, contractors.c.deleted_at.is_(None))
                .order_by(contractors.c.tenant_id)
                .limit(1)
            )
        ).first()
        link_id = new_id("pl")
        token = secrets.token_urlsafe(32) if known else None
        expires_at = now + LINK_TTL
        await uow.session.execute(
            portal_links.insert().values(
                id=link_id,
                email=email,
                client=client,
                token_hash=hash_token(token) if token else None,
                created_at=now,
                expires_at=expires_at,
                used_at=None,
            )
        )
        if known is not None and token is not None:
            uow.emit(
                PortalLinkRequestedV1(
                    link_id=link_id,
                    email=email,
                    first_name=known.first_name,
                    sign_in_url=f"{links.base_url}/portal/sign-in/{token}",
                    expires_at=expires_at,
                ),
                tenant_id=PORTAL_TENANT,
                aggregate_id=link_id,
                aggregate_version=1,
            )
        await uow.commit()
    return LinkAnswer(message=ANSWER)


_REFUSED_LINK = ("This sign-in link has expired or was already used. Ask for a new one.", "portal_link_invalid", 410)
_REFUSED_SESSION = ("Your portal session has ended. Ask for a new sign-in link.", "portal_session_invalid", 401)


async def _companies(session: Any, email: str) -> list[PortalCompany]:
    rows = (
        await session.execute(
            select(contractors.c.tenant_id, contractors.c.contractor_id, contractors.c.first_name, companies.c.name)
            .select_from(contractors.outerjoin(companies, companies.c.tenant_id == contractors.c.tenant_id))
            .where(func.lower(contractors.c.email) == email, contractors.c.deleted_at.is_(None))
            .order_by(contractors.c.tenant_id, contractors.c.contractor_id)
        )
    ).all()
    return [
        PortalCompany(tenant_id=r.tenant_id, company_name=r.name, contractor_id=r.contractor_id, first_name=r.first_name)
        for r in rows
    ]


async def open_session(db: Database, token: str) -> OpenedSession:
    """Consume the link (once, before it expires) and open a portal session for its email."""
    message, code, status = _REFUSED_LINK
    if not token or len(token) > 100:
        raise ApiError(message, error_code=code, status_code=status)
    session_token = secrets.token_urlsafe(32)
    async with db.uow() as uow:
        now = uow.clock.now()
        used = (
            await uow.session.execute(
                update(portal_links)
                .where(
                    portal_links.c.token_hash == hash_token(token),
                    portal_links.c.used_at.is_(None),
                    portal_links.c.expires_at > now,
                )
                .values(used_at=now, session_hash=hash_token(session_token), session_expires_at=now + SESSION_TTL)
                .returning(portal_links.c.email)
            )
        ).first()
        if used is None:
            raise ApiError(message, error_code=code, status_code=status)
        found = await _companies(uow.session, used.email)
        await uow.commit()
    return OpenedSession(email=used.email, expires_at=now + SESSION_TTL, companies=found, session_token=session_token)


async def read_session(db: Database, session_token: str) -> PortalSession:
    """Who an open portal session is (401 once it ended or if it never was)."""
    async with db.reads() as s:
        row = await session_of(s, session_token, db.clock.now())
        return PortalSession(email=row.email, expires_at=row.session_expires_at, companies=await _companies(s, row.email))


async def session_of(session: Any, session_token: str, now: datetime) -> Any:
    """The open portal session's row (``email``, ``session_expires_at``); 401 once it ended or if
    it never was."""
    message, code, status = _REFUSED_SESSION
    if not session_token or len(session_token) > 100:
        raise ApiError(message, error_code=code, status_code=status)
    row = (
        await session.execute(
            select(portal_links.c.email, portal_links.c.session_expires_at).where(
                portal_links.c.session_hash == hash_token(session_token),
                portal_links.c.session_expires_at > now,
            )
        )
    ).first()
    if row is None:
        raise ApiError(message, error_code=code, status_code=status)
    return row


async def end_session(db: Database, session_token: str) -> None:
    """Sign out: the session ends now (an unknown or ended one: nothing to do)."""
    if not session_token or len(session_token) > 100:
        return
    async with db.uow() as uow:
        now = uow.clock.now()
        await uow.session.execute(
            update(portal_links)
            .where(portal_links.c.session_hash == hash_token(session_token), portal_links.c.session_expires_at > now)
            .values(session_expires_at=now)
        )
        await uow.commit()
