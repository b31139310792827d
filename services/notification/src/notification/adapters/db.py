"""The notification service's tables.

- ``companies``: the local directory of tenants (from ``CompanyCreatedV1``), for names in emails.
- ``deliveries``: one row per email (unique per tenant and business key), rendered, with its
  sending state; ``delivery_attachments`` keeps the attached files so that a retry can resend them.
- ``caught_mail``: what the development SMTP catcher received. Not tenant-scoped on purpose: it is
  the developer's inbox, like a real mailbox, and holds mail for every tenant.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from ten99kit import BigIntPK, JSONDoc, PublicId, UtcDateTime, kit_tables, make_metadata

__all__ = ["caught_mail", "companies", "deliveries", "delivery_attachments", "metadata"]

metadata = make_metadata()
outbox, inbox, dead_letters = kit_tables(metadata)

companies = Table(
    "companies",
    metadata,
    Column("tenant_id", PublicId(), primary_key=True),
    Column("name", String(300), nullable=False),
    Column("owner_email", String(320), nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)

_CLAIMABLE = "status IN ('queued', 'sending')"

deliveries = Table(
    "deliveries",
    metadata,
    #: internal order (newest first in lists, cursor pagination); ``id`` is the public id
    Column("seq", BigIntPK, primary_key=True, autoincrement=True),
    Column("id", PublicId(), nullable=False, unique=True),
    Column("tenant_id", PublicId(), nullable=False),
    Column("template", String(40), nullable=False),
    #: "<template>:<business key>": the same business event never yields two emails
    Column("dedupe_key", String(300), nullable=False),
    Column("related_id", PublicId(64), nullable=True),
    Column("contractor_id", PublicId(), nullable=True),
    #: the envelope that caused it
    Column("source_message_id", String(64), nullable=True),
    Column("to_emails", JSONDoc, nullable=False),
    Column("cc_emails", JSONDoc, nullable=False),
    #: ",a@x.com,b@y.com," lower-cased, to and cc, for the ``to=`` filter on both engines
    Column("recipients", Text, nullable=False),
    Column("subject", String(1000), nullable=False),
    Column("text_body", Text, nullable=False),
    Column("html_body", Text, nullable=False),
    Column("has_attachments", Boolean, nullable=False),
    #: the RFC 5322 Message-ID, fixed per delivery so that a resend carries the same one
    Column("message_id", String(255), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    #: queued: when the next attempt is due; sending: when the claim lapses (the sender vanished)
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime, nullable=True),
    UniqueConstraint("tenant_id", "dedupe_key"),
    Index("ix_deliveries_tenant_id_seq", "tenant_id", "seq"),
    Index("ix_deliveries_tenant_id_template_seq", "tenant_id", "template", "seq"),
    Index("ix_deliveries_tenant_id_related_id", "tenant_id", "related_id"),
    Index("ix_deliveries_due", "next_attempt_at", postgresql_where=text(_CLAIMABLE), sqlite_where=text(_CLAIMABLE)),
)

delivery_attachments = Table(
    "delivery_attachments",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column("tenant_id", PublicId(), nullable=False),
    Column("delivery_id", PublicId(), nullable=False),
    Column("position", Integer, nullable=False),
    Column("filename", String(255), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("content", LargeBinary, nullable=False),
    UniqueConstraint("delivery_id", "position"),
)

caught_mail = Table(
    "caught_mail",
    metadata,
    Column("seq", BigIntPK, primary_key=True, autoincrement=True),
    Column("id", PublicId(), nullable=False, unique=True),
    Column("received_at", UtcDateTime, nullable=False),
    Column("mail_from", String(320), nullable=False),
    Column("rcpt_to", JSONDoc, nullable=False),
    Column("from_header", Text, nullable=False),
    Column("to_header", Text, nullable=False),
    Column("cc_header", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("message_id", String(255), nullable=True),
    Column("size", Integer, nullable=False),
    Column("raw", LargeBinary, nullable=False),
)
