"""The contractor service's tables. Every table carries ``tenant_id`` and every query filters by it.

Rows have a public prefixed ``id`` and an internal autoincrementing ``pk`` that orders lists
(newest first) and pages them (``starting_after``/``ending_before``).
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
from ten99kit import BigIntPK, JSONDoc, UtcDateTime, kit_tables, make_metadata
from ten99kit.db import PublicId
from ten99kit.request_keys import request_keys_table

__all__ = [
    "assignments",
    "contractors",
    "coverage_gap_alerts",
    "entities",
    "import_batches",
    "import_files",
    "import_rejects",
    "integration_links",
    "integration_secrets",
    "jobs",
    "metadata",
    "request_keys",
    "roster_status",
]

metadata = make_metadata()
outbox, inbox, dead_letters = kit_tables(metadata)
#: public API idempotency keys -> what their create made (`ten99kit.request_keys`)
request_keys = request_keys_table(metadata)

entities = Table(
    "entities",
    metadata,
    Column("pk", BigIntPK, primary_key=True, autoincrement=True),
    Column("id", PublicId(), nullable=False, unique=True),
    Column("tenant_id", PublicId(64), nullable=False),
    Column("name", String(200), nullable=False),
    #: the name as the CSV import and integrations match it (case and punctuation ignored)
    Column("name_key", String(200), nullable=False),
    Column("address", JSONDoc, nullable=True),
    Column("required_coverage", JSONDoc, nullable=False),
    Column("aggregate_limit", BigInteger, nullable=False),
    Column("occurrence_limit", BigInteger, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_entities_tenant_pk", "tenant_id", "pk"),
    Index("ix_entities_tenant_name_key", "tenant_id", "name_key"),
)

contractors = Table(
    "contractors",
    metadata,
    Column("pk", BigIntPK, primary_key=True, autoincrement=True),
    Column("id", PublicId(), nullable=False, unique=True),
    Column("tenant_id", PublicId(64), nullable=False),
    Column("first_name", String(100), nullable=False),
    Column("middle_name", String(100), nullable=True),
    Column("last_name", String(100), nullable=False),
    Column("email", String(254), nullable=False),
    Column("email_key", String(254), nullable=False),
    Column("phone", String(40), nullable=True),
    Column("address", JSONDoc, nullable=True),
    Column("company_name", String(200), nullable=True),
    #: Fernet token (ten99kit.crypto.FieldCipher); the clear value is never stored or logged
    Column("tax_id_encrypted", Text, nullable=True),
    Column("tax_id_masked", String(16), nullable=True),
    Column("custom_metadata", JSONDoc, nullable=False),
    Column("withhold_premium", Boolean, nullable=True),
    Column("source", String(20), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("tenant_id", "email_key"),
    Index("ix_contractors_tenant_pk", "tenant_id", "pk"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("pk", BigIntPK, primary_key=True, autoincrement=True),
    Column("id", PublicId(), nullable=False, unique=True),
    Column("tenant_id", PublicId(64), nullable=False),
    Column("entity_id", PublicId(), ForeignKey("entities.id"), nullable=False),
    Column("category_code", String(60), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("wage", BigInteger, nullable=False),
    Column("wage_type", String(16), nullable=False),
    Column("years_experience", Integer, nullable=True),
    Column("address", JSONDoc, nullable=True),
    #: None: remote (the contractor's home state applies)
    Column("work_state", String(2), nullable=True),
    Column("custom_metadata", JSONDoc, nullable=False),
    Column("withhold_premium", Boolean, nullable=True),
    #: set for jobs made by the CSV import ("csv:<hash>") and integrations ("<provider>:<id>");
    #: NULL for jobs made through the API (NULLs never collide in the unique constraint)
    Column("natural_key", String(200), nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("tenant_id", "natural_key"),
    Index("ix_jobs_tenant_pk", "tenant_id", "pk"),
    Index("ix_jobs_entity_id", "entity_id"),
)

assignments = Table(
    "assignments",
    metadata,
    Column("pk", BigIntPK, primary_key=True, autoincrement=True),
    Column("id", PublicId(), nullable=False, unique=True),
    Column("tenant_id", PublicId(64), nullable=False),
    Column("contractor_id", PublicId(), ForeignKey("contractors.id"), nullable=False),
    Column("job_id", PublicId(), ForeignKey("jobs.id"), nullable=False),
    Column("effective_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    #: the dates it was created with: (contractor, job, dates) is unique, so re-importing adds nothing
    Column("dedupe_key", String(40), nullable=False),
    Column("coverage_types", JSONDoc, nullable=False),
    Column("po_number", String(100), nullable=True),
    Column("po_contact_email", String(254), nullable=True),
    Column("campaign", String(200), nullable=True),
    Column("po_set_at", UtcDateTime, nullable=True),
    Column("po_set_by", String(200), nullable=True),
    Column("status", String(16), nullable=False),  # pending | cancelled
    Column("cancel_reason", String(200), nullable=True),
    Column("cancelled_at", UtcDateTime, nullable=True),
    Column("deleted_at", UtcDateTime, nullable=True),
    Column("import_batch_id", PublicId(), nullable=True),
    Column("source", String(20), nullable=False),
    Column("version", Integer, nullable=False),
    #: when the policy service reported coverage bound (CoverageBoundV1 / CoverageActivatedV1)
    Column("coverage_bound_at", UtcDateTime, nullable=True),
    #: enrollment's verdict, 1099Policy's ``eligible {result, message}`` (AssignmentEnrolledV1,
    #: ApplicationCompletedV1, ApplicationIneligibleV1); the newest verdict (``eligible_at``) wins
    Column("eligible", Boolean, nullable=True),
    Column("eligible_message", Text, nullable=True),
    Column("eligible_at", UtcDateTime, nullable=True),
    #: the policy its coverage is bound on (CoverageBoundV1 / CoverageActivatedV1 / CertificateIssuedV1)
    Column("policy_id", PublicId(), nullable=True),
    #: the newest certificate of insurance (CertificateIssuedV1, by ``issued_at``):
    #: ``{certificate_id, certificate_number, gl_coi_pdf_url?, wc_coi_pdf_url?}``
    Column("certificates", JSONDoc, nullable=True),
    #: the approved uploaded certificate that covers it instead of ten99 coverage (application/own_insurance.py)
    Column("own_insurance_upload_id", PublicId(), nullable=True),
    Column("certificate_issued_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("tenant_id", "contractor_id", "job_id", "dedupe_key"),
    Index("ix_assignments_tenant_pk", "tenant_id", "pk"),
    Index("ix_assignments_contractor_id", "contractor_id"),
    Index("ix_assignments_job_id", "job_id"),
    Index("ix_assignments_tenant_campaign", "tenant_id", "campaign"),
    Index("ix_assignments_import_batch_id", "import_batch_id"),
    Index(
        "ix_assignments_missing_po",
        "tenant_id",
        "pk",
        postgresql_where=text("po_number IS NULL AND status = 'pending' AND deleted_at IS NULL"),
        sqlite_where=text("po_number IS NULL AND status = 'pending' AND deleted_at IS NULL"),
    ),
)

#: The Contractors page read model: when each enrollment / coverage fact was first or last seen.
#: Each message only moves its own column forward, so the derived status never goes backwards
#: whatever order the messages arrive in (see application/roster.py).
roster_status = Table(
    "roster_status",
    metadata,
    Column("tenant_id", PublicId(64), primary_key=True),
    Column("contractor_id", PublicId(), primary_key=True),
    Column("invited_at", UtcDateTime, nullable=True),
    Column("invitation_id", PublicId(), nullable=True),
    Column("expired_at", UtcDateTime, nullable=True),
    Column("ineligible_at", UtcDateTime, nullable=True),
    Column("opted_in_at", UtcDateTime, nullable=True),
    Column("covered_at", UtcDateTime, nullable=True),
    #: the contractor declined (ApplicationDeclinedV1), why (has_own_insurance | does_not_want | other)
    Column("declined_at", UtcDateTime, nullable=True),
    Column("decline_reason", String(40), nullable=True),
    Column("decline_note", String(500), nullable=True),
    #: an uploaded certificate of the contractor's own insurance was approved (policy's
    #: UploadedCertificateReviewedV1; application/own_insurance.py)
    Column("own_insurance_at", UtcDateTime, nullable=True),
)

#: The coverage-gap alert sent to each company on each UTC day (application/alerts.py): the row
#: and the message commit together, so a rerun of the job sends no second alert that day.
coverage_gap_alerts = Table(
    "coverage_gap_alerts",
    metadata,
    Column("tenant_id", PublicId(64), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("gap_count", Integer, nullable=False),
    Column("sent_at", UtcDateTime, nullable=False),
)

import_batches = Table(
    "import_batches",
    metadata,
    Column("pk", BigIntPK, primary_key=True, autoincrement=True),
    Column("id", PublicId(), nullable=False, unique=True),
    Column("tenant_id", PublicId(64), nullable=False),
    Column("filename", String(255), nullable=False),
    #: pending | running | needs_confirmation (implausible pay awaits the user) | completed | failed
    Column("status", String(24), nullable=False),
    Column("all_or_nothing", Boolean, nullable=False),
    Column("uploaded_by", String(200), nullable=True),
    #: who uploaded it (`ten99_contracts.valid_actor`): the actor of every message the import causes
    Column("actor", String(80), nullable=True),
    Column("file_sha256", String(64), nullable=False),
    Column("file_size", Integer, nullable=False),
    #: the file's header row as uploaded (the error report repeats it)
    Column("headers", JSONDoc, nullable=False),
    Column("ignored_columns", JSONDoc, nullable=False),
    Column("rows_total", Integer, nullable=False),
    #: rows handled so far (good and bad); the worker resumes from here after a crash
    Column("rows_done", Integer, nullable=False),
    Column("rows_failed", Integer, nullable=False),
    #: rows that added or changed something; rows already there as they are count as unchanged
    Column("rows_imported", Integer, nullable=False),
    Column("rows_unchanged", Integer, nullable=False, server_default="0"),
    #: rows with implausible pay (a warning each, kept in import_rejects), and the user's word on
    #: them: ``import`` (as written) or ``drop``; None until they decide
    Column("rows_warned", Integer, nullable=False, server_default="0"),
    Column("warnings_decision", String(16), nullable=True),
    Column("contractors_created", Integer, nullable=False),
    Column("contractors_updated", Integer, nullable=False),
    Column("assignments_created", Integer, nullable=False),
    Column("assignments_updated", Integer, nullable=False),
    Column("assignments_missing_po", Integer, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("error", Text, nullable=True),
    Column("claimed_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("started_at", UtcDateTime, nullable=True),
    Column("finished_at", UtcDateTime, nullable=True),
    Index("ix_import_batches_tenant_pk", "tenant_id", "pk"),
    Index("ix_import_batches_status_pk", "status", "pk"),
)

#: the uploaded bytes (encrypted: they may hold tax ids), kept until the import finished, so that an
#: accepted upload survives a crash
import_files = Table(
    "import_files",
    metadata,
    Column("import_id", PublicId(), ForeignKey("import_batches.id"), primary_key=True),
    Column("tenant_id", PublicId(64), nullable=False),
    Column("content", LargeBinary, nullable=False),
)

#: one row per rejected line: its cells (for the error report) and its problems
import_rejects = Table(
    "import_rejects",
    metadata,
    Column("pk", BigIntPK, primary_key=True, autoincrement=True),
    Column("tenant_id", PublicId(64), nullable=False),
    Column("import_id", PublicId(), ForeignKey("import_batches.id"), nullable=False),
    Column("line", Integer, nullable=False),
    Column("cells", JSONDoc, nullable=False),
    #: [{"column", "reason", "value"}]; a row kept only for its warnings (implausible pay) has
    #: ``"warning": true`` on each: it is not a failed row and not in the error report
    Column("errors", JSONDoc, nullable=False),
    UniqueConstraint("import_id", "line"),
    Index("ix_import_rejects_tenant_import", "tenant_id", "import_id", "line"),
)

integration_secrets = Table(
    "integration_secrets",
    metadata,
    Column("tenant_id", PublicId(64), primary_key=True),
    Column("provider", String(20), primary_key=True),
    #: encrypted with CONTRACTOR_INTEGRATION_SECRET_KEYS
    Column("secret_encrypted", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("rotated_at", UtcDateTime, nullable=True),
)

#: what an integration's external id became here (idempotency per external id)
integration_links = Table(
    "integration_links",
    metadata,
    Column("pk", BigIntPK, primary_key=True, autoincrement=True),
    Column("tenant_id", PublicId(64), nullable=False),
    Column("provider", String(20), nullable=False),
    Column("external_id", String(210), nullable=False),
    Column("contractor_id", PublicId(), ForeignKey("contractors.id"), nullable=False),
    Column("job_id", PublicId(), ForeignKey("jobs.id"), nullable=False),
    Column("assignment_id", PublicId(), ForeignKey("assignments.id"), nullable=False),
    Column("payload_sha256", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("tenant_id", "provider", "external_id"),
)
