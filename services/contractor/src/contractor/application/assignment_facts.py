"""What other contexts decided about an assignment, kept on its row for 1099Policy's assignment
shape: ``eligible {result, message}`` (enrollment's verdict), ``policy`` (the policy its coverage
is bound on) and ``certificates`` (the newest certificate of insurance's links).

Sources: enrollment's ``AssignmentEnrolledV1`` (a repeat, eligible), ``ApplicationCompletedV1``
(its assignments eligible, ``not_covered`` ones not), ``ApplicationIneligibleV1`` (its
``assignment_ids`` not); policy's ``CoverageBoundV1``/``CoverageActivatedV1`` (the policy) and
``CertificateIssuedV1`` (the certificate, and the policy too).

Every write is one conditional UPDATE: a verdict replaces an older one only (``eligible_at``, the
envelope's ``occurred_at``), a certificate an older one only (``issued_at``), the policy is set
once. So a repeated message changes nothing and messages may arrive in any order. The assignment
row always exists first: this service made it before anyone could hear of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, or_, update
from ten99_contracts import Envelope
from ten99_contracts.enrollment_v1 import ApplicationCompletedV1, ApplicationIneligibleV1, AssignmentEnrolledV1
from ten99_contracts.policy_v1 import CertificateIssuedV1
from ten99kit import UnitOfWork

from ..adapters.db import assignments

__all__ = [
    "PRE_APPROVED",
    "on_assignment_enrolled",
    "on_certificate_issued",
    "record_application_completed",
    "record_application_ineligible",
    "record_coverage",
]

#: 1099Policy's message for an assignment covered without a new application
PRE_APPROVED = "Contractor is pre-approved for insurance coverage."
ELIGIBLE = "Contractor is eligible for coverage."

_a = assignments.c
_RECORD_VERDICT = (
    update(assignments)
    .where(
        _a.tenant_id == bindparam("tid"),
        _a.id == bindparam("aid"),
        or_(_a.eligible_at.is_(None), _a.eligible_at <= bindparam("at")),
    )
    .values(eligible=bindparam("result"), eligible_message=bindparam("message"), eligible_at=bindparam("at"))
)
_RECORD_POLICY = (
    update(assignments)
    .where(_a.tenant_id == bindparam("tid"), _a.id == bindparam("aid"), _a.policy_id.is_(None))
    .values(policy_id=bindparam("pid"))
)
#: bound coverage is an eligible assignment, whatever verdict message has not arrived yet
_ELIGIBLE_IF_UNKNOWN = (
    update(assignments)
    .where(_a.tenant_id == bindparam("tid"), _a.id == bindparam("aid"), _a.eligible_at.is_(None))
    .values(eligible=True, eligible_message=ELIGIBLE, eligible_at=bindparam("at"))
)
_RECORD_CERTIFICATE = (
    update(assignments)
    .where(
        _a.tenant_id == bindparam("tid"),
        _a.id == bindparam("aid"),
        or_(_a.certificate_issued_at.is_(None), _a.certificate_issued_at <= bindparam("at")),
    )
    .values(certificates=bindparam("certificates"), certificate_issued_at=bindparam("at"))
)


async def _record_verdicts(uow: UnitOfWork, tenant_id: str, verdicts: Sequence[tuple[str, bool, str]], at: datetime) -> None:
    """``verdicts``: (assignment id, eligible, message)."""
    if verdicts:
        params = [
            {"tid": tenant_id, "aid": aid, "result": result, "message": message, "at": at} for aid, result, message in verdicts
        ]
        await uow.session.execute(_RECORD_VERDICT, params)


async def on_assignment_enrolled(uow: UnitOfWork, envelope: Envelope[AssignmentEnrolledV1]) -> None:
    quote = envelope.data.quote
    verdict = (quote.assignment_id, True, quote.eligibility_message or PRE_APPROVED)
    await _record_verdicts(uow, envelope.tenant_id, [verdict], envelope.occurred_at)


async def record_application_completed(uow: UnitOfWork, envelope: Envelope[ApplicationCompletedV1]) -> None:
    data = envelope.data
    verdicts = [(q.assignment_id, True, q.eligibility_message or ELIGIBLE) for q in data.assignments]
    verdicts += [(refused.assignment_id, False, refused.reason) for refused in data.not_covered]
    await _record_verdicts(uow, envelope.tenant_id, verdicts, envelope.occurred_at)


async def record_application_ineligible(uow: UnitOfWork, envelope: Envelope[ApplicationIneligibleV1]) -> None:
    data = envelope.data
    message = " ".join(data.reasons) or "The contractor is not eligible for coverage."
    verdicts = [(assignment_id, False, message) for assignment_id in data.assignment_ids]
    await _record_verdicts(uow, envelope.tenant_id, verdicts, envelope.occurred_at)


async def record_coverage(uow: UnitOfWork, tenant_id: str, assignment_id: str, policy_id: str, at: datetime) -> None:
    """Coverage bound or active: the assignment's policy (and, if no verdict came yet, eligible)."""
    params = {"tid": tenant_id, "aid": assignment_id, "pid": policy_id, "at": at}
    await uow.session.execute(_RECORD_POLICY, params)
    await uow.session.execute(_ELIGIBLE_IF_UNKNOWN, params)


def certificate_links(data: CertificateIssuedV1) -> dict[str, Any]:
    """1099Policy's ``certificates`` object: one certificate covers every line, so the GL and WC
    links are the same document (each present only for a line the assignment has)."""
    links: dict[str, Any] = {"certificate_id": data.certificate_id, "certificate_number": data.certificate_number}
    if "general" in data.coverage_types:
        links["gl_coi_pdf_url"] = data.download_url
    if "workers-comp" in data.coverage_types:
        links["wc_coi_pdf_url"] = data.download_url
    return links


async def on_certificate_issued(uow: UnitOfWork, envelope: Envelope[CertificateIssuedV1]) -> None:
    data = envelope.data
    params = {"tid": envelope.tenant_id, "aid": data.assignment_id, "certificates": certificate_links(data), "at": data.issued_at}
    await uow.session.execute(_RECORD_CERTIFICATE, params)
    await record_coverage(uow, envelope.tenant_id, data.assignment_id, data.policy_id, envelope.occurred_at)
