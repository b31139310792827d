"""Translation of this service's rows into the contract messages it publishes (full snapshots),
and the emitting of them through a unit of work."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from msgspec import structs
from sqlalchemy import select
from ten99_contracts import Address, ContractorSnapshot, EntitySnapshot, JobSnapshot
from ten99_contracts.contractor_v1 import (
    AssignmentCreatedV1,
    AssignmentUpdatedV1,
    ContractorDeletedV1,
    ContractorRegisteredV1,
    ContractorUpdatedV1,
    JobDeletedV1,
    JobUpsertedV1,
    PoNumberSetV1,
)
from ten99kit import UnitOfWork
from ten99kit.db import Row

from ..adapters.db import assignments, contractors, entities, jobs

__all__ = [
    "address_struct",
    "announce_new_assignment",
    "contractor_snapshot",
    "emit_assignment_state",
    "emit_assignment_states",
    "emit_contractor",
    "emit_contractor_deleted",
    "emit_job",
    "emit_job_deleted",
    "emit_jobs_of",
    "emit_po_set",
    "job_snapshot",
    "load_states",
]


def address_struct(addr: Mapping[str, Any] | None) -> Address | None:
    if not addr:
        return None
    return Address(
        line1=addr["line1"],
        line2=addr.get("line2"),
        locality=addr["locality"],
        region=addr["region"],
        postalcode=addr["postalcode"],
        country=addr.get("country") or "US",
    )


def contractor_snapshot(contractor: Row) -> ContractorSnapshot:
    return ContractorSnapshot(
        contractor_id=contractor["id"],
        first_name=contractor["first_name"],
        last_name=contractor["last_name"],
        email=contractor["email"],
        phone=contractor["phone"],
        address=address_struct(contractor["address"]),
        company_name=contractor["company_name"],
    )


def entity_snapshot(entity: Row) -> EntitySnapshot:
    return EntitySnapshot(
        entity_id=entity["id"],
        name=entity["name"],
        required_coverage=list(entity["required_coverage"] or []),
        aggregate_limit_cents=entity["aggregate_limit"],
        occurrence_limit_cents=entity["occurrence_limit"],
    )


def job_snapshot(job: Row, entity: Row) -> JobSnapshot:
    return JobSnapshot(
        job_id=job["id"],
        name=job["name"],
        description=job["description"],
        category_code=job["category_code"],
        wage_cents=job["wage"],
        wage_type=job["wage_type"],
        work_state=job["work_state"],
        entity=entity_snapshot(entity),
        withhold_premium=job["withhold_premium"],
    )


def emit_contractor(uow: UnitOfWork, contractor: Row, *, created: bool) -> None:
    cls = ContractorRegisteredV1 if created else ContractorUpdatedV1
    snapshot = contractor_snapshot(contractor)
    uow.emit(
        cls(
            **structs.asdict(snapshot),
            withhold_premium=contractor["withhold_premium"],
            custom_metadata=dict(contractor["custom_metadata"] or {}),
        ),
        tenant_id=contractor["tenant_id"],
        aggregate_id=contractor["id"],
        aggregate_version=contractor["version"],
    )


def emit_contractor_deleted(uow: UnitOfWork, contractor: Row) -> None:
    uow.emit(
        ContractorDeletedV1(contractor_id=contractor["id"], email=contractor["email"]),
        tenant_id=contractor["tenant_id"],
        aggregate_id=contractor["id"],
        aggregate_version=contractor["version"] + 1,
    )


def emit_job(uow: UnitOfWork, job: Row, entity: Row, *, created: bool, source: str = "api") -> None:
    """A job's full state (``JobUpsertedV1``), whichever path wrote it; ``aggregate_version`` is
    the job's version, so consumers keep the newest."""
    metadata = dict(job["custom_metadata"] or {})
    uow.emit(
        JobUpsertedV1(
            job_id=job["id"],
            name=job["name"],
            description=job["description"],
            entity=entity_snapshot(entity),
            category_code=job["category_code"],
            work_state=job["work_state"],
            address=address_struct(job["address"]),
            wage_cents=job["wage"],
            wage_type=job["wage_type"],
            years_experience=job["years_experience"],
            withhold_premium=job["withhold_premium"],
            custom_metadata=metadata,
            purchase_order_number=metadata.get("purchase_order_number") or None,
            created=created,
            source=source,
        ),
        tenant_id=job["tenant_id"],
        aggregate_id=job["id"],
        aggregate_version=job["version"],
    )


def emit_job_deleted(uow: UnitOfWork, job: Row) -> None:
    uow.emit(
        JobDeletedV1(job_id=job["id"]),
        tenant_id=job["tenant_id"],
        aggregate_id=job["id"],
        # after every upsert of it, so that a consumer's version check keeps the deletion
        aggregate_version=job["version"] + 1,
    )


async def emit_jobs_of(uow: UnitOfWork, tenant_id: str, job_ids: list[str]) -> None:
    """Publish the current state of ``job_ids`` (with their end clients), read in two queries."""
    if not job_ids:
        return
    session = uow.session
    found = (await session.execute(select(jobs).where(jobs.c.tenant_id == tenant_id, jobs.c.id.in_(job_ids)))).mappings().all()
    entity_ids = {job["entity_id"] for job in found}
    by_id = {
        row["id"]: row
        for row in (
            await session.execute(select(entities).where(entities.c.tenant_id == tenant_id, entities.c.id.in_(entity_ids)))
        )
        .mappings()
        .all()
    }
    for job in found:
        emit_job(uow, job, by_id[job["entity_id"]], created=False)


def emit_assignment_state(
    uow: UnitOfWork,
    assignment: Row,
    contractor_row: Row,
    job: JobSnapshot,
    *,
    created: bool,
    contractor: ContractorSnapshot | None = None,
) -> None:
    cls = AssignmentCreatedV1 if created else AssignmentUpdatedV1
    uow.emit(
        cls(
            assignment_id=assignment["id"],
            contractor=contractor or contractor_snapshot(contractor_row),
            job=job,
            effective_date=assignment["effective_date"],
            end_date=assignment["end_date"],
            coverage_types=list(assignment["coverage_types"]),
            status=assignment["status"],
            po_number=assignment["po_number"],
            po_contact_email=assignment["po_contact_email"],
            campaign=assignment["campaign"],
            import_batch_id=assignment["import_batch_id"],
            source=assignment["source"],
        ),
        tenant_id=assignment["tenant_id"],
        aggregate_id=assignment["id"],
        aggregate_version=assignment["version"],
    )


def announce_new_assignment(
    uow: UnitOfWork,
    assignment: Row,
    contractor_row: Row,
    job: JobSnapshot,
    *,
    set_by: str | None,
    contractor: ContractorSnapshot | None = None,
) -> None:
    """What every new assignment says, whichever path made it: its state, and its PO if it has one."""
    emit_assignment_state(uow, assignment, contractor_row, job, created=True, contractor=contractor)
    if assignment["po_number"]:
        emit_po_set(uow, assignment, previous_po_number=None, set_by=set_by)


def emit_po_set(uow: UnitOfWork, assignment: Row, *, previous_po_number: str | None, set_by: str | None) -> None:
    uow.emit(
        PoNumberSetV1(
            assignment_id=assignment["id"],
            contractor_id=assignment["contractor_id"],
            po_number=assignment["po_number"],
            po_contact_email=assignment["po_contact_email"],
            campaign=assignment["campaign"],
            previous_po_number=previous_po_number,
            set_by=set_by,
        ),
        tenant_id=assignment["tenant_id"],
        aggregate_id=assignment["id"],
        aggregate_version=assignment["version"],
    )


async def load_states(uow: UnitOfWork, tenant_id: str, assignment_ids: list[str]) -> list[tuple[Row, Row, Row, Row]]:
    """Assignments with their contractor, job and entity: four queries whatever the count."""
    if not assignment_ids:
        return []
    session = uow.session
    a_rows = (
        (
            await session.execute(
                select(assignments).where(assignments.c.tenant_id == tenant_id, assignments.c.id.in_(assignment_ids))
            )
        )
        .mappings()
        .all()
    )
    c_ids = {assignment["contractor_id"] for assignment in a_rows}
    j_ids = {assignment["job_id"] for assignment in a_rows}
    cs = {
        row["id"]: row
        for row in (
            await session.execute(select(contractors).where(contractors.c.tenant_id == tenant_id, contractors.c.id.in_(c_ids)))
        )
        .mappings()
        .all()
    }
    js = {
        row["id"]: row
        for row in (await session.execute(select(jobs).where(jobs.c.tenant_id == tenant_id, jobs.c.id.in_(j_ids))))
        .mappings()
        .all()
    }
    e_ids = {j["entity_id"] for j in js.values()}
    es = {
        row["id"]: row
        for row in (await session.execute(select(entities).where(entities.c.tenant_id == tenant_id, entities.c.id.in_(e_ids))))
        .mappings()
        .all()
    }
    return [
        (assignment, cs[assignment["contractor_id"]], js[assignment["job_id"]], es[js[assignment["job_id"]]["entity_id"]])
        for assignment in a_rows
    ]


async def emit_assignment_states(uow: UnitOfWork, tenant_id: str, assignment_ids: list[str], *, created: bool) -> None:
    for a, c, j, e in await load_states(uow, tenant_id, assignment_ids):
        emit_assignment_state(uow, a, c, job_snapshot(j, e), created=created)
