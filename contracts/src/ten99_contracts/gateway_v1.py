"""Messages the gateway publishes: companies (the tenants), their dashboard users, API keys and
facility links."""

from __future__ import annotations

from datetime import datetime

from .base import Message

__all__ = [
    "ApiKeyCreatedV1",
    "ApiKeyRevokedV1",
    "CompanyCreatedV1",
    "FacilityLinkCreatedV1",
    "FacilityLinkRevokedV1",
    "UserAddedV1",
]


class CompanyCreatedV1(Message, frozen=True, kw_only=True):
    """A company (tenant) exists. ``tenant_id`` of the envelope equals ``company_id``."""

    SUBJECT = "ten99.gateway.company_created.v1"

    company_id: str
    name: str
    owner_email: str


class UserAddedV1(Message, frozen=True, kw_only=True):
    """A dashboard user was added to the company (the owner with the company, others in
    Settings → Team). Never carries the password or its hash."""

    SUBJECT = "ten99.gateway.user_added.v1"

    user_id: str
    email: str
    role: str


class ApiKeyCreatedV1(Message, frozen=True, kw_only=True):
    """An API key was created. Carries what the dashboard lists (``display`` is the prefix and
    the last characters), never the key or its hash."""

    SUBJECT = "ten99.gateway.api_key_created.v1"

    key_id: str
    name: str
    display: str
    created_by: str | None = None


class ApiKeyRevokedV1(Message, frozen=True, kw_only=True):
    SUBJECT = "ten99.gateway.api_key_revoked.v1"

    key_id: str


class FacilityLinkCreatedV1(Message, frozen=True, kw_only=True):
    """A read-only link to one entity's facility view was made (docs/facility-view.md). Never
    carries the link's token (the URL works for whoever holds it) or its hash."""

    SUBJECT = "ten99.gateway.facility_link_created.v1"

    link_id: str
    entity_id: str
    #: None: until revoked
    expires_at: datetime | None
    created_by: str | None = None


class FacilityLinkRevokedV1(Message, frozen=True, kw_only=True):
    SUBJECT = "ten99.gateway.facility_link_revoked.v1"

    link_id: str
    entity_id: str
    revoked_at: datetime
