"""The policy service's tables. Every row carries its tenant (company) and every query filters by it.

- ``policies``: one per contractor and company, ever (a second opt-in reuses it).
- ``coverages``: one per assignment, ever: the span bound on a policy and its lifecycle.
- ``certificates``: every Certificate of Insurance issued, with its PDF and what it says.
- ``assignments`` and ``companies``: local copies of other contexts' facts that a certificate
  prints (kept from their events, newest by ``aggregate_version``).
- ``quote_bindings``: a quote bound as priced on an application that named no assignment
  (1099Policy's flow: entity, job, contractor, quote, session, completion): its job, coverage
  types, dates and rates, on the contractor's policy. One per quote, ever.
- ``insured_corrections``: a contractor's details corrected by the company before their policy
  exists here (the opt-in is still on its way); the policy takes them when it is created.
- ``certificate_uploads``: certificates of insurance contractors bring (uploaded PDFs, with their
  sha256), and their review (docs/uploaded-certificates.md).
- ``own_insurance``: the assignments an approved upload covers (binding binds none of them).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, Date, Index, Integer, LargeBinary, String, Table, Text, UniqueConstraint
from ten99kit import JSONDoc, PublicId, UtcDateTime, kit_tables, make_metadata

__all__ = [
    "assignments",
    "certificate_uploads",
    "certificates",
    "companies",
    "coverages",
    "insured_corrections",
    "metadata",
    "own_insurance",
    "policies",
    "quote_bindings",
]

metadata = make_metadata()
outbox, inbox, dead_letters = kit_tables(metadata)


def _keyed_by_tenant(name: str, keys: tuple[str, ...], *columns: Column[Any] | Index) -> Table:
    """A table whose rows are keyed by the tenant and the public ids named in ``keys``."""
    key_columns: list[Column[Any]] = [Column(key, PublicId(), primary_key=True) for key in ("tenant_id", *keys)]
    return Table(name, metadata, *key_columns, *columns)


# A row with no name is a placeholder that binding creates to lock on (see store.lock_company).
companies = _keyed_by_tenant(
    "companies",
    (),
    Column("name", String(300), nullable=True),
    Column("owner_email", String(320), nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)

# What the contractor service last said about an assignment. A row may exist before its full
# snapshot (a cancellation or extension that overtook the creation): `snapshot_version` is NULL then.
assignments = _keyed_by_tenant(
    "assignments",
    ("assignment_id",),
    Column("contractor_id", PublicId(), nullable=False),
    Column("snapshot_version", Integer, nullable=True),
    Column("contractor", JSONDoc, nullable=True),  # ContractorSnapshot as JSON
    Column("job_id", PublicId(), nullable=True),
    Column("job_name", String(300), nullable=True),
    Column("work_state", String(2), nullable=True),
    Column("entity_id", PublicId(), nullable=True),
    Column("entity_name", String(300), nullable=True),
    Column("aggregate_limit_cents", BigInteger, nullable=True),
    Column("occurrence_limit_cents", BigInteger, nullable=True),
    Column("coverage_types", JSONDoc, nullable=True),
    # dates move with their own version: an extension may be newer than the last full snapshot
    Column("dates_version", Integer, nullable=True),
    Column("effective_date", Date, nullable=True),
    Column("end_date", Date, nullable=True),
    Column("status", String(20), nullable=False, server_default="pending"),
    Column("cancel_reason", String(300), nullable=True),
    Column("cancelled_at", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)


def _insured_columns(*, as_of_nullable: bool) -> list[Column[Any]]:
    """The insured's details and when they were said (a policy's, a kept correction's)."""
    return [
        Column("insured_first_name", String(200), nullable=True),
        Column("insured_last_name", String(200), nullable=True),
        Column("insured_email", String(320), nullable=True),
        Column("insured_phone", String(40), nullable=True),
        Column("insured_address", JSONDoc, nullable=True),
        Column("insured_as_of", UtcDateTime, nullable=as_of_nullable),
    ]


# The newest correction per contractor (by `insured_as_of`); NULL address: none was given.
insured_corrections = _keyed_by_tenant(
    "insured_corrections",
    ("contractor_id",),
    *_insured_columns(as_of_nullable=False),
)

policies = Table(
    "policies",
    metadata,
    Column("id", PublicId(), primary_key=True),
    Column("tenant_id", PublicId(), nullable=False),
    Column("contractor_id", PublicId(), nullable=False),
    Column("policy_number", String(40), nullable=False, unique=True),
    Column("status", String(20), nullable=False),  # active | expired | cancelled
    Column("session_id", String(64), nullable=False),
    Column("quote_id", PublicId(), nullable=True),
    Column("coverage_types", JSONDoc, nullable=False),
    Column("home_state", String(2), nullable=True),
    Column("effective_date", Date, nullable=False),
    # the insured as the contractor confirmed it when opting in, or as the company corrected it later
    # (NULL until the application is seen); `insured_as_of`: when that was said
    *_insured_columns(as_of_nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("tenant_id", "contractor_id"),
    Index(None, "tenant_id", "created_at"),
)

coverages = Table(
    "coverages",
    metadata,
    Column("id", PublicId(), primary_key=True),
    Column("tenant_id", PublicId(), nullable=False),
    Column("policy_id", PublicId(), nullable=False, index=True),
    Column("assignment_id", PublicId(), nullable=False),
    Column("contractor_id", PublicId(), nullable=False),
    Column("quote_id", PublicId(), nullable=False),
    Column("session_id", String(64), nullable=False),
    Column("category_code", String(60), nullable=True),
    Column("coverage_types", JSONDoc, nullable=False),
    Column("home_state", String(2), nullable=True),
    Column("work_state", String(2), nullable=True),
    Column("effective_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Column("status", String(20), nullable=False),  # scheduled | active | expired | cancelled
    Column("net_rate", Integer, nullable=False),
    Column("gl_net_rate", Integer, nullable=False),
    Column("wc_net_rate", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    # the certificate for the current dates is still to be issued (its data may not be here yet)
    Column("certificate_due", Boolean, nullable=False),
    Column("certificate_reason", String(20), nullable=True),  # bound | retimed | extended
    Column("certificate_notify", Boolean, nullable=False),  # False: an extension the company asked not to announce
    Column("certificate_id", PublicId(), nullable=True),
    Column("cancel_reason", String(300), nullable=True),
    Column("bound_at", UtcDateTime, nullable=False),
    Column("activated_at", UtcDateTime, nullable=True),
    Column("expired_at", UtcDateTime, nullable=True),
    Column("cancelled_at", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("tenant_id", "assignment_id"),
    Index(None, "tenant_id", "contractor_id"),
    Index(None, "status", "effective_date"),
    Index(None, "status", "end_date"),
    Index(None, "certificate_due", "tenant_id"),
)

certificates = Table(
    "certificates",
    metadata,
    Column("id", PublicId(), primary_key=True),
    Column("tenant_id", PublicId(), nullable=False),
    Column("number", String(40), nullable=False, unique=True),
    Column("coverage_id", PublicId(), nullable=False),
    Column("assignment_id", PublicId(), nullable=False),
    Column("contractor_id", PublicId(), nullable=False),
    Column("policy_id", PublicId(), nullable=False),
    Column("policy_number", String(40), nullable=False),
    Column("holder_name", String(300), nullable=False),
    Column("coverage_types", JSONDoc, nullable=False),
    Column("effective_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("reason", String(20), nullable=False),  # bound | retimed | extended
    Column("status", String(20), nullable=False),  # current | superseded | void
    Column("supersedes", PublicId(), nullable=True),
    Column("superseded_by", PublicId(), nullable=True),
    Column("status_changed_at", UtcDateTime, nullable=True),
    Column("document", JSONDoc, nullable=False),  # CertificateDocument: everything printed on it
    Column("filename", String(120), nullable=False),
    Column("pdf", LargeBinary, nullable=False),
    Column("pdf_sha256", String(64), nullable=False),
    # the key of the certificate's public status page (domain.verification); NULL on certificates
    # issued before verification existed (their PDF prints no URL)
    Column("verification_id", String(40), nullable=True),
    Index(None, "tenant_id", "coverage_id"),
    Index(None, "verification_id", unique=True),
    Index(None, "tenant_id", "contractor_id"),
)

quote_bindings = _keyed_by_tenant(
    "quote_bindings",
    ("quote_id",),
    Column("policy_id", PublicId(), nullable=False),
    Column("contractor_id", PublicId(), nullable=False),
    Column("job_id", PublicId(), nullable=True),
    Column("session_id", String(64), nullable=False),
    Column("coverage_types", JSONDoc, nullable=False),
    Column("effective_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Column("net_rate", Integer, nullable=False),
    Column("gl_net_rate", Integer, nullable=False),
    Column("wc_net_rate", Integer, nullable=False),
    Column("bound_at", UtcDateTime, nullable=False),
    Index(None, "tenant_id", "policy_id"),
)

# A certificate of insurance a contractor brings (docs/uploaded-certificates.md): the PDF as
# uploaded, its sha256, its text, and the review: `review` holds every rule's result.
certificate_uploads = Table(
    "certificate_uploads",
    metadata,
    Column("id", PublicId(), primary_key=True),
    Column("tenant_id", PublicId(), nullable=False),
    Column("contractor_id", PublicId(), nullable=False),
    Column("assignment_id", PublicId(), nullable=True),  # NULL: all of the contractor's work
    Column("filename", String(200), nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("pdf", LargeBinary, nullable=False),
    Column("text", Text, nullable=True),  # NULL: could not be extracted
    Column("status", String(20), nullable=False),  # approved | flagged | denied | error
    Column("review_id", PublicId(), nullable=False),
    Column("review", JSONDoc, nullable=False),  # [RuleResult as JSON]
    Column("assignment_ids", JSONDoc, nullable=False),  # the assignments it was reviewed against
    Column("decided_by", String(320), nullable=True),
    Column("decided_at", UtcDateTime, nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "tenant_id", "created_at"),
    Index(None, "tenant_id", "contractor_id"),
)

# The assignments covered by the contractor's own insurance (an approved upload): one row per
# assignment, the first approval wins; binding skips them.
own_insurance = _keyed_by_tenant(
    "own_insurance",
    ("assignment_id",),
    Column("upload_id", PublicId(), nullable=False),
    Column("contractor_id", PublicId(), nullable=False),
    Column("approved_at", UtcDateTime, nullable=False),
)
