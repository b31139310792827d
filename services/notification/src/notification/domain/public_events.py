"""The one mapping from internal messages to 1099Policy's public event types: which subject
becomes which ``type``, and the ``data.object`` it carries (the object's id, an ``object`` type tag
and the fields the message carries, in 1099Policy's naming: ``contractor``, ``policy``,
``coverage_type``, dates as epoch seconds). No I/O.

Left out on purpose: bearer links (the opt-in URL, the certificate download link), documents
(PDF bytes), e-mail recipients of invoices, a contractor's date of birth and the consent's IP
address and user agent: webhooks leave the system, and the company can ask for more by id.

Public types ten99 never records (subscribable, so that a platform's subscription list written
for 1099Policy is accepted; docs/public-api.md, "Events", says why each has no source):
``application.manual_review``, ``application.manual_review_approved`` (no manual review: the
rules decide at once), ``policy.active.media`` (no media coverage is offered),
``invoice.charge_card_succeeded|failed`` (no card is charged: premiums are invoiced) and
``category_code.added`` (the category catalogue is seeded with the rate table; nothing adds to it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ten99_contracts import Address, CoverageTerms, Envelope
from ten99_contracts.billing_v1 import InvoiceIssuedV1, InvoicePaidV1, InvoiceVoidedV1
from ten99_contracts.contractor_v1 import AssignmentCancelledV1, ContractorRegisteredV1, ContractorUpdatedV1
from ten99_contracts.enrollment_v1 import (
    ApplicationCompletedV1,
    ApplicationIneligibleV1,
    ApplicationStartedV1,
    InvitationExpiredV1,
    InvitationIssuedV1,
)
from ten99_contracts.policy_v1 import (
    CertificateIssuedV1,
    CoverageActivatedV1,
    CoverageCancelledV1,
    PolicyActivatedV1,
    PolicyCancelledV1,
    PolicyReactivatedV1,
    UploadedCertificateReviewedV1,
)
from ten99kit.clock import epoch

__all__ = [
    "EVENT_TYPES",
    "MAPPINGS",
    "SOURCED_EVENT_TYPES",
    "UNSOURCED_EVENT_TYPES",
    "PublicEvent",
    "public_event",
]


@dataclass(frozen=True)
class PublicEvent:
    """What one message becomes. ``dedupe_key`` names the business fact when two messages can
    tell the same one (an assignment is cancelled once, whoever says so first); None: the message."""

    type: str
    object: dict[str, Any]
    dedupe_key: str | None = None


Builder = Callable[[Envelope[Any]], PublicEvent | None]


def _address(address: Address | None) -> dict[str, Any] | None:
    if address is None:
        return None
    return {
        "line1": address.line1,
        "line2": address.line2,
        "locality": address.locality,
        "region": address.region,
        "postalcode": address.postalcode,
        "country": address.country,
    }


def _invitation(m: InvitationIssuedV1 | InvitationExpiredV1, status: str) -> dict[str, Any]:
    return {"id": m.invitation_id, "object": "application_invitation", "contractor": m.contractor_id, "status": status}


def _application_created(e: Envelope[InvitationIssuedV1]) -> PublicEvent | None:
    m = e.data
    if m.reissue:  # a new link for the same application, not a new application
        return None
    body = _invitation(m, "created") | {"assignments": list(m.assignment_ids), "expires_at": epoch(m.expires_at)}
    return PublicEvent("application.created", body)


def _application_expired(e: Envelope[InvitationExpiredV1]) -> PublicEvent:
    return PublicEvent("application.expired", _invitation(e.data, "expired"))


def _session(m: ApplicationStartedV1 | ApplicationCompletedV1 | ApplicationIneligibleV1, status: str) -> dict[str, Any]:
    return {
        "id": m.session_id,
        "object": "application_session",
        "contractor": m.contractor_id,
        "invitation": m.invitation_id,
        "status": status,
    }


def _application_started(e: Envelope[ApplicationStartedV1]) -> PublicEvent:
    return PublicEvent("application.started", _session(e.data, "started"))


def _application_complete(e: Envelope[ApplicationCompletedV1]) -> PublicEvent:
    m = e.data
    assignments = [
        {
            "assignment": q.assignment_id,
            "quote": q.quote_id,
            "job": q.job_id,
            "category_code": q.category_code,
            "coverage_type": list(q.coverage_types),
            "home_state": q.home_state,
            "work_state": q.work_state,
            "effective_date": epoch(q.effective_date),
            "end_date": epoch(q.end_date),
            "net_rate": q.net_rate,
            "gl_net_rate": q.gl_net_rate,
            "wc_net_rate": q.wc_net_rate,
        }
        for q in m.assignments
    ]
    body = _session(m, "complete") | {
        "first_name": m.first_name,
        "last_name": m.last_name,
        "email": m.email,
        "signed_at": epoch(m.consent.signed_at),
        "assignments": assignments,
    }
    return PublicEvent("application.complete", body)


def _application_ineligible(e: Envelope[ApplicationIneligibleV1]) -> PublicEvent:
    return PublicEvent("application.ineligible", _session(e.data, "ineligible") | {"reasons": list(e.data.reasons)})


def _policy(m: PolicyActivatedV1 | PolicyCancelledV1 | PolicyReactivatedV1, status: str) -> dict[str, Any]:
    """What every policy event says of its policy (1099Policy's policy object, in part)."""
    return {
        "id": m.policy_id,
        "object": "policy",
        "policy_number": m.policy_number,
        "contractor": m.contractor_id,
        "coverage_type": list(m.coverage_types),
        "status": status,
    }


def _policy_active(e: Envelope[PolicyActivatedV1]) -> PublicEvent:
    m = e.data
    body = _policy(m, "active") | {
        "session": m.session_id,
        "home_state": m.home_state,
        "effective_date": epoch(m.effective_date),
    }
    return PublicEvent("policy.active", body)


def _policy_cancelled(e: Envelope[PolicyCancelledV1]) -> PublicEvent:
    m = e.data
    body = _policy(m, "cancelled") | {"reason": m.reason, "cancelled_at": epoch(m.cancelled_at)}
    return PublicEvent("policy.cancelled", body)


def _policy_reactivated(e: Envelope[PolicyReactivatedV1]) -> PublicEvent:
    m = e.data
    body = _policy(m, "active") | {"assignment": m.assignment_id, "reactivated_at": epoch(m.reactivated_at)}
    return PublicEvent("policy.reactivated", body)


def _assignment(terms: CoverageTerms, status: str) -> dict[str, Any]:
    return {
        "id": terms.assignment_id,
        "object": "assignment",
        "contractor": terms.contractor_id,
        "policy": terms.policy_id,
        "coverage": terms.coverage_id,
        "coverage_type": list(terms.coverage_types),
        "effective_date": epoch(terms.effective_date),
        "end_date": epoch(terms.end_date),
        "net_rate": terms.net_rate,
        "gl_net_rate": terms.gl_net_rate,
        "wc_net_rate": terms.wc_net_rate,
        "status": status,
    }


def _assignment_active(e: Envelope[CoverageActivatedV1]) -> PublicEvent:
    return PublicEvent("assignment.active", _assignment(e.data.terms, "active"))


def _coverage_cancelled(e: Envelope[CoverageCancelledV1]) -> PublicEvent:
    m = e.data
    body = _assignment(m.terms, "cancelled") | {"reason": m.reason}
    return PublicEvent("assignment.cancelled", body, dedupe_key=f"assignment.cancelled:{m.terms.assignment_id}")


def _assignment_cancelled(e: Envelope[AssignmentCancelledV1]) -> PublicEvent:
    m = e.data
    body = {
        "id": m.assignment_id,
        "object": "assignment",
        "contractor": m.contractor_id,
        "status": "cancelled",
        "reason": m.reason,
        "cancelled_at": epoch(m.cancelled_at),
    }
    return PublicEvent("assignment.cancelled", body, dedupe_key=f"assignment.cancelled:{m.assignment_id}")


def _invoice_issued(e: Envelope[InvoiceIssuedV1]) -> PublicEvent:
    m = e.data
    lines = [
        {
            "object": "invoice_line",
            "assignment": line.assignment_id,
            "description": line.description,
            "gross_pay": line.pay_cents,
            "net_rate": line.net_rate,
            "premium_due": line.premium_cents,
            "platform_fee": line.platform_fee_cents,
            "amount": line.amount_cents,
        }
        for line in m.lines
    ]
    body = {
        "id": m.invoice_id,
        "object": "invoice",
        "number": m.invoice_number,
        "purchase_order_number": m.po_number,
        "period": m.period,
        "status": "open",
        "currency": m.currency,
        "premium_due": m.premium_cents,
        "platform_fee": m.platform_fee_cents,
        "total": m.total_cents,
        "issued_at": epoch(m.issued_at),
        "due_date": epoch(m.due_date),
        "lines": lines,
    }
    return PublicEvent("invoice.issued", body)


def _invoice_paid(e: Envelope[InvoicePaidV1]) -> PublicEvent:
    m = e.data
    body = {
        "id": m.invoice_id,
        "object": "invoice",
        "number": m.invoice_number,
        "status": "paid",
        "amount_paid": m.amount_cents,
        "paid_at": epoch(m.paid_at),
    }
    return PublicEvent("invoice.paid", body)


def _invoice_voided(e: Envelope[InvoiceVoidedV1]) -> PublicEvent:
    m = e.data
    body = {"id": m.invoice_id, "object": "invoice", "number": m.invoice_number, "status": "void", "reason": m.reason}
    return PublicEvent("invoice.voided", body)


def _certificate_issued(e: Envelope[CertificateIssuedV1]) -> PublicEvent:
    m = e.data
    body = {
        "id": m.certificate_id,
        "object": "certificate",
        "number": m.certificate_number,
        "status": "issued",
        "assignment": m.assignment_id,
        "contractor": m.contractor_id,
        "policy": m.policy_id,
        "policy_number": m.policy_number,
        "holder_name": m.holder_name,
        "coverage_type": list(m.coverage_types),
        "effective_date": epoch(m.effective_date),
        "end_date": epoch(m.end_date),
        "issued_at": epoch(m.issued_at),
        "supersedes": m.supersedes,
        "reason": m.reason,
    }
    return PublicEvent("certificate.issued", body)


def _uploaded_certificate(e: Envelope[UploadedCertificateReviewedV1]) -> PublicEvent:
    """An uploaded certificate reviewed, or decided by a person: ``certificate.<status>`` with
    1099Policy's certificate object (its id ``ci_``); the PDF's link is left out (a bearer link)."""
    m = e.data
    failed = [{"rule": f.rule, "hard": f.hard, "message": f.message, "assignment": f.assignment_id} for f in m.failures]
    body = {
        "id": m.upload_id,
        "object": "certificate",
        "contractor": m.contractor_id,
        "assignment": m.assignment_id,
        "assignments": list(m.assignment_ids),
        "covered_assignments": list(m.covered_assignment_ids),
        "status": m.status,
        "filename": m.filename,
        "sha256": m.sha256,
        "failed_rules": failed,
        "decided_by": m.decided_by,
        "updated": epoch(m.reviewed_at),
    }
    return PublicEvent(f"certificate.{m.status}", body)


def _contractor(m: ContractorRegisteredV1 | ContractorUpdatedV1) -> dict[str, Any]:
    return {
        "id": m.contractor_id,
        "object": "contractor",
        "first_name": m.first_name,
        "last_name": m.last_name,
        "email": m.email,
        "phone": m.phone,
        "address": _address(m.address),
        "company_name": m.company_name,
        "withhold_premium": m.withhold_premium,
        "custom_metadata": dict(m.custom_metadata),
    }


def _contractor_created(e: Envelope[ContractorRegisteredV1]) -> PublicEvent:
    return PublicEvent("contractor.created", _contractor(e.data))


def _contractor_updated(e: Envelope[ContractorUpdatedV1]) -> PublicEvent:
    return PublicEvent("contractor.updated", _contractor(e.data))


#: subject -> (the message type, its builder). bootstrap subscribes to each subject.
MAPPINGS: dict[str, tuple[type[Any], Builder]] = {
    InvitationIssuedV1.SUBJECT: (InvitationIssuedV1, _application_created),
    InvitationExpiredV1.SUBJECT: (InvitationExpiredV1, _application_expired),
    ApplicationStartedV1.SUBJECT: (ApplicationStartedV1, _application_started),
    ApplicationCompletedV1.SUBJECT: (ApplicationCompletedV1, _application_complete),
    ApplicationIneligibleV1.SUBJECT: (ApplicationIneligibleV1, _application_ineligible),
    PolicyActivatedV1.SUBJECT: (PolicyActivatedV1, _policy_active),
    PolicyCancelledV1.SUBJECT: (PolicyCancelledV1, _policy_cancelled),
    PolicyReactivatedV1.SUBJECT: (PolicyReactivatedV1, _policy_reactivated),
    CoverageActivatedV1.SUBJECT: (CoverageActivatedV1, _assignment_active),
    CoverageCancelledV1.SUBJECT: (CoverageCancelledV1, _coverage_cancelled),
    AssignmentCancelledV1.SUBJECT: (AssignmentCancelledV1, _assignment_cancelled),
    InvoiceIssuedV1.SUBJECT: (InvoiceIssuedV1, _invoice_issued),
    InvoicePaidV1.SUBJECT: (InvoicePaidV1, _invoice_paid),
    InvoiceVoidedV1.SUBJECT: (InvoiceVoidedV1, _invoice_voided),
    CertificateIssuedV1.SUBJECT: (CertificateIssuedV1, _certificate_issued),
    UploadedCertificateReviewedV1.SUBJECT: (UploadedCertificateReviewedV1, _uploaded_certificate),
    ContractorRegisteredV1.SUBJECT: (ContractorRegisteredV1, _contractor_created),
    ContractorUpdatedV1.SUBJECT: (ContractorUpdatedV1, _contractor_updated),
}

#: types recorded from the bus (``invoice.issued|paid|voided`` and ``certificate.issued`` are ours:
#: 1099Policy documents no invoice or certificate lifecycle event we have a source for)
SOURCED_EVENT_TYPES = (
    "application.created",
    "application.started",
    "application.complete",
    "application.expired",
    "application.ineligible",
    "policy.active",
    "policy.cancelled",
    "policy.reactivated",
    "assignment.active",
    "assignment.cancelled",
    "invoice.issued",
    "invoice.paid",
    "invoice.voided",
    "certificate.issued",
    "certificate.approved",
    "certificate.flagged",
    "certificate.denied",
    "certificate.error",
    "contractor.created",
    "contractor.updated",
)

#: 1099Policy's types ten99 never records (see the module's docstring)
UNSOURCED_EVENT_TYPES = (
    "application.manual_review",
    "application.manual_review_approved",
    "policy.active.media",
    "invoice.charge_card_succeeded",
    "invoice.charge_card_failed",
    "category_code.added",
)

#: every type an endpoint may subscribe to and the events list may filter on
EVENT_TYPES = frozenset(SOURCED_EVENT_TYPES + UNSOURCED_EVENT_TYPES)


def public_event(envelope: Envelope[Any]) -> PublicEvent | None:
    """The public event a message becomes, or None (a subject with no public counterpart)."""
    mapping = MAPPINGS.get(envelope.subject)
    return mapping[1](envelope) if mapping else None
