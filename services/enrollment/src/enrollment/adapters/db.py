"""The enrollment service's tables. Every row carries ``tenant_id`` and every query filters by it.

Local copies of other contexts (kept from their events, newest state wins):
- ``companies`` (gateway's CompanyCreatedV1): the name shown on the opt-in page;
- ``contractors`` and ``assignments`` (contractor's events): who to invite, what to prefill and price
  (a deleted contractor is kept with ``deleted_at``);
- ``jobs`` (contractor's JobUpsertedV1/JobDeletedV1): what a quote for a job and a contractor prices;
- ``assignment_cancellations``: a cancellation that may arrive before the assignment it cancels.

Our own:
- ``invitations``: opt-in links (nonce and token hash only, never the token) and their reminders;
- ``invitation_assignments``: which assignments an invitation asks the contractor to opt into;
- ``application_sessions``: insurance application sessions (``ias_``), with what the contractor confirmed;
- ``consents``: the signed consent of each answered session;
- ``quotes``: priced quotes (``qt_``), one per assignment in an application, plus API quotes.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Date, Index, Integer, String, Table, Text, text
from ten99kit import JSONDoc, UtcDateTime, kit_tables, make_metadata
from ten99kit.db import PublicId

__all__ = [
    "application_sessions",
    "assignment_cancellations",
    "assignments",
    "companies",
    "consents",
    "contractors",
    "invitation_assignments",
    "invitations",
    "jobs",
    "metadata",
    "portal_corrections",
    "portal_links",
    "quotes",
]

metadata = make_metadata()
outbox, inbox, dead_letters = kit_tables(metadata)

# Id columns are PublicId(64): our ids are at most ~30 characters, other services' are kept with
# room to spare (64 as the tables were created; the kit's default of 40 would need a migration).
_pending = text("status = 'pending'")
_open = text("status = 'open'")

companies = Table(
    "companies",
    metadata,
    Column("tenant_id", PublicId(64), primary_key=True),
    Column("name", String(300), nullable=False),
    Column("owner_email", String(320), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

contractors = Table(
    "contractors",
    metadata,
    Column("tenant_id", PublicId(64), primary_key=True),
    Column("contractor_id", PublicId(64), primary_key=True),
    Column("first_name", String(200), nullable=False),
    Column("last_name", String(200), nullable=False),
    Column("email", String(320), nullable=False),
    Column("phone", String(40), nullable=True),
    Column("address", JSONDoc, nullable=True),
    Column("company_name", String(300), nullable=True),
    #: when the state held here was true (the producer's occurred_at, or our clock for an opt-in)
    Column("observed_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    #: ContractorDeletedV1 arrived: no new quote or session for them (kept, so that an update that
    #: arrives later on another subject cannot bring them back; the upsert never touches it)
    Column("deleted_at", UtcDateTime, nullable=True),
)

assignments = Table(
    "assignments",
    metadata,
    Column("tenant_id", PublicId(64), primary_key=True),
    Column("assignment_id", PublicId(64), primary_key=True),
    Column("contractor_id", PublicId(64), nullable=False),
    Column("job_id", PublicId(64), nullable=False),
    Column("job_name", String(300), nullable=False),
    Column("job_description", Text, nullable=False),
    Column("entity_id", PublicId(64), nullable=False),
    Column("entity_name", String(300), nullable=False),
    Column("required_coverage", JSONDoc, nullable=False),
    Column("category_code", PublicId(64), nullable=False),
    #: the job's work state; NULL for remote work (the home state applies)
    Column("job_work_state", String(8), nullable=True),
    Column("coverage_types", JSONDoc, nullable=False),
    Column("effective_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Column("status", String(20), nullable=False),  # pending | cancelled
    Column("version", Integer, nullable=False),
    Column("observed_at", UtcDateTime, nullable=False),
    #: what enrollment did with it: invited | quoted | enrolled | ineligible | not_coverable (NULL: not yet)
    Column("enrollment", String(20), nullable=True),
    Column("enrollment_note", Text, nullable=True),
    Index("ix_assignments_contractor", "tenant_id", "contractor_id"),
    Index("ix_assignments_job", "tenant_id", "job_id"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("tenant_id", PublicId(64), primary_key=True),
    Column("job_id", PublicId(64), primary_key=True),
    Column("name", String(300), nullable=False),
    Column("description", Text, nullable=False),
    Column("entity_id", PublicId(64), nullable=False),
    Column("entity_name", String(300), nullable=False),
    Column("required_coverage", JSONDoc, nullable=False),
    Column("category_code", PublicId(64), nullable=False),
    #: the work state; NULL for remote work (the home state applies)
    Column("work_state", String(8), nullable=True),
    Column("wage_cents", BigInteger, nullable=False),
    Column("wage_type", String(16), nullable=False),
    Column("purchase_order_number", String(200), nullable=True),
    #: JobDeletedV1 arrived (kept, so that an older upsert arriving later cannot revive it)
    Column("deleted", Boolean, nullable=False),
    #: the job's version (the envelope's aggregate_version): the highest wins
    Column("version", Integer, nullable=False),
    Column("observed_at", UtcDateTime, nullable=False),
)

assignment_cancellations = Table(
    "assignment_cancellations",
    metadata,
    Column("tenant_id", PublicId(64), primary_key=True),
    Column("assignment_id", PublicId(64), primary_key=True),
    Column("cancelled_at", UtcDateTime, nullable=False),
    Column("reason", Text, nullable=False),
)

invitations = Table(
    "invitations",
    metadata,
    Column("id", PublicId(64), primary_key=True),
    Column("tenant_id", PublicId(64), nullable=False),
    Column("contractor_id", PublicId(64), nullable=False),
    Column("email", String(320), nullable=False),
    #: 128 random bits (hex); with the secret it recomputes the token
    Column("nonce", String(64), nullable=False),
    #: sha256 of the token (hex): how a link finds its invitation
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("status", String(20), nullable=False),  # pending | answered | expired | revoked | declined
    Column("reissue", Boolean, nullable=False),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("answered_at", UtcDateTime, nullable=True),
    Column("closed_at", UtcDateTime, nullable=True),  # revoked or expired at
    Column("replaced_by", PublicId(64), nullable=True),
    Column("session_id", PublicId(64), nullable=True),
    Column("reminders_sent", Integer, nullable=False),
    #: how many reminder slots (ENROLLMENT_REMINDER_DAYS) are used up
    Column("reminder_slot", Integer, nullable=False),
    Column("next_reminder_at", UtcDateTime, nullable=True),
    Column("version", Integer, nullable=False),
    #: the contractor declined coverage (status ``declined``; kept if they opt in after all)
    Column("declined_at", UtcDateTime, nullable=True),
    Column("decline_reason", String(40), nullable=True),  # has_own_insurance | does_not_want | other
    Column("decline_note", String(500), nullable=True),
    Index("ix_invitations_contractor", "tenant_id", "contractor_id", "issued_at"),
    # at most one open link per contractor
    Index(
        "uq_invitations_one_pending",
        "tenant_id",
        "contractor_id",
        unique=True,
        postgresql_where=_pending,
        sqlite_where=_pending,
    ),
    Index("ix_invitations_pending_expiry", "expires_at", postgresql_where=_pending, sqlite_where=_pending),
    Index("ix_invitations_pending_reminder", "next_reminder_at", postgresql_where=_pending, sqlite_where=_pending),
)

invitation_assignments = Table(
    "invitation_assignments",
    metadata,
    Column("invitation_id", PublicId(64), primary_key=True),
    Column("assignment_id", PublicId(64), primary_key=True),
    Column("tenant_id", PublicId(64), nullable=False),
    Index("ix_invitation_assignments_assignment", "tenant_id", "assignment_id"),
)

application_sessions = Table(
    "application_sessions",
    metadata,
    Column("id", PublicId(64), primary_key=True),
    Column("tenant_id", PublicId(64), nullable=False),
    Column("contractor_id", PublicId(64), nullable=False),
    Column("invitation_id", PublicId(64), nullable=True, unique=True),
    Column("quote_id", PublicId(64), nullable=True),
    Column("is_general_opt_in", Boolean, nullable=False),
    Column("general_opt_in_work_state", String(8), nullable=True),
    Column("success_url", Text, nullable=True),
    Column("cancel_url", Text, nullable=True),
    Column("status", String(20), nullable=False),  # open | complete | ineligible | expired
    Column("step", String(40), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("completed_at", UtcDateTime, nullable=True),
    Column("expired_at", UtcDateTime, nullable=True),
    # what the contractor confirmed (NULL until answered)
    Column("first_name", String(200), nullable=True),
    Column("last_name", String(200), nullable=True),
    Column("email", String(320), nullable=True),
    Column("phone", String(40), nullable=True),
    Column("address", JSONDoc, nullable=True),
    Column("date_of_birth", Date, nullable=True),
    Column("answers", JSONDoc, nullable=True),
    Column("reasons", JSONDoc, nullable=True),
    Column("version", Integer, nullable=False),
    Index("ix_application_sessions_contractor", "tenant_id", "contractor_id", "created_at"),
    Index("ix_application_sessions_tenant_created", "tenant_id", "created_at"),
)

consents = Table(
    "consents",
    metadata,
    Column("session_id", PublicId(64), primary_key=True),
    Column("tenant_id", PublicId(64), nullable=False),
    Column("contractor_id", PublicId(64), nullable=False),
    Column("signed_name", String(300), nullable=False),
    Column("signed_at", UtcDateTime, nullable=False),
    Column("text_version", String(20), nullable=False),
    Column("text", Text, nullable=False),
    Column("ip_address", String(64), nullable=True),
    Column("user_agent", Text, nullable=True),
)

quotes = Table(
    "quotes",
    metadata,
    Column("id", PublicId(64), primary_key=True),
    Column("tenant_id", PublicId(64), nullable=False),
    Column("contractor_id", PublicId(64), nullable=False),
    Column("job_id", PublicId(64), nullable=False),
    Column("assignment_id", PublicId(64), nullable=True),
    Column("session_id", PublicId(64), nullable=True),
    Column("source", String(20), nullable=False),  # application | repeat | api
    Column("category_code", PublicId(64), nullable=False),
    Column("coverage_types", JSONDoc, nullable=False),
    Column("home_state", String(8), nullable=False),
    Column("work_state", String(8), nullable=False),
    Column("effective_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Column("eligible", Boolean, nullable=False),
    Column("eligibility_message", Text, nullable=True),
    Column("net_rate", Integer, nullable=False),
    Column("gl_net_rate", Integer, nullable=False),
    Column("wc_net_rate", Integer, nullable=False),
    Column("rate_table_version", String(20), nullable=False),
    #: part of a completed application or a repeat enrollment: repeat coverage compares against it
    Column("accepted", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_quotes_contractor", "tenant_id", "contractor_id", "created_at"),
    Index("ix_quotes_tenant_created", "tenant_id", "created_at"),
    Index("ix_quotes_session", "session_id"),
)

#: portal sign-in links: one row per request, known email or not (the rate limits count them all);
#: ``token_hash`` (sha256 of the token, never the token) only when the email was known
portal_links = Table(
    "portal_links",
    metadata,
    Column("id", PublicId(64), primary_key=True),
    Column("email", String(320), nullable=False),  # as asked, trimmed and lower-cased
    Column("client", String(64), nullable=True),  # sha256 of the asking client's address
    Column("token_hash", String(64), nullable=True, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("used_at", UtcDateTime, nullable=True),
    #: the portal session the link opened once used: sha256 of the cookie's token, and its end
    Column("session_hash", String(64), nullable=True, unique=True),
    Column("session_expires_at", UtcDateTime, nullable=True),
    Index("ix_portal_links_email", "email", "created_at"),
    Index("ix_portal_links_client", "client", "created_at"),
)

#: details a contractor corrected in the portal, one row per correction sent to the company (the
#: email is the portal session's, lower-cased); a repeat of the latest adds no row
portal_corrections = Table(
    "portal_corrections",
    metadata,
    Column("id", PublicId(64), primary_key=True),
    Column("tenant_id", PublicId(64), nullable=False),
    Column("contractor_id", PublicId(64), nullable=False),
    Column("email", String(320), nullable=False),
    Column("first_name", String(200), nullable=False),
    Column("last_name", String(200), nullable=False),
    Column("phone", String(40), nullable=True),
    Column("address", JSONDoc, nullable=False),
    Column("corrected_at", UtcDateTime, nullable=False),
    Index("ix_portal_corrections_contractor", "tenant_id", "contractor_id", "corrected_at"),
)
