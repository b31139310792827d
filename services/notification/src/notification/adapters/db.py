"""The notification service's tables.

- ``companies``: the local directory of tenants (from ``CompanyCreatedV1``), for names in emails.
- ``deliveries``: one row per email (unique per tenant and business key), rendered, with its
  sending state; ``delivery_attachments`` keeps the attached files so that a retry can resend them.
- ``caught_mail``: what the development SMTP catcher received. Not tenant-scoped on purpose: it is
  the developer's inbox, like a real mailbox, and holds mail for every tenant.
- ``events``: the public event log (1099Policy's ``ev_`` events), one per (tenant, message or
  business fact), kept 30 days.
- ``webhook_endpoints``: a company's endpoints, the signing secret encrypted (Fernet).
- ``webhook_deliveries``: one per (endpoint, event), with its retry state; ``webhook_attempts``:
  every attempt (status code, latency, an excerpt of the answer, the error).
- ``ledger_entries``: the audit ledger, hash-chained per company (docs/audit-ledger.md);
  ``ledger_heads``: each company's last seq and hash (locked to append); ``ledger_snapshots``:
  the last known fields of each entity, to tell what an entry changed.
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

__all__ = [
    "caught_mail",
    "companies",
    "deliveries",
    "delivery_attachments",
    "events",
    "ledger_entries",
    "ledger_heads",
    "ledger_snapshots",
    "metadata",
    "webhook_attempts",
    "webhook_deliveries",
    "webhook_endpoints",
]

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

events = Table(
    "events",
    metadata,
    #: internal order (newest first in lists, cursor pagination); ``id`` is the public ``ev_`` id
    Column("seq", BigIntPK, primary_key=True, autoincrement=True),
    Column("id", PublicId(), nullable=False, unique=True),
    Column("tenant_id", PublicId(), nullable=False),
    Column("type", String(60), nullable=False),
    #: the envelope id, or the business fact two messages may both tell ("assignment.cancelled:an_...")
    Column("dedupe_key", String(200), nullable=False),
    Column("source_subject", String(200), nullable=False),
    #: ``data.object``: the object's state as the message told it
    Column("object", JSONDoc, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("tenant_id", "dedupe_key"),
    Index("ix_events_tenant_id_seq", "tenant_id", "seq"),
    Index("ix_events_tenant_id_type_seq", "tenant_id", "type", "seq"),
    Index("ix_events_created_at", "created_at"),
)

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("seq", BigIntPK, primary_key=True, autoincrement=True),
    Column("id", PublicId(), nullable=False, unique=True),
    Column("tenant_id", PublicId(), nullable=False),
    Column("url", Text, nullable=False),
    Column("description", String(500), nullable=True),
    #: subscribed types, ``["*"]`` for all
    Column("events", JSONDoc, nullable=False),
    Column("status", String(16), nullable=False),
    #: Fernet token of the ``whsec_...`` secret; the clear value is shown once and never stored
    Column("secret_encrypted", Text, nullable=False),
    #: after a rotation: the old secret (Fernet token), which signs beside the new one until
    #: ``previous_secret_until`` (`domain.webhooks.SECRET_ROTATION_OVERLAP`)
    Column("previous_secret_encrypted", Text, nullable=True),
    Column("previous_secret_until", UtcDateTime, nullable=True),
    #: the first failed attempt since the last success (None: the last attempt succeeded, or none yet)
    Column("failing_since", UtcDateTime, nullable=True),
    #: the first success since the endpoint was created or last failing (None: not proven): a
    #: proven endpoint that is not failing takes ``max_in_flight_per_healthy_endpoint`` attempts at once
    Column("proven_at", UtcDateTime, nullable=True),
    Column("disabled_reason", String(200), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_webhook_endpoints_tenant_id_seq", "tenant_id", "seq"),
)

_DUE_WEBHOOK = "status IN ('pending', 'delivering')"

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("seq", BigIntPK, primary_key=True, autoincrement=True),
    Column("id", PublicId(), nullable=False, unique=True),
    Column("tenant_id", PublicId(), nullable=False),
    Column("endpoint_id", PublicId(), nullable=False),
    Column("event_id", PublicId(), nullable=False),
    Column("event_type", String(60), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    #: attempts since the round began (a resend begins a new round); the backoff counts these
    Column("round_attempts", Integer, nullable=False),
    Column("round_started_at", UtcDateTime, nullable=False),
    #: pending: when the next attempt is due; delivering: when the claim lapses
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("endpoint_id", "event_id"),
    Index("ix_webhook_deliveries_endpoint_id_seq", "endpoint_id", "seq"),
    Index("ix_webhook_deliveries_event_id", "event_id"),
    Index(
        "ix_webhook_deliveries_due",
        "next_attempt_at",
        postgresql_where=text(_DUE_WEBHOOK),
        sqlite_where=text(_DUE_WEBHOOK),
    ),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("seq", BigIntPK, primary_key=True, autoincrement=True),
    #: ``<delivery id>.<attempt number>``
    Column("id", String(80), nullable=False, unique=True),
    Column("tenant_id", PublicId(), nullable=False),
    Column("endpoint_id", PublicId(), nullable=False),
    Column("delivery_id", PublicId(), nullable=False),
    Column("event_id", PublicId(), nullable=False),
    Column("event_type", String(60), nullable=False),
    Column("number", Integer, nullable=False),
    Column("attempted_at", UtcDateTime, nullable=False),
    Column("succeeded", Boolean, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("latency_ms", Integer, nullable=False),
    Column("response_excerpt", Text, nullable=True),
    Column("error", Text, nullable=True),
    Index("ix_webhook_attempts_endpoint_id_seq", "endpoint_id", "seq"),
    Index("ix_webhook_attempts_delivery_id", "delivery_id"),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("tenant_id", PublicId(), primary_key=True),
    #: 1, 2, 3, ... per company, in the order entries were appended (the chain's order)
    Column("seq", BigIntPK, primary_key=True, autoincrement=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("actor", String(80), nullable=True),
    Column("entity_kind", String(40), nullable=False),
    Column("entity_id", String(80), nullable=False),
    #: the contractor the entry concerns (their timeline), if any
    Column("contractor_id", PublicId(), nullable=True),
    Column("action", String(40), nullable=False),
    Column("subject", String(120), nullable=False),
    Column("before", JSONDoc, nullable=False),
    Column("after", JSONDoc, nullable=False),
    Column("correlation_id", String(64), nullable=True),
    #: the message the entry was made from: a redelivery adds nothing
    Column("envelope_id", String(64), nullable=False, unique=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_ledger_entries_tenant_id_entity_kind_entity_id_seq", "tenant_id", "entity_kind", "entity_id", "seq"),
    Index("ix_ledger_entries_tenant_id_contractor_id_seq", "tenant_id", "contractor_id", "seq"),
    Index("ix_ledger_entries_tenant_id_occurred_at", "tenant_id", "occurred_at"),
)

ledger_heads = Table(
    "ledger_heads",
    metadata,
    Column("tenant_id", PublicId(), primary_key=True),
    Column("seq", BigIntPK, nullable=False),
    Column("hash", String(64), nullable=False),
)

ledger_snapshots = Table(
    "ledger_snapshots",
    metadata,
    Column("tenant_id", PublicId(), primary_key=True),
    Column("entity_kind", String(40), primary_key=True),
    Column("entity_id", String(80), primary_key=True),
    Column("fields", JSONDoc, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
