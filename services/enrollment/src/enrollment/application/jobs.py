"""The local copy of the company's jobs, kept from the contractor service's ``JobUpsertedV1`` and
``JobDeletedV1``: what a quote for a job and a contractor is priced from (its category code and
work state), without an assignment and without calling the contractor service.

Each message carries the job's full state and its version (the envelope's ``aggregate_version``;
a deletion's is above every upsert's). One conditional upsert keeps the highest version (then the
latest ``occurred_at``), so a repeated or late message changes nothing and the order of arrival
does not matter; a deleted job stays deleted.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from ten99_contracts import Envelope
from ten99_contracts.contractor_v1 import JobDeletedV1, JobUpsertedV1
from ten99kit import UnitOfWork, dialect_insert
from ten99kit.db import Row

from ..adapters.db import jobs

__all__ = ["find_job", "on_job_deleted", "on_job_upserted"]

_STATE = (
    "name",
    "description",
    "entity_id",
    "entity_name",
    "required_coverage",
    "category_code",
    "work_state",
    "wage_cents",
    "wage_type",
    "purchase_order_number",
    "deleted",
    "version",
    "observed_at",
)


@cache
def _upsert(dialect: str, columns: tuple[str, ...]) -> Any:
    stmt = dialect_insert(jobs, dialect)
    held, new = jobs.c, stmt.excluded
    newer = or_(new.version > held.version, and_(new.version == held.version, new.observed_at >= held.observed_at))
    return stmt.on_conflict_do_update(
        index_elements=[held.tenant_id, held.job_id],
        set_={name: new[name] for name in columns},
        where=and_(newer, or_(held.deleted.is_(False), new.deleted.is_(True))),
    )


async def on_job_upserted(uow: UnitOfWork, envelope: Envelope[JobUpsertedV1]) -> None:
    job = envelope.data
    row = {
        "tenant_id": envelope.tenant_id,
        "job_id": job.job_id,
        "name": job.name,
        "description": job.description,
        "entity_id": job.entity.entity_id,
        "entity_name": job.entity.name,
        "required_coverage": list(job.entity.required_coverage),
        "category_code": job.category_code,
        "work_state": job.work_state.upper() if job.work_state else None,
        "wage_cents": job.wage_cents,
        "wage_type": job.wage_type,
        "purchase_order_number": job.purchase_order_number,
        "deleted": False,
        "version": envelope.aggregate_version,
        "observed_at": envelope.occurred_at,
    }
    await uow.session.execute(_upsert(uow.db.dialect, _STATE), row)


async def on_job_deleted(uow: UnitOfWork, envelope: Envelope[JobDeletedV1]) -> None:
    """Kept as a deleted row (with placeholders if the job was never seen): an upsert that
    arrives after it cannot bring the job back."""
    row: dict[str, Any] = {
        "tenant_id": envelope.tenant_id,
        "job_id": envelope.data.job_id,
        "name": "",
        "description": "",
        "entity_id": "",
        "entity_name": "",
        "required_coverage": [],
        "category_code": "",
        "work_state": None,
        "wage_cents": 0,
        "wage_type": "",
        "purchase_order_number": None,
        "deleted": True,
        "version": envelope.aggregate_version,
        "observed_at": envelope.occurred_at,
    }
    await uow.session.execute(_upsert(uow.db.dialect, ("deleted", "version", "observed_at")), row)


async def find_job(session: AsyncSession, tenant_id: str, job_id: str) -> Row | None:
    """The job as the contractor service last announced it; None if unknown or deleted."""
    q = select(jobs).where(jobs.c.tenant_id == tenant_id, jobs.c.job_id == job_id, jobs.c.deleted.is_(False))
    return (await session.execute(q)).mappings().first()
