"""Messages the enrollment service publishes: invitations and insurance applications."""

from __future__ import annotations

from datetime import date, datetime

import msgspec

from .base import Message
from .common import Address, AssignmentQuote, AssignmentRefusal, QuotedCoverage

__all__ = [
    "ApplicationCompletedV1",
    "ApplicationDeclinedV1",
    "ApplicationIneligibleV1",
    "ApplicationStartedV1",
    "AssignmentEnrolledV1",
    "Consent",
    "ContractorDetailsCorrectedV1",
    "InvitationExpiredV1",
    "InvitationIssuedV1",
    "InvitationReminderDueV1",
    "InvitationRevokedV1",
    "PortalLinkRequestedV1",
]


class InvitationIssuedV1(Message, frozen=True, kw_only=True):
    """An opt-in link exists for a contractor. ``opt_in_url`` carries the secret: internal only."""

    SUBJECT = "ten99.enrollment.invitation_issued.v1"
    SECRET_FIELDS = ("opt_in_url",)  # kept redacted in the outbox once published

    invitation_id: str
    contractor_id: str
    email: str
    first_name: str
    last_name: str
    opt_in_url: str
    expires_at: datetime
    assignment_ids: list[str]
    reissue: bool = False


class InvitationReminderDueV1(Message, frozen=True, kw_only=True):
    SUBJECT = "ten99.enrollment.invitation_reminder_due.v1"
    SECRET_FIELDS = ("opt_in_url",)

    invitation_id: str
    contractor_id: str
    email: str
    first_name: str
    last_name: str
    opt_in_url: str
    expires_at: datetime
    reminder_number: int  # 1, 2, ...


class InvitationRevokedV1(Message, frozen=True, kw_only=True):
    SUBJECT = "ten99.enrollment.invitation_revoked.v1"

    invitation_id: str
    contractor_id: str
    replaced_by: str | None = None


class InvitationExpiredV1(Message, frozen=True, kw_only=True):
    """The invitation ran out unanswered (1099Policy's ``application.expired``)."""

    SUBJECT = "ten99.enrollment.invitation_expired.v1"

    invitation_id: str
    contractor_id: str


class ApplicationStartedV1(Message, frozen=True, kw_only=True):
    SUBJECT = "ten99.enrollment.application_started.v1"

    session_id: str  # ias_...
    contractor_id: str
    invitation_id: str | None = None


class Consent(msgspec.Struct, frozen=True, kw_only=True):
    signed_name: str
    signed_at: datetime
    text_version: str
    ip_address: str | None = None
    user_agent: str | None = None


class ApplicationCompletedV1(Message, frozen=True, kw_only=True):
    """The contractor opted in. Carries what they confirmed and a priced quote per eligible
    assignment, so the policy service can bind coverage without asking anyone."""

    SUBJECT = "ten99.enrollment.application_completed.v1"

    session_id: str
    contractor_id: str
    invitation_id: str | None = None
    first_name: str
    last_name: str
    email: str
    phone: str | None = None
    address: Address
    date_of_birth: date | None = None
    consent: Consent
    assignments: list[AssignmentQuote]
    #: the quote the application was opened from (``POST /apply/sessions {quote}``), bound as
    #: priced: its coverage types, rates and dates are what the contractor accepted. None for an
    #: opt-in through an invitation link alone (then ``assignments`` says everything)
    quote: QuotedCoverage | None = None
    #: the link's assignments that could not be covered, with the reason
    not_covered: list[AssignmentRefusal] = []


class ApplicationIneligibleV1(Message, frozen=True, kw_only=True):
    SUBJECT = "ten99.enrollment.application_ineligible.v1"

    session_id: str
    contractor_id: str
    invitation_id: str | None = None
    reasons: list[str]
    #: the assignments the application was for (each is now ineligible)
    assignment_ids: list[str] = []
    #: the quote the application was opened from, if any
    quote_id: str | None = None


class ApplicationDeclinedV1(Message, frozen=True, kw_only=True):
    """The contractor declined coverage on their opt-in page: no reminders follow. They may still
    opt in on the same link while an assignment of it has not ended (then ApplicationCompletedV1
    follows as usual)."""

    SUBJECT = "ten99.enrollment.application_declined.v1"

    contractor_id: str
    invitation_id: str
    #: the application session an API caller opened on the link, if any
    session_id: str | None = None
    #: has_own_insurance | does_not_want | other
    reason: str
    #: the contractor's own words (at most 500 characters), if they gave any
    note: str | None = None
    declined_at: datetime
    #: the invitation's assignments the decline is about
    assignment_ids: list[str] = []


class AssignmentEnrolledV1(Message, frozen=True, kw_only=True):
    """A later assignment of an opted-in contractor meets the repeat-coverage conditions and is
    priced: the policy service binds it on the existing policy without a new opt-in."""

    SUBJECT = "ten99.enrollment.assignment_enrolled.v1"

    session_id: str
    contractor_id: str
    quote: AssignmentQuote


class PortalLinkRequestedV1(Message, frozen=True, kw_only=True):
    """A contractor asked for a portal sign-in link and their email is known: send it.
    ``sign_in_url`` carries the secret (single use, short-lived): internal only."""

    SUBJECT = "ten99.enrollment.portal_link_requested.v1"
    SECRET_FIELDS = ("sign_in_url",)

    link_id: str
    email: str
    first_name: str
    sign_in_url: str
    expires_at: datetime


class ContractorDetailsCorrectedV1(Message, frozen=True, kw_only=True):
    """A contractor corrected their details in the portal, for one company (the envelope's
    tenant): the fields the opt-in form lets them correct (name, phone, mailing address), taken by
    the contractor service as it takes those confirmed at opt-in. Never the email (it signs them
    in) nor a tax id (the portal does not collect one)."""

    SUBJECT = "ten99.enrollment.contractor_details_corrected.v1"

    correction_id: str
    contractor_id: str
    first_name: str
    last_name: str
    phone: str | None = None
    address: Address
    corrected_at: datetime
