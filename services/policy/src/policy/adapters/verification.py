"""The read behind a certificate's public status page: one certificate by its verification id,
with what its live status depends on (its coverage's and policy's status, and the certificate
that superseded it). The verification id is the key: the row names its own tenant, and every
join stays inside it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from .db import certificates, coverages, policies

__all__ = ["certificate_by_verification_id"]


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
