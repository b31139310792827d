"""Facility links (docs/facility-view.md): a company's revocable, read-only link to one entity's
facility view, ``/facility/<token>``.

The token is ``fac_`` and 256 random bits (``secrets.token_urlsafe(32)``); only its sha256 is kept,
so the URL is shown once, when the link is made. Every read and write names the company
(``tenant_id``), except `resolve_link`, where the token is the key and names its own company. A
token of the wrong shape is refused before any query; an unknown, revoked and expired one answer
the same None. Making and revoking a link publish `FacilityLinkCreatedV1` / `FacilityLinkRevokedV1`
in their transaction (the audit ledger), never the token."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from ten99_contracts.gateway_v1 import FacilityLinkCreatedV1, FacilityLinkRevokedV1
from ten99kit import Database, new_id

from ..adapters.db import companies, facility_links
from ..domain.accounts import AccountError, hash_secret

__all__ = [
    "MAX_EXPIRY_DAYS",
    "TOKEN",
    "FacilityLink",
    "NewFacilityLink",
    "create_facility_link",
    "is_facility_token",
    "list_facility_links",
    "resolve_facility_link",
    "revoke_facility_link",
]

#: ``fac_`` and 43 base64url characters: what `create_facility_link` makes, and nothing else
TOKEN = re.compile(r"fac_[A-Za-z0-9_-]{43}")
#: the longest expiry a link may be given (None: until revoked)
MAX_EXPIRY_DAYS = 366


@dataclass(frozen=True)
class NewFacilityLink:
    id: str
    token: str


@dataclass(frozen=True)
class FacilityLink:
    """A live link's company and entity (what the public page shows)."""

    id: str
    tenant_id: str
    company_name: str
    entity_id: str


def is_facility_token(value: object) -> bool:
    return isinstance(value, str) and TOKEN.fullmatch(value) is not None


def _expiry(now: datetime, expires_in_days: int | None) -> datetime | None:
    if expires_in_days is None:
        return None
    if not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
        raise AccountError(f"A link expires after 1 to {MAX_EXPIRY_DAYS} days, or never", "expires_in_days")
    return now + timedelta(days=expires_in_days)


async def create_facility_link(
    db: Database, *, company_id: str, entity_id: str, created_by: str | None, expires_in_days: int | None
) -> NewFacilityLink:
    """A new link to ``entity_id``, which the caller has checked is the company's."""
    now = db.clock.now()
    expires_at = _expiry(now, expires_in_days)
    token = "fac_" + secrets.token_urlsafe(32)
    link_id = new_id("fl")
    async with db.uow() as uow:
        await uow.session.execute(
            facility_links.insert().values(
                id=link_id,
                tenant_id=company_id,
                entity_id=entity_id,
                token_hash=hash_secret(token),
                created_by=created_by,
                created_at=now,
                expires_at=expires_at,
            )
        )
        message = FacilityLinkCreatedV1(link_id=link_id, entity_id=entity_id, expires_at=expires_at, created_by=created_by)
        uow.emit(message, tenant_id=company_id, aggregate_id=link_id)
        await uow.commit()
    return NewFacilityLink(id=link_id, token=token)


async def list_facility_links(db: Database, company_id: str, entity_id: str) -> list[dict[str, object]]:
    """The company's links to the entity, newest first, with ``state`` active | expired | revoked."""
    now = db.clock.now()
    columns = facility_links.c
    async with db.reads() as s:
        rows = await s.execute(
            select(columns.id, columns.created_by, columns.created_at, columns.expires_at, columns.revoked_at)
            .where(columns.tenant_id == company_id, columns.entity_id == entity_id)
            .order_by(columns.created_at.desc(), columns.id)
        )
        links = [dict(r) for r in rows.mappings()]
    for link in links:
        expires_at = link["expires_at"]
        expired = isinstance(expires_at, datetime) and expires_at <= now
        link["state"] = "revoked" if link["revoked_at"] else "expired" if expired else "active"
    return links


async def revoke_facility_link(db: Database, *, company_id: str, entity_id: str, link_id: str) -> bool:
    """Revoke one of the company's live links to the entity; False if there is no such link."""
    columns = facility_links.c
    now = db.clock.now()
    async with db.uow() as uow:
        result = await uow.session.execute(
            update(facility_links)
            .where(
                columns.id == link_id,
                columns.tenant_id == company_id,
                columns.entity_id == entity_id,
                columns.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
        if result.rowcount:  # type: ignore[attr-defined]
            message = FacilityLinkRevokedV1(link_id=link_id, entity_id=entity_id, revoked_at=now)
            uow.emit(message, tenant_id=company_id, aggregate_id=link_id)
        await uow.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def resolve_facility_link(db: Database, token: str) -> FacilityLink | None:
    """The live link ``token`` opens, or None (malformed, unknown, revoked or expired alike)."""
    if not is_facility_token(token):
        return None
    now = db.clock.now()
    columns = facility_links.c
    async with db.reads() as s:
        row = (
            await s.execute(
                select(columns.id, columns.tenant_id, columns.entity_id, columns.expires_at, companies.c.name)
                .join(companies, companies.c.id == columns.tenant_id)
                .where(columns.token_hash == hash_secret(token), columns.revoked_at.is_(None))
            )
        ).first()
    if row is None or (row.expires_at is not None and row.expires_at <= now):
        return None
    return FacilityLink(id=str(row.id), tenant_id=str(row.tenant_id), company_name=str(row.name), entity_id=str(row.entity_id))
