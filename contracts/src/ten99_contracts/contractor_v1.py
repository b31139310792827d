"""Messages the contractor service publishes: contractors, assignments, PO numbers, imports."""

from __future__ import annotations

from datetime import date, datetime

import msgspec

from .base import Message
from .common import Address, ContractorSnapshot, EntitySnapshot, JobSnapshot

__all__ = [
    "AssignmentCancelledV1",
    "AssignmentCreatedV1",
    "AssignmentExtendedV1",
    "AssignmentUpdatedV1",
    "ContractorDeletedV1",
    "ContractorRegisteredV1",
    "ContractorUpdatedV1",
    "CoverageGap",
    "CoverageGapAlertDueV1",
    "ImportCompletedV1",
    "IntegrationSecretRotatedV1",
    "JobDeletedV1",
    "JobUpsertedV1",
    "PoNumberSetV1",
]


class ContractorRegisteredV1(Message, frozen=True, kw_only=True):
    SUBJECT = "ten99.contractor.contractor_registered.v1"

    contractor_id: str
    first_name: str
    last_name: str
    email: str
    phone: str | None = None
    address: Address | None = None
    company_name: str | None = None
    withhold_premium: bool | None = None
    custom_metadata: dict[str, str] = {}


class ContractorUpdatedV1(Message, frozen=True, kw_only=True):
    """The contractor's full state after a change (state transfer, not a diff)."""

    SUBJECT = "ten99.contractor.contractor_updated.v1"

    contractor_id: str
    first_name: str
    last_name: str
    email: str
    phone: str | None = None
    address: Address | None = None
    company_name: str | None = None
    withhold_premium: bool | None = None
    custom_metadata: dict[str, str] = {}


class ContractorDeletedV1(Message, frozen=True, kw_only=True):
    """The company deleted a contractor who had no live assignment and no coverage."""

    SUBJECT = "ten99.contractor.contractor_deleted.v1"

    contractor_id: str
    email: str


class JobUpsertedV1(Message, frozen=True, kw_only=True):
    """A job's full state after it was created or changed (state transfer, not a diff), from any
    write path (API, CSV import, integration sync); also sent again when its end client changes.
    The envelope's ``aggregate_version`` is the job's version: a consumer keeps the highest."""

    SUBJECT = "ten99.contractor.job_upserted.v1"

    job_id: str
    name: str
    description: str
    entity: EntitySnapshot
    category_code: str
    #: the work state (drives workers' comp); None: remote, the contractor's home state applies
    work_state: str | None = None
    address: Address | None = None
    #: cents per ``wage_type`` unit
    wage_cents: int
    wage_type: str  # flatfee | hourly | unit | blended
    years_experience: int | None = None
    withhold_premium: bool | None = None
    custom_metadata: dict[str, str] = {}
    #: ``custom_metadata["purchase_order_number"]``: the job's default PO for invoices
    purchase_order_number: str | None = None
    created: bool = False
    source: str = "api"  # api | csv | worksuite | creatoriq


class JobDeletedV1(Message, frozen=True, kw_only=True):
    """The job was deleted (only a job without assignments can be)."""

    SUBJECT = "ten99.contractor.job_deleted.v1"

    job_id: str


class _AssignmentState(Message, frozen=True, kw_only=True):
    """The full state of an assignment, carried by created and updated events so that a consumer
    never needs an earlier message to act on a later one."""

    assignment_id: str
    contractor: ContractorSnapshot
    job: JobSnapshot
    effective_date: date  # first covered day (UTC)
    end_date: date  # last covered day, inclusive (UTC)
    coverage_types: list[str]
    status: str = "pending"  # pending | cancelled
    po_number: str | None = None
    po_contact_email: str | None = None
    campaign: str | None = None
    import_batch_id: str | None = None
    source: str = "api"  # csv | api | dashboard | worksuite | creatoriq


class AssignmentCreatedV1(_AssignmentState, frozen=True, kw_only=True):
    SUBJECT = "ten99.contractor.assignment_created.v1"


class AssignmentUpdatedV1(_AssignmentState, frozen=True, kw_only=True):
    """Dates, job or PO changed. Before binding, a changed date re-times the coverage."""

    SUBJECT = "ten99.contractor.assignment_updated.v1"


class AssignmentCancelledV1(Message, frozen=True, kw_only=True):
    """Cancelled before its start date; it cannot be reactivated."""

    SUBJECT = "ten99.contractor.assignment_cancelled.v1"

    assignment_id: str
    contractor_id: str
    reason: str
    cancelled_at: datetime


class AssignmentExtendedV1(Message, frozen=True, kw_only=True):
    """The end date moved later (at most one year after the start)."""

    SUBJECT = "ten99.contractor.assignment_extended.v1"

    assignment_id: str
    contractor_id: str
    previous_end_date: date
    end_date: date
    send_email: bool = True


class PoNumberSetV1(Message, frozen=True, kw_only=True):
    """A PO number (and contact) was set on one assignment. One message per assignment."""

    SUBJECT = "ten99.contractor.po_number_set.v1"

    assignment_id: str
    contractor_id: str
    po_number: str
    po_contact_email: str | None = None
    campaign: str | None = None
    previous_po_number: str | None = None
    set_by: str | None = None


class ImportCompletedV1(Message, frozen=True, kw_only=True):
    SUBJECT = "ten99.contractor.import_completed.v1"

    import_batch_id: str
    filename: str
    rows_total: int
    rows_imported: int
    rows_failed: int
    contractors_created: int
    assignments_created: int
    assignments_missing_po: int
    uploaded_by: str | None = None


class CoverageGap(msgspec.Struct, frozen=True, kw_only=True):
    """An assignment starting soon whose contractor has not opted in."""

    assignment_id: str
    contractor_id: str
    contractor_name: str
    contractor_email: str
    job_name: str
    effective_date: date
    #: the contractor's roster status: not_invited, invited, expired or ineligible
    status: str


class CoverageGapAlertDueV1(Message, frozen=True, kw_only=True):
    """The company's daily coverage-gap alert: assignments starting within ``within_days`` UTC
    days of ``day`` whose contractor has not opted in. At most one per company and UTC day; the
    notification service emails it to the company."""

    SUBJECT = "ten99.contractor.coverage_gap_alert_due.v1"

    day: date
    within_days: int
    gaps: list[CoverageGap]
    #: every gap of the day; ``gaps`` lists at most the first 500 (by start date, name)
    gap_count: int = 0


class IntegrationSecretRotatedV1(Message, frozen=True, kw_only=True):
    """The company's signing secret for an integration's webhooks (``provider``: worksuite,
    creatoriq) was made or replaced (Settings → Integrations); the old one stopped working.
    Carries the hint the dashboard shows (``whsec_…`` and the last four characters), never the
    secret."""

    SUBJECT = "ten99.contractor.integration_secret_rotated.v1"

    provider: str
    hint: str
    #: True for the company's first secret for ``provider``, False for a replacement
    first: bool
    rotated_at: datetime
