"""The contractor portal's sign-in links (issue 15).

A contractor asks for a link with their email. Every request is recorded (the rate limits count
them, known email or not); when the email belongs to a contractor of some company, the row also
keeps ``sha256(token)`` and a ``PortalLinkRequestedV1`` asks notification to email the link. The
answer is the same either way, so the page tells nobody which addresses are known.

A token is 256 random bits (``secrets.token_urlsafe(32)``), valid `LINK_TTL`, and consumed once:
``UPDATE ... SET used_at = now WHERE token_hash = ? AND used_at IS NULL AND expires_at > now
RETURNING email`` (two concurrent uses: one wins). Using it answers the email and, per company,
the contractor ids under that email: what the gateway's portal session may read.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

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
    "LinkAnswer",
    "LinkRequest",
    "PortalCompany",
    "PortalSession",
    "open_session",
    "request_link",
]

LINK_TTL = timedelta(minutes=15)
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
    companies: list[PortalCompany]


def normalize_email(value: str) -> str:
    email = value.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or len(email) > 320 or any(ch.isspace() for ch in email):
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
                select(contractors.c.tenant_id, contractors.c.first_name)
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
                tenant_id=known.tenant_id,
                aggregate_id=link_id,
                aggregate_version=1,
            )
        await uow.commit()
    return LinkAnswer(message=ANSWER)


async def open_session(db: Database, token: str) -> PortalSession:
    """Consume the link (once, before it expires) and answer who it signs in."""
    refused = ApiError(
        "This sign-in link has expired or was already used. Ask for a new one.", error_code="portal_link_invalid", status_code=410
    )
    if not token or len(token) > 100:
        raise refused
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
                .values(used_at=now)
                .returning(portal_links.c.email)
            )
        ).first()
        if used is None:
            raise refused
        rows = (
            await uow.session.execute(
                select(contractors.c.tenant_id, contractors.c.contractor_id, contractors.c.first_name, companies.c.name)
                .select_from(contractors.outerjoin(companies, companies.c.tenant_id == contractors.c.tenant_id))
                .where(func.lower(contractors.c.email) == used.email, contractors.c.deleted_at.is_(None))
                .order_by(contractors.c.tenant_id, contractors.c.contractor_id)
            )
        ).all()
        await uow.commit()
    return PortalSession(
        email=used.email,
        companies=[
            PortalCompany(tenant_id=r.tenant_id, company_name=r.name, contractor_id=r.contractor_id, first_name=r.first_name)
            for r in rows
        ],
    )
