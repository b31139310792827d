"""The gateway service's tables: companies (the tenants), dashboard users, their sessions, API keys
and the public API's idempotency records. Every table carries ``tenant_id`` (a company's
``tenant_id`` is its own id); secrets (session tokens, API keys) are stored only as hashes."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, LargeBinary, String, Table, Text
from ten99kit import UtcDateTime, kit_tables, make_metadata

__all__ = ["api_keys", "companies", "facility_links", "idempotency_records", "metadata", "sessions", "users"]

metadata = make_metadata()

companies = Table(
    "companies",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("tenant_id", String(40), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("owner_email", String(320), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("tenant_id", String(40), ForeignKey("companies.id"), nullable=False, index=True),
    #: stored lower-cased; one login per email across all companies
    Column("email", String(320), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(20), nullable=False),  # owner | member
    Column("failed_logins", Integer, nullable=False, server_default="0"),
    Column("locked_until", UtcDateTime, nullable=True),
    Column("last_login_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    #: sha256 of the cookie value: a leaked table does not log anybody in
    Column("token_hash", String(64), primary_key=True),
    Column("tenant_id", String(40), nullable=False, index=True),
    Column("user_id", String(40), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    #: per-session token every dashboard form and HTMX request must echo
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
    Column("ip", String(64), nullable=True),
    Column("user_agent", String(300), nullable=True),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("tenant_id", String(40), ForeignKey("companies.id"), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    #: sha256 of the whole key (the key carries 256 random bits, so a fast hash is enough)
    Column("key_hash", String(64), nullable=False, unique=True),
    #: what the Settings page shows: ``t9sk_test_AbC…xYz1``
    Column("display", String(40), nullable=False),
    Column("created_by", String(320), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_used_at", UtcDateTime, nullable=True),
    Column("revoked_at", UtcDateTime, nullable=True),
)

idempotency_records = Table(
    "idempotency_records",
    metadata,
    Column("tenant_id", String(40), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("method", String(10), nullable=False),
    Column("path", Text, nullable=False),
    #: null while the first request is still running
    Column("status_code", Integer, nullable=True),
    Column("content_type", String(100), nullable=True),
    Column("body", LargeBinary, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Index("ix_idempotency_records_expires_at", "expires_at"),
)

#: read-only links to an entity's facility view (docs/facility-view.md): an access credential like
#: an API key, so kept here, hashed
facility_links = Table(
    "facility_links",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("tenant_id", String(40), ForeignKey("companies.id"), nullable=False),
    #: the contractor service's entity (end client, venue) the link shows
    Column("entity_id", String(40), nullable=False),
    #: sha256 of the token in the link's URL (256 random bits: a fast hash is enough)
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_by", String(320), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=True),
    Column("revoked_at", UtcDateTime, nullable=True),
    Index("ix_facility_links_tenant_entity", "tenant_id", "entity_id"),
)

outbox, inbox, dead_letters = kit_tables(metadata)
