"""The billing service's tables. Every table carries ``tenant_id`` and every query filters by it.

- ``companies``, ``billing_settings``: the company (from ``CompanyCreatedV1``) and its settings.
- ``assignments``: one row per assignment, billing's local copy of the assignment (contractor
  service) and its coverage (policy service), upserted from messages in any order. Each part
  keeps the ordering key of the message it came from, so a late message never overwrites a
  newer state. ``needs_billing`` marks rows whose change the invoice issuer has not planned yet.
- ``invoices``, ``invoice_lines``, ``invoice_credits``: what was charged and credited.
- ``import_batches``: uploads, for the PO reminder three days later.
- ``usage_invoices``: 1099Policy's invoices (``POST /v1/invoices``): the premium due on the gross
  pay a platform reports for one contractor, job and pay cycle. A table of their own (one line,
  no PDF, no PO grouping): the enterprise invoices above are left exactly as they were.
- ``known_contractors``, ``known_jobs``, ``quoted_coverages``: what a usage invoice is checked and
  priced against, kept from messages (contractors registered or deleted; jobs and their default
  PO; quotes bound as priced without an assignment). Coverage bound on an assignment is in
  ``assignments`` already (its job, dates and net rate).
- ``request_keys``: a keyed create's idempotency key -> the usage invoice it made (the kit's).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
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
from ten99kit.request_keys import request_keys_table

__all__ = [
    "assignments",
    "billing_settings",
    "companies",
    "dead_letters",
    "import_batches",
    "inbox",
    "invoice_credits",
    "invoice_lines",
    "invoices",
    "known_contractors",
    "known_jobs",
    "metadata",
    "outbox",
    "quoted_coverages",
    "request_keys",
    "usage_invoices",
]

metadata = make_metadata()
outbox, inbox, dead_letters = kit_tables(metadata)
request_keys = request_keys_table(metadata)

#: integer cents
Money = BigInteger()
EMAIL = String(320)

companies = Table(
    "companies",
    metadata,
    Column("tenant_id", PublicId(), primary_key=True),
    Column("name", String(300), nullable=False),
    Column("owner_email", EMAIL, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)

billing_settings = Table(
    "billing_settings",
    metadata,
    Column("tenant_id", PublicId(), primary_key=True),
    Column("billing_email", EMAIL, nullable=True),  # None: the owner's email
    Column("premium_payer", String(20), nullable=False),
    Column("platform_fee_bps", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

assignments = Table(
    "assignments",
    metadata,
    Column("tenant_id", PublicId(), primary_key=True),
    Column("assignment_id", PublicId(), primary_key=True),
    # the assignment snapshot (AssignmentCreatedV1 / AssignmentUpdatedV1)
    Column("snapshot_known", Boolean, nullable=False, default=False),
    Column("snapshot_version", Integer, nullable=False, default=0),
    Column("snapshot_at", UtcDateTime, nullable=True),
    Column("contractor_id", PublicId(), nullable=True),
    Column("contractor_name", String(300), nullable=False, default=""),
    Column("contractor_email", EMAIL, nullable=False, default=""),
    Column("job_id", PublicId(), nullable=True),
    Column("job_name", String(300), nullable=False, default=""),
    Column("entity_name", String(300), nullable=False, default=""),
    Column("wage_cents", Integer, nullable=False, default=0),
    Column("wage_type", String(20), nullable=False, default="flatfee"),
    Column("withhold_premium", Boolean, nullable=True),
    Column("effective_date", Date, nullable=True),
    Column("end_date", Date, nullable=True),
    Column("import_batch_id", PublicId(), nullable=True),
    # the PO (snapshots and PoNumberSetV1, newest wins)
    Column("po_number", String(100), nullable=True),
    Column("po_contact_email", EMAIL, nullable=True),
    Column("campaign", String(200), nullable=True),
    Column("po_version", Integer, nullable=False, default=0),
    Column("po_at", UtcDateTime, nullable=True),
    # cancellation (sticky: an assignment cannot be reactivated)
    Column("cancelled", Boolean, nullable=False, default=False),
    Column("cancel_reason", String(500), nullable=True),
    # the coverage (CoverageBoundV1 / RetimedV1 / ExtendedV1 / CancelledV1, newest wins)
    Column("coverage_id", PublicId(), nullable=True),
    Column("coverage_effective_date", Date, nullable=True),
    Column("coverage_end_date", Date, nullable=True),
    Column("net_rate", Integer, nullable=False, default=0),
    Column("coverage_version", Integer, nullable=False, default=0),
    Column("coverage_at", UtcDateTime, nullable=True),
    Column("coverage_cancelled", Boolean, nullable=False, default=False),
    Column("coverage_cancel_reason", String(500), nullable=True),
    # bookkeeping for the invoice issuer
    Column("revision", Integer, nullable=False, default=1),
    Column("changed_at", UtcDateTime, nullable=False),
    Column("needs_billing", Boolean, nullable=False, default=True),
    Index(
        "ix_assignments_needs_billing",
        "tenant_id",
        "assignment_id",
        postgresql_where=text("needs_billing"),
        sqlite_where=text("needs_billing"),
    ),
    Index("ix_assignments_tenant_batch", "tenant_id", "import_batch_id"),
)

invoices = Table(
    "invoices",
    metadata,
    Column("seq", BigIntPK, primary_key=True, autoincrement=True),
    Column("id", PublicId(), nullable=False, unique=True),
    Column("tenant_id", PublicId(), nullable=False),
    Column("number", String(40), nullable=False),
    Column("period", String(7), nullable=False),
    Column("po_number", String(100), nullable=False),
    Column("supplements_id", PublicId(), nullable=True),
    Column("to_email", EMAIL, nullable=False),
    Column("cc_emails", JSONDoc, nullable=False),
    Column("status", String(10), nullable=False),  # open | paid | void
    Column("currency", String(3), nullable=False),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("premium_payer", String(20), nullable=False),
    Column("platform_fee_bps", Integer, nullable=False),
    Column("line_count", Integer, nullable=False),
    Column("pay_cents", Money, nullable=False),
    Column("premium_cents", Money, nullable=False),
    Column("platform_fee_cents", Money, nullable=False),
    Column("total_cents", Money, nullable=False),
    Column("credited_cents", Money, nullable=False),
    Column("paid_at", UtcDateTime, nullable=True),
    Column("paid_amount_cents", Money, nullable=True),
    Column("voided_at", UtcDateTime, nullable=True),
    Column("void_reason", String(500), nullable=True),
    Column("version", Integer, nullable=False),
    Column("filename", String(200), nullable=False),
    Column("pdf", LargeBinary, nullable=False),
    UniqueConstraint("tenant_id", "number"),
    Index("ix_invoices_tenant_seq", "tenant_id", "seq"),
    Index("ix_invoices_tenant_po_period", "tenant_id", "po_number", "period"),
)

invoice_lines = Table(
    "invoice_lines",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column("tenant_id", PublicId(), nullable=False),
    Column("invoice_seq", BigIntPK, ForeignKey("invoices.seq"), nullable=False),
    Column("assignment_id", PublicId(), nullable=False),
    Column("charge_seq", Integer, nullable=False),
    Column("kind", String(20), nullable=False),  # coverage | extension | retime
    Column("contractor_id", PublicId(), nullable=True),
    Column("contractor_name", String(300), nullable=False),
    Column("description", String(1000), nullable=False),
    Column("wage_cents", Integer, nullable=False),
    Column("wage_type", String(20), nullable=False),
    Column("span_start", Date, nullable=False),
    Column("span_end", Date, nullable=False),
    Column("pay_cents", Money, nullable=False),
    Column("net_rate", Integer, nullable=False),
    Column("premium_payer", String(20), nullable=False),
    Column("premium_full_cents", Money, nullable=False),
    Column("premium_cents", Money, nullable=False),
    Column("platform_fee_bps", Integer, nullable=False),
    Column("platform_fee_cents", Money, nullable=False),
    Column("amount_cents", Money, nullable=False),
    Column("credited", Boolean, nullable=False, default=False),
    # one line per assignment per charge, ever
    UniqueConstraint("tenant_id", "assignment_id", "charge_seq"),
    Index("ix_invoice_lines_tenant_invoice", "tenant_id", "invoice_seq"),
)

invoice_credits = Table(
    "invoice_credits",
    metadata,
    Column("id", PublicId(), primary_key=True),
    Column("tenant_id", PublicId(), nullable=False),
    Column("invoice_seq", BigIntPK, ForeignKey("invoices.seq"), nullable=False),
    Column("line_id", BigIntPK, ForeignKey("invoice_lines.id"), nullable=False, unique=True),
    Column("assignment_id", PublicId(), nullable=False),
    Column("amount_cents", Money, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_invoice_credits_tenant_invoice", "tenant_id", "invoice_seq"),
)

import_batches = Table(
    "import_batches",
    metadata,
    Column("tenant_id", PublicId(), primary_key=True),
    Column("import_batch_id", PublicId(), primary_key=True),
    Column("filename", String(300), nullable=False),
    Column("uploaded_at", UtcDateTime, nullable=False),
    Column("uploaded_by", String(320), nullable=True),
    Column("reminder_due_at", UtcDateTime, nullable=False),
    Column("reminder_state", String(20), nullable=False),  # pending | sent | not_needed | no_recipient
    Column("reminder_sent_at", UtcDateTime, nullable=True),
    Column("reminder_missing_count", Integer, nullable=True),
    Index(
        "ix_import_batches_pending",
        "reminder_due_at",
        postgresql_where=text("reminder_state = 'pending'"),
        sqlite_where=text("reminder_state = 'pending'"),
    ),
)

usage_invoices = Table(
    "usage_invoices",
    metadata,
    Column("seq", BigIntPK, primary_key=True, autoincrement=True),
    Column("id", PublicId(), nullable=False, unique=True),
    Column("tenant_id", PublicId(), nullable=False),
    Column("contractor_id", PublicId(), nullable=False),
    Column("job_id", PublicId(), nullable=False),
    Column("gross_pay_cents", Money, nullable=False),
    # the pay cycle as reported (epoch seconds, kept exact)
    Column("paycycle_start", BigInteger, nullable=False),
    Column("paycycle_end", BigInteger, nullable=False),
    Column("net_rate", Integer, nullable=False),
    Column("premium_cents", Money, nullable=False),
    # the coverage it was priced on: an assignment's (cv_...) or a quote's (qt_...)
    Column("priced_on", PublicId(), nullable=False),
    Column("po_number", String(100), nullable=True),
    Column("status", String(10), nullable=False),  # open | paid | void
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("paid_at", UtcDateTime, nullable=True),
    Column("voided_at", UtcDateTime, nullable=True),
    Column("void_reason", String(500), nullable=True),
    Column("version", Integer, nullable=False),
    # one live invoice per contractor, job and pay cycle (a void one may be replaced)
    Index(
        "ux_usage_invoices_cycle",
        "tenant_id",
        "contractor_id",
        "job_id",
        "paycycle_start",
        "paycycle_end",
        unique=True,
        postgresql_where=text("status <> 'void'"),
        sqlite_where=text("status <> 'void'"),
    ),
    Index("ix_usage_invoices_tenant_seq", "tenant_id", "seq"),
)

known_contractors = Table(
    "known_contractors",
    metadata,
    Column("tenant_id", PublicId(), primary_key=True),
    Column("contractor_id", PublicId(), primary_key=True),
    Column("deleted", Boolean, nullable=False),
    Column("at", UtcDateTime, nullable=False),
)

known_jobs = Table(
    "known_jobs",
    metadata,
    Column("tenant_id", PublicId(), primary_key=True),
    Column("job_id", PublicId(), primary_key=True),
    #: the job's ``custom_metadata.purchase_order_number``: a usage invoice's default PO
    Column("po_number", String(100), nullable=True),
    Column("version", Integer, nullable=False),
    Column("deleted", Boolean, nullable=False),
)

quoted_coverages = Table(
    "quoted_coverages",
    metadata,
    Column("tenant_id", PublicId(), primary_key=True),
    Column("quote_id", PublicId(), primary_key=True),
    Column("contractor_id", PublicId(), nullable=False),
    Column("job_id", PublicId(), nullable=False),
    Column("effective_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Column("net_rate", Integer, nullable=False),
    Index("ix_quoted_coverages_contractor_job", "tenant_id", "contractor_id", "job_id"),
)
