"""The read behind a certificate's public status page: one certificate by its verification id,
with what its live status depends on (its coverage's and policy's status, and the certificate
that superseded it). The verification id is the key: the row names its own tenant, and every
join stays inside it.

`assignment_verifications` is the facility view's read (docs/facility-view.md): per assignment of
one company, its coverage's status facts and the verification id of its current certificate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from .db import certificates, coverages, policies

__all__ = ["assignment_verifications", "certificate_by_verification_id"]


async def certificate_by_verification_id(session: AsyncSession, verification_id: str) -> Any:
    """The certificate's public facts and what its status depends on, or None."""
    cert = certificates
    newer = certificates.alias("newer")
    q = (
        select(
            cert.c.verification_id,
            cert.c.number,
            cert.c.issued_at,
            cert.c.status.label("certificate_status"),
            cert.c.holder_name,
            cert.c.coverage_types,
            cert.c.effective_date,
            cert.c.end_date,
            cert.c.document,
            coverages.c.status.label("coverage_status"),
            policies.c.status.label("policy_status"),
            newer.c.verification_id.label("superseded_by"),
        )
        .select_from(cert)
        .outerjoin(coverages, and_(coverages.c.tenant_id == cert.c.tenant_id, coverages.c.id == cert.c.coverage_id))
        .outerjoin(policies, and_(policies.c.tenant_id == cert.c.tenant_id, policies.c.id == cert.c.policy_id))
        .outerjoin(newer, and_(newer.c.tenant_id == cert.c.tenant_id, newer.c.id == cert.c.superseded_by))
        .where(cert.c.verification_id == verification_id)
    )
    return (await session.execute(q)).first()


async def assignment_verifications(session: AsyncSession, tenant_id: str, assignment_ids: Sequence[str]) -> list[Any]:
    """The company's coverages of ``assignment_ids`` (at most one each) with what their live status
    depends on and their current certificate's verification id (None before it is issued)."""
    q = (
        select(
            coverages.c.assignment_id,
            coverages.c.id.label("coverage_id"),
            coverages.c.status.label("coverage_status"),
            coverages.c.effective_date,
            coverages.c.end_date,
            policies.c.status.label("policy_status"),
            certificates.c.status.label("certificate_status"),
            certificates.c.verification_id,
        )
        .select_from(coverages)
        .outerjoin(policies, and_(policies.c.tenant_id == coverages.c.tenant_id, policies.c.id == coverages.c.policy_id))
        .outerjoin(
            certificates, and_(certificates.c.tenant_id == coverages.c.tenant_id, certificates.c.id == coverages.c.certificate_id)
        )
        .where(coverages.c.tenant_id == tenant_id, coverages.c.assignment_id.in_(list(assignment_ids)))
    )
    return list((await session.execute(q)).all())
