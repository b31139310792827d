"""The contractor's own insurance (policy's `UploadedCertificateReviewedV1`, approved): the
assignments it covers show "Own insurance" instead of a coverage status (the export's Coverage
Status ``own_insurance``), and the contractor's roster status is ``own_insurance`` unless ten99
coverage is bound for some of their work (``covered`` wins: roster.status_expression). A
contractor with their own insurance is no coverage gap for the assignments it covers (alerts.gap_filter:
an assignment it does not cover, and no ten99 coverage does, is one).

Idempotent and order-free: the time only moves forward and an assignment keeps the first upload
that covered it, so a repeated or late message changes nothing. Flagged, denied and error
reviews change nothing here (a flagged one approved later arrives as a new, approved message).
"""

from __future__ import annotations

from sqlalchemy import bindparam, case, or_, update
from ten99_contracts import Envelope
from ten99_contracts.policy_v1 import UploadedCertificateReviewedV1
from ten99kit import UnitOfWork, dialect_insert

from ..adapters.db import assignments, roster_status

__all__ = ["OWN_INSURANCE", "on_uploaded_certificate_reviewed"]

#: the roster status and the export's coverage status of work covered by the contractor's own insurance
OWN_INSURANCE = "own_insurance"

_MARK_COVERED = (
    update(assignments)
    .where(
        assignments.c.tenant_id == bindparam("tid"),
        assignments.c.contractor_id == bindparam("cid"),
        assignments.c.id.in_(bindparam("ids", expanding=True)),
        assignments.c.own_insurance_upload_id.is_(None),
    )
    .values(own_insurance_upload_id=bindparam("upload_id"))
)


async def on_uploaded_certificate_reviewed(uow: UnitOfWork, envelope: Envelope[UploadedCertificateReviewedV1]) -> None:
    data = envelope.data
    if data.status != "approved":
        return
    at = envelope.occurred_at
    stmt = dialect_insert(roster_status, uow.db.dialect).values(
        tenant_id=envelope.tenant_id, contractor_id=data.contractor_id, own_insurance_at=at
    )
    column = roster_status.c.own_insurance_at
    newer = or_(column.is_(None), stmt.excluded.own_insurance_at > column)
    upsert = stmt.on_conflict_do_update(
        index_elements=["tenant_id", "contractor_id"],
        set_={"own_insurance_at": case((newer, stmt.excluded.own_insurance_at), else_=column)},
    )
    await uow.session.execute(upsert)
    if data.covered_assignment_ids:
        params = {"tid": envelope.tenant_id, "cid": data.contractor_id, "ids": list(data.covered_assignment_ids)}
        await uow.session.execute(_MARK_COVERED, {**params, "upload_id": data.upload_id})
