"""Messages the policy service publishes: policies, per-assignment coverage, certificates."""

from __future__ import annotations

from datetime import date, datetime

import msgspec

from .base import Message
from .common import CoverageTerms

__all__ = [
    "CertificateIssuedV1",
    "CoverageActivatedV1",
    "CoverageBoundV1",
    "CoverageCancelledV1",
    "CoverageExpiredV1",
    "CoverageExtendedV1",
    "CoverageRetimedV1",
    "PolicyActivatedV1",
    "PolicyCancelledV1",
    "PolicyReactivatedV1",
    "UploadedCertificateFailure",
    "UploadedCertificateReviewedV1",
]


class PolicyActivatedV1(Message, frozen=True, kw_only=True):
    """A contractor's policy is bound (1099Policy's ``policy.active``)."""

    SUBJECT = "ten99.policy.policy_activated.v1"

    policy_id: str
    policy_number: str
    contractor_id: str
    session_id: str
    coverage_types: list[str]
    home_state: str
    effective_date: date


class PolicyCancelledV1(Message, frozen=True, kw_only=True):
    """A contractor's policy ends before its time (1099Policy's ``policy.cancelled``): today,
    because the company deleted the contractor (``reason`` ``contractor_deleted``)."""

    SUBJECT = "ten99.policy.policy_cancelled.v1"

    policy_id: str
    policy_number: str
    contractor_id: str
    coverage_types: list[str]
    reason: str
    cancelled_at: datetime


class PolicyReactivatedV1(Message, frozen=True, kw_only=True):
    """An expired policy is active again (1099Policy's ``policy.reactivated``): an extension of one
    of its assignments, made before the end but seen after it, brought an expired coverage back."""

    SUBJECT = "ten99.policy.policy_reactivated.v1"

    policy_id: str
    policy_number: str
    contractor_id: str
    coverage_types: list[str]
    #: the assignment whose extension brought it back
    assignment_id: str
    reactivated_at: datetime


class CoverageBoundV1(Message, frozen=True, kw_only=True):
    """Coverage for one assignment is bound; ``terms.status`` is scheduled or active. Billable."""

    SUBJECT = "ten99.policy.coverage_bound.v1"

    terms: CoverageTerms


class CoverageActivatedV1(Message, frozen=True, kw_only=True):
    """The assignment's start date arrived (1099Policy's ``assignment.active``)."""

    SUBJECT = "ten99.policy.coverage_activated.v1"

    terms: CoverageTerms


class CoverageRetimedV1(Message, frozen=True, kw_only=True):
    """Dates changed before the start (the assignment was updated)."""

    SUBJECT = "ten99.policy.coverage_retimed.v1"

    terms: CoverageTerms
    previous_effective_date: date
    previous_end_date: date


class CoverageExtendedV1(Message, frozen=True, kw_only=True):
    SUBJECT = "ten99.policy.coverage_extended.v1"

    terms: CoverageTerms
    previous_end_date: date
    contractor_email: str
    contractor_name: str
    send_email: bool = True


class CoverageCancelledV1(Message, frozen=True, kw_only=True):
    SUBJECT = "ten99.policy.coverage_cancelled.v1"

    terms: CoverageTerms
    reason: str
    contractor_email: str
    contractor_name: str


class CoverageExpiredV1(Message, frozen=True, kw_only=True):
    SUBJECT = "ten99.policy.coverage_expired.v1"

    terms: CoverageTerms


class CertificateIssuedV1(Message, frozen=True, kw_only=True):
    """A Certificate of Insurance for one assignment. ``pdf`` is the document itself (base64 in
    JSON, a few kB) so that the notification service can attach it without a call back."""

    SUBJECT = "ten99.policy.certificate_issued.v1"

    certificate_id: str
    certificate_number: str
    coverage_id: str
    assignment_id: str
    contractor_id: str
    policy_id: str
    policy_number: str
    contractor_email: str
    contractor_name: str
    holder_name: str
    coverage_types: list[str]
    effective_date: date
    end_date: date
    issued_at: datetime
    download_url: str
    filename: str
    pdf: bytes
    supersedes: str | None = None
    #: why it was issued: ``bound`` (first certificate), ``retimed`` or ``extended`` (new dates)
    reason: str = "bound"
    #: False when the extension that caused it asked for no email (``AssignmentExtendedV1.send_email``)
    send_email: bool = True


class UploadedCertificateFailure(msgspec.Struct, frozen=True, kw_only=True):
    """One rule an uploaded certificate failed (``assignment_id``: the assignment it was checked for)."""

    rule: str
    hard: bool
    message: str
    assignment_id: str | None = None


class UploadedCertificateReviewedV1(Message, frozen=True, kw_only=True):
    """A contractor's own certificate of insurance (an uploaded PDF) was reviewed, or a person
    decided a flagged one (1099Policy's ``certificate.approved|flagged|denied|error``). While
    ``status`` is ``approved``, the assignments in ``covered_assignment_ids`` are covered by the
    contractor's own insurance: policy binds no coverage for them (no premium)."""

    SUBJECT = "ten99.policy.uploaded_certificate_reviewed.v1"

    upload_id: str
    contractor_id: str
    #: the one assignment it was uploaded for; None: all of the contractor's work
    assignment_id: str | None = None
    status: str  # approved | flagged | denied | error
    #: the assignments it was reviewed against
    assignment_ids: list[str]
    #: the assignments it covers (empty unless approved)
    covered_assignment_ids: list[str] = []
    filename: str
    sha256: str
    failures: list[UploadedCertificateFailure] = []
    reviewed_at: datetime
    #: who decided a flagged upload (a dashboard user's email); None: the rules decided
    decided_by: str | None = None
