"""What usage invoices are checked and priced against, kept from other contexts' messages.

- contractors (``ContractorRegisteredV1``, ``ContractorUpdatedV1``, ``ContractorDeletedV1``): known
  or deleted (a deletion is final);
- jobs (``JobUpsertedV1``, ``JobDeletedV1``): known, and their default PO, newest by
  ``aggregate_version``;
- quotes bound as priced without an assignment (``ApplicationCompletedV1.quote``): the job, span
  and net rate, under the rule the policy service binds them by (a quote that names an assignment
  is that assignment's coverage, which ``CoverageBoundV1`` brings; one whose end has passed is
  not bound).

Each handler is an upsert keyed by the business id: repeated or reordered messages are harmless.
"""

from __future__ import annotations

import functools
import weakref
from typing import Any

from sqlalchemy import or_
from ten99_contracts import Envelope
from ten99_contracts.contractor_v1 import (
    ContractorDeletedV1,
    ContractorRegisteredV1,
    ContractorUpdatedV1,
    JobDeletedV1,
    JobUpsertedV1,
)
from ten99_contracts.enrollment_v1 import ApplicationCompletedV1
from ten99kit import UnitOfWork, dialect_insert, insert_ignore

from ..adapters.db import known_contractors, known_jobs, quoted_coverages

__all__ = [
    "on_application_completed",
    "on_contractor_deleted",
    "on_contractor_known",
    "on_job_deleted",
    "on_job_upserted",
]


@functools.cache
def _upsert_contractors(dialect: str) -> Any:
    """Built once per dialect (building and keying an upsert costs as much Python time as running it)."""
    stmt = dialect_insert(known_contractors, dialect)
    return stmt.on_conflict_do_update(
        index_elements=[known_contractors.c.tenant_id, known_contractors.c.contractor_id],
        set_={"deleted": or_(known_contractors.c.deleted, stmt.excluded.deleted), "at": stmt.excluded.at},
    )


#: contractors heard of in a consumer's unit of work, written in one statement when it commits
_pending_contractors: weakref.WeakKeyDictionary[UnitOfWork, dict[tuple[str, str], dict[str, Any]]] = weakref.WeakKeyDictionary()


def _contractor(uow: UnitOfWork, envelope: Envelope[Any], contractor_id: str, *, deleted: bool) -> None:
    """Keep the contractor for the batch's one upsert; the same contractor twice in a batch is one
    row (a deletion is final, the later time wins), as the upsert would have made of it."""
    pending = _pending_contractors.get(uow)
    if pending is None:
        pending = _pending_contractors[uow] = {}

        async def write() -> None:
            rows = list(_pending_contractors.pop(uow, {}).values())
            if rows:
                await uow.session.execute(_upsert_contractors(uow.db.dialect), rows)

        uow.before_commit(write)
    key = (envelope.tenant_id, contractor_id)
    earlier = pending.get(key)
    pending[key] = {
        "tenant_id": envelope.tenant_id,
        "contractor_id": contractor_id,
        "deleted": deleted or (earlier is not None and earlier["deleted"]),
        "at": envelope.occurred_at,
    }


async def on_contractor_known(uow: UnitOfWork, envelope: Envelope[ContractorRegisteredV1 | ContractorUpdatedV1]) -> None:
    _contractor(uow, envelope, envelope.data.contractor_id, deleted=False)


async def on_contractor_deleted(uow: UnitOfWork, envelope: Envelope[ContractorDeletedV1]) -> None:
    _contractor(uow, envelope, envelope.data.contractor_id, deleted=True)


async def _job(uow: UnitOfWork, envelope: Envelope[Any], job_id: str, *, po_number: str | None, deleted: bool) -> None:
    stmt = dialect_insert(known_jobs, uow.db.dialect).values(
        tenant_id=envelope.tenant_id, job_id=job_id, po_number=po_number, version=envelope.aggregate_version, deleted=deleted
    )
    newer = or_(stmt.excluded.version >= known_jobs.c.version, stmt.excluded.deleted)
    stmt = stmt.on_conflict_do_update(
        index_elements=[known_jobs.c.tenant_id, known_jobs.c.job_id],
        set_={
            "po_number": stmt.excluded.po_number,
            "version": stmt.excluded.version,
            "deleted": or_(known_jobs.c.deleted, stmt.excluded.deleted),
        },
        where=newer,
    )
    await uow.session.execute(stmt)


async def on_job_upserted(uow: UnitOfWork, envelope: Envelope[JobUpsertedV1]) -> None:
    job = envelope.data
    po = (job.purchase_order_number or job.custom_metadata.get("purchase_order_number") or "").strip()
    await _job(uow, envelope, job.job_id, po_number=po[:100] or None, deleted=False)


async def on_job_deleted(uow: UnitOfWork, envelope: Envelope[JobDeletedV1]) -> None:
    await _job(uow, envelope, envelope.data.job_id, po_number=None, deleted=True)


async def on_application_completed(uow: UnitOfWork, envelope: Envelope[ApplicationCompletedV1]) -> None:
    data = envelope.data
    quote = data.quote
    if quote is None or quote.assignment_id is not None or any(q.quote_id == quote.quote_id for q in data.assignments):
        return
    if quote.end_date < envelope.occurred_at.date():
        return  # ended before it could be bound: the policy service binds nothing either
    await uow.session.execute(
        insert_ignore(quoted_coverages, uow.db.dialect).values(
            tenant_id=envelope.tenant_id,
            quote_id=quote.quote_id,
            contractor_id=data.contractor_id,
            job_id=quote.job_id,
            effective_date=quote.effective_date,
            end_date=quote.end_date,
            net_rate=quote.net_rate,
        )
    )
