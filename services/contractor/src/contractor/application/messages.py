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
    ContractorRegisteredV1,
    ContractorUpdatedV1,
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


def contractor_snapshot(c: Row) -> ContractorSnapshot:
    return ContractorSnapshot(
        contractor_id=c["id"],
        first_name=c["first_name"],
        last_name=c["last_name"],
        email=c["email"],
        phone=c["phone"],
        address=address_struct(c["address"]),
        company_name=c["company_name"],
    )


def entity_snapshot(e: Row) -> EntitySnapshot:
    return EntitySnapshot(
        entity_id=e["id"],
        name=e["name"],
        required_coverage=list(e["required_coverage"] or []),
        aggregate_limit_cents=e["aggregate_limit"],
        occurrence_limit_cents=e["occurrence_limit"],
    )


def job_snapshot(j: Row, e: Row) -> JobSnapshot:
    return JobSnapshot(
        job_id=j["id"],
        name=j["name"],
        description=j["description"],
        category_code=j["category_code"],
        wage_cents=j["wage"],
        wage_type=j["wage_type"],
        work_state=j["work_state"],
        entity=entity_snapshot(e),
        withhold_premium=j["withhold_premium"],
    )


def emit_contractor(uow: UnitOfWork, c: Row, *, created: bool) -> None:
    cls = ContractorRegisteredV1 if created else ContractorUpdatedV1
    snapshot = contractor_snapshot(c)
    uow.emit(
        cls(
            **structs.asdict(snapshot),
            withhold_premium=c["withhold_premium"],
            custom_metadata=dict(c["custom_metadata"] or {}),
        ),
        tenant_id=c["tenant_id"],
        aggregate_id=c["id"],
        aggregate_version=c["version"],
    )


def emit_assignment_state(
    uow: UnitOfWork,
    a: Row,
    c: Row,
    job: JobSnapshot,
    *,
    created: bool,
    contractor: ContractorSnapshot | None = None,
) -> None:
    cls = AssignmentCreatedV1 if created else AssignmentUpdatedV1
    uow.emit(
        cls(
            assignment_id=a["id"],
            contractor=contractor or contractor_snapshot(c),
            job=job,
            effective_date=a["effective_date"],
            end_date=a["end_date"],
            coverage_types=list(a["coverage_types"]),
            status=a["status"],
            po_number=a["po_number"],
            po_contact_email=a["po_contact_email"],
            campaign=a["campaign"],
            import_batch_id=a["import_batch_id"],
            source=a["source"],
        ),
        tenant_id=a["tenant_id"],
        aggregate_id=a["id"],
        aggregate_version=a["version"],
    )


def announce_new_assignment(
    uow: UnitOfWork,
    a: Row,
    c: Row,
    job: JobSnapshot,
    *,
    set_by: str | None,
    contractor: ContractorSnapshot | None = None,
) -> None:
    """What every new assignment says, whichever path made it: its state, and its PO if it has one."""
    emit_assignment_state(uow, a, c, job, created=True, contractor=contractor)
    if a["po_number"]:
        emit_po_set(uow, a, previous_po_number=None, set_by=set_by)


def emit_po_set(uow: UnitOfWork, a: Row, *, previous_po_number: str | None, set_by: str | None) -> None:
    uow.emit(
        PoNumberSetV1(
            assignment_id=a["id"],
            contractor_id=a["contractor_id"],
            po_number=a["po_number"],
            po_contact_email=a["po_contact_email"],
            campaign=a["campaign"],
            previous_po_number=previous_po_number,
            set_by=set_by,
        ),
        tenant_id=a["tenant_id"],
        aggregate_id=a["id"],
        aggregate_version=a["version"],
    )


async def load_states(uow: UnitOfWork, tenant_id: str, assignment_ids: list[str]) -> list[tuple[Row, Row, Row, Row]]:
    """Assignments with their contractor, job and entity: four queries whatever the count."""
    if not assignment_ids:
        return []
    s = uow.session
    a_rows = (
        (await s.execute(select(assignments).where(assignments.c.tenant_id == tenant_id, assignments.c.id.in_(assignment_ids))))
        .mappings()
        .all()
    )
    c_ids = {a["contractor_id"] for a in a_rows}
    j_ids = {a["job_id"] for a in a_rows}
    cs = {
        r["id"]: r
        for r in (await s.execute(select(contractors).where(contractors.c.tenant_id == tenant_id, contractors.c.id.in_(c_ids))))
        .mappings()
        .all()
    }
    js = {
        r["id"]: r
        for r in (await s.execute(select(jobs).where(jobs.c.tenant_id == tenant_id, jobs.c.id.in_(j_ids)))).mappings().all()
    }
    e_ids = {j["entity_id"] for j in js.values()}
    es = {
        r["id"]: r
        for r in (await s.execute(select(entities).where(entities.c.tenant_id == tenant_id, entities.c.id.in_(e_ids))))
        .mappings()
        .all()
    }
    return [(a, cs[a["contractor_id"]], js[a["job_id"]], es[js[a["job_id"]]["entity_id"]]) for a in a_rows]


async def emit_assignment_states(uow: UnitOfWork, tenant_id: str, assignment_ids: list[str], *, created: bool) -> None:
    for a, c, j, e in await load_states(uow, tenant_id, assignment_ids):
        emit_assignment_state(uow, a, c, job_snapshot(j, e), created=created)
