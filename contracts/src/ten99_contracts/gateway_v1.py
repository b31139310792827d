"""Messages the gateway publishes (companies, the tenants)."""

from __future__ import annotations

from .base import Message

__all__ = ["CompanyCreatedV1"]


class CompanyCreatedV1(Message, frozen=True, kw_only=True):
    """A company (tenant) exists. ``tenant_id`` of the envelope equals ``company_id``."""

    SUBJECT = "ten99.gateway.company_created.v1"

    company_id: str
    name: str
    owner_email: str
