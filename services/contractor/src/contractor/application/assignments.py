"""Assignment use cases through the API: create, update (PUT), cancel, extend, delete.

Rules (domain/rules.py): new assignments start today or later and end within a year; dates
change only before the start, and once coverage is bound the end date moves only by extending;
cancelling is possible only before the start, is immediate and final; extending only moves the
end later (same end again: no-op). Every change bumps the assignment's ``version`` (the
``aggregate_version`` of its messages) and emits: created -> ``AssignmentCreatedV1`` (+
``PoNumberSetV1`` when it has a PO), PUT -> ``AssignmentUpdatedV1`` (+ ``PoNumberSetV1`` when the
PO changed), cancel -> ``AssignmentCancelledV1``, extend -> ``AssignmentExtendedV1``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from ten99_contracts.contractor_v1 import AssignmentCancelledV1, AssignmentExtendedV1
from ten99kit import ApiError, UnitOfWork, new_id
from ten99kit.db import Row
from ten99kit.request_keys import claim_request_key

from ..adapters.bulk import insert_assignments
from ..adapters.db import assignments, contractors, entities, jobs, request_keys
from ..adapters.queries import find_row, get_row, not_found
from ..domain import rules
from ..domain import values as v
from ..domain.assignments import PoFields, new_assignment
from .commands import AssignmentIn, provided
from .context import Context
from .directory import FieldErrors
from .messages import announce_new_assignment, emit_assignment_state, emit_po_set, job_snapshot

__all__ = [
    "cancel_assignment",
    "create_assignment",
    "delete_assignment",
    "extend_assignment",
    "profile_assignments",
    "update_assignment",
]


def _date_or_error(value: Any, code: str, what: str) -> Any:
    try:
        return v.parse_date(value, what=what)
    except v.Invalid as e:
        raise ApiError(f"{what}: {e}", error_code=code) from None


def _po_fields(data: dict[str, Any]) -> dict[str, Any]:
    problems = FieldErrors()
    out: dict[str, Any] = {}
    po_key = "po_number" if "po_number" in data else "purchase_order_number" if "purchase_order_number" in data else None
    if po_key:
        out["po_number"] = problems.take(
            po_key, lambda x: v.text(x, max_length=100, required=False, what="PO number"), data[po_key]
        )
    if "po_contact_email" in data:
        raw = data["po_contact_email"]
        out["po_contact_email"] = None if raw in (None, "") else problems.take("po_contact_email", v.parse_email, raw)
    if "campaign" in data:
        out["campaign"] = problems.take("campaign", lambda x: v.text(x, required=False, what="campaign"), data["campaign"])
    problems.check()
    return out


def _coverage(data: dict[str, Any]) -> list[str] | None:
    key = "coverage_type" if "coverage_type" in data else "coverage_types" if "coverage_types" in data else None
    if key is None or data[key] is None:
        return None
    try:
        return v.parse_coverage_types(data[key])
    except v.Invalid as e:
        raise ApiError({key: str(e)}, error_code="invalid_input") from None


async def _load_for_update(uow: UnitOfWork, tenant_id: str, assignment_id: str) -> dict[str, Any]:
    row = (
        (
            await uow.session.execute(
                select(assignments)
                .where(
                    assignments.c.tenant_id == tenant_id,
                    assignments.c.id == assignment_id,
                    assignments.c.deleted_at.is_(None),
                )
                .with_for_update()
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise not_found("assignment", assignment_id)
    return dict(row)


async def _emit_state(uow: UnitOfWork, tenant_id: str, a: dict[str, Any], *, created: bool) -> None:
    s = uow.session
    c = (await s.execute(select(contractors).where(contractors.c.id == a["contractor_id"]))).mappings().one()
    j = (await s.execute(select(jobs).where(jobs.c.id == a["job_id"]))).mappings().one()
    e = (await s.execute(select(entities).where(entities.c.id == j["entity_id"]))).mappings().one()
    emit_assignment_state(uow, a, c, job_snapshot(j, e), created=created)


@dataclass(frozen=True)
class _Requested:
    """A create request, checked: what the new assignment is to be."""

    contractor_id: str
    job_id: str
    effective: date
    end: date
    coverage: list[str] | None
    po: PoFields


def _check_create(data: dict[str, Any], today: date) -> _Requested:
    contractor_id, job_id = data.get("contractor"), data.get("job")
    if not isinstance(contractor_id, str) or not contractor_id:
        raise ApiError("contractor is required", error_code="invalid_contractor_id")
    if not isinstance(job_id, str) or not job_id:
        raise ApiError("job is required", error_code="invalid_job_id")
    effective = (
        None
        if data.get("effective_date") is None
        else _date_or_error(data["effective_date"], "effective_date_invalid", "effective_date")
    )
    end = None if data.get("end_date") is None else _date_or_error(data["end_date"], "end_date_invalid", "end_date")
    effective, end = rules.default_dates(today, effective, end)
    rules.check_new_dates(effective, end, today)
    coverage = _coverage(data)
    po = _po_fields(data)
    return _Requested(contractor_id, job_id, effective, end, coverage, PoFields(**po, set_by=data.get("set_by")))


async def _parties(uow: UnitOfWork, tenant_id: str, wanted: _Requested) -> tuple[Row, Row, Row]:
    """The contractor, job and end client of a new assignment (the ids must be this company's)."""
    session = uow.session
    contractor = await find_row(session, contractors, tenant_id, wanted.contractor_id)
    if contractor is None:
        raise ApiError(f"No contractor with id {wanted.contractor_id!r}", error_code="invalid_contractor_id")
    job = await find_row(session, jobs, tenant_id, wanted.job_id)
    if job is None:
        raise ApiError(f"No job with id {wanted.job_id!r}", error_code="invalid_job_id")
    entity = (await session.execute(select(entities).where(entities.c.id == job["entity_id"]))).mappings().one()
    return contractor, job, entity


async def _store_new(uow: UnitOfWork, row: dict[str, Any]) -> None:
    """Insert ``row``, or say which assignment already covers its contractor, job and dates."""
    if row["id"] in await insert_assignments(uow.session, [row], uow.db.dialect):
        return
    existing = (
        await uow.session.execute(
            select(assignments.c.id).where(
                assignments.c.tenant_id == row["tenant_id"],
                assignments.c.contractor_id == row["contractor_id"],
                assignments.c.job_id == row["job_id"],
                assignments.c.dedupe_key == row["dedupe_key"],
            )
        )
    ).scalar()
    if existing:
        raise ApiError(f"Assignment {existing} already covers this contractor, job and dates", error_code="invalid_input")
    raise ApiError("An assignment for this contractor, job and dates already exists", error_code="invalid_input")


async def create_assignment(
    ctx: Context, tenant_id: str, command: AssignmentIn, *, source: str = "api", request_key: str | None = None
) -> Row:
    wanted = _check_create(provided(command), ctx.today())
    new_assignment_id = new_id("an")
    async with ctx.db.uow() as uow:
        # a retry of a create that committed gets that assignment, not "already covers"
        earlier = await claim_request_key(uow, request_keys, tenant_id, request_key, new_assignment_id)
        if earlier is not None:
            return await _reload(ctx, tenant_id, earlier)
        contractor, job, entity = await _parties(uow, tenant_id, wanted)
        row = new_assignment(
            assignment_id=new_assignment_id,
            tenant_id=tenant_id,
            contractor_id=wanted.contractor_id,
            job_id=wanted.job_id,
            effective=wanted.effective,
            end=wanted.end,
            required_coverage=entity["required_coverage"],
            coverage_types=wanted.coverage,
            po=wanted.po,
            source=source,
            now=ctx.now(),
        )
        await _store_new(uow, row)
        announce_new_assignment(uow, row, contractor, job_snapshot(job, entity), set_by=wanted.po.set_by)
        await uow.commit()
    return await _reload(ctx, tenant_id, new_assignment_id)


async def update_assignment(ctx: Context, tenant_id: str, assignment_id: str, command: AssignmentIn) -> Row:
    data = provided(command)
    today = ctx.today()
    po = _po_fields(data)
    coverage = _coverage(data)
    async with ctx.db.uow() as uow:
        current = await _load_for_update(uow, tenant_id, assignment_id)
        if current["status"] == "cancelled":
            raise ApiError("A cancelled assignment cannot be updated", error_code="invalid_input")
        for key, column in (("contractor", "contractor_id"), ("job", "job_id")):
            if data.get(key) not in (None, current[column]):
                raise ApiError(f"An assignment's {key} cannot change: cancel it and create a new one", error_code="invalid_input")
        changes: dict[str, Any] = {}
        effective = current["effective_date"]
        end = current["end_date"]
        if data.get("effective_date") is not None:
            effective = _date_or_error(data["effective_date"], "effective_date_invalid", "effective_date")
        if data.get("end_date") is not None:
            end = _date_or_error(data["end_date"], "end_date_invalid", "end_date")
        dates_changed = (effective, end) != (current["effective_date"], current["end_date"])
        if dates_changed or (coverage is not None and coverage != current["coverage_types"]):
            if today >= current["effective_date"]:
                raise ApiError(
                    "The assignment has started: its dates and coverage can no longer change (use extend to move the end date)",
                    error_code="effective_date_invalid",
                )
            if current["coverage_bound_at"] is not None and end != current["end_date"]:
                raise ApiError("Coverage is bound: the end date changes only through extend", error_code="end_date_invalid")
        if dates_changed:
            rules.check_new_dates(effective, end, today)
            changes.update(effective_date=effective, end_date=end)
        if coverage is not None and coverage != current["coverage_types"]:
            changes["coverage_types"] = coverage
        for key, value in po.items():
            if current[key] != value:
                changes[key] = value
        if not changes:
            return await _reload(ctx, tenant_id, assignment_id)
        po_changed = bool({"po_number", "po_contact_email"} & set(changes))
        now = ctx.now()
        changes.update(version=current["version"] + 1, updated_at=now)
        if po_changed and changes.get("po_number", current["po_number"]):
            changes.update(po_set_at=now, po_set_by=data.get("set_by"))
        await uow.session.execute(update(assignments).where(assignments.c.id == assignment_id).values(**changes))
        new = {**current, **changes}
        await _emit_state(uow, tenant_id, new, created=False)
        if po_changed and new["po_number"]:
            emit_po_set(uow, new, previous_po_number=current["po_number"], set_by=data.get("set_by"))
        await uow.commit()
    return await _reload(ctx, tenant_id, assignment_id)


async def cancel_assignment(ctx: Context, tenant_id: str, assignment_id: str, reason: str | None) -> Row:
    reason_text = v.text(reason, required=False, what="reason") or "client_request"
    async with ctx.db.uow() as uow:
        a = await _load_for_update(uow, tenant_id, assignment_id)
        if a["status"] == "cancelled":
            return await _reload(ctx, tenant_id, assignment_id)  # cancelling twice changes nothing
        await _cancel(uow, ctx, a, reason_text)
        await uow.commit()
    return await _reload(ctx, tenant_id, assignment_id)


async def _cancel(uow: UnitOfWork, ctx: Context, assignment: dict[str, Any], reason: str, **extra: Any) -> None:
    rules.check_cancellable(assignment["effective_date"], ctx.today())
    now = ctx.now()
    version = assignment["version"] + 1
    await uow.session.execute(
        update(assignments)
        .where(assignments.c.id == assignment["id"])
        .values(status="cancelled", cancel_reason=reason, cancelled_at=now, version=version, updated_at=now, **extra)
    )
    uow.emit(
        AssignmentCancelledV1(
            assignment_id=assignment["id"], contractor_id=assignment["contractor_id"], reason=reason, cancelled_at=now
        ),
        tenant_id=assignment["tenant_id"],
        aggregate_id=assignment["id"],
        aggregate_version=version,
    )


async def extend_assignment(ctx: Context, tenant_id: str, assignment_id: str, end_date: Any, *, send_email: bool = True) -> Row:
    if end_date is None:
        raise ApiError("end_date is required", error_code="end_date_invalid")
    new_end = _date_or_error(end_date, "end_date_invalid", "end_date")
    async with ctx.db.uow() as uow:
        current = await _load_for_update(uow, tenant_id, assignment_id)
        if current["status"] == "cancelled":
            raise ApiError("A cancelled assignment cannot be extended", error_code="invalid_input")
        rules.check_extension(current["effective_date"], current["end_date"], new_end, ctx.today())
        if new_end == current["end_date"]:
            return await _reload(ctx, tenant_id, assignment_id)  # the same end again: nothing to do
        now = ctx.now()
        version = current["version"] + 1
        await uow.session.execute(
            update(assignments).where(assignments.c.id == assignment_id).values(end_date=new_end, version=version, updated_at=now)
        )
        uow.emit(
            AssignmentExtendedV1(
                assignment_id=assignment_id,
                contractor_id=current["contractor_id"],
                previous_end_date=current["end_date"],
                end_date=new_end,
                send_email=send_email,
            ),
            tenant_id=tenant_id,
            aggregate_id=assignment_id,
            aggregate_version=version,
        )
        await uow.commit()
    return await _reload(ctx, tenant_id, assignment_id)


async def delete_assignment(ctx: Context, tenant_id: str, assignment_id: str) -> datetime:
    """1099Policy's DELETE: a pending assignment is cancelled (reason ``deleted``, only before its
    start) and hidden from reads; a cancelled one is just hidden."""
    now = ctx.now()
    async with ctx.db.uow() as uow:
        a = await _load_for_update(uow, tenant_id, assignment_id)
        if a["status"] == "cancelled":
            await uow.session.execute(update(assignments).where(assignments.c.id == assignment_id).values(deleted_at=now))
        else:
            await _cancel(uow, ctx, a, "deleted", deleted_at=now)
        await uow.commit()
    return now


async def _reload(ctx: Context, tenant_id: str, assignment_id: str) -> Row:
    async with ctx.db.reads() as s:
        return await get_row(s, assignments, tenant_id, assignment_id, "assignment")


async def profile_assignments(ctx: Context, tenant_id: str, contractor_id: str) -> list[Row]:
    """The contractor's assignments (deleted ones left out) with their job's and end client's
    columns, latest start first: the profile page."""
    query = (
        select(
            assignments,
            jobs.c.name.label("job_name"),
            jobs.c.category_code,
            jobs.c.wage,
            jobs.c.wage_type,
            jobs.c.work_state,
            entities.c.id.label("entity_id"),
            entities.c.name.label("entity_name"),
        )
        .join(jobs, jobs.c.id == assignments.c.job_id)
        .join(entities, entities.c.id == jobs.c.entity_id)
        .where(
            assignments.c.tenant_id == tenant_id, assignments.c.contractor_id == contractor_id, assignments.c.deleted_at.is_(None)
        )
        .order_by(assignments.c.effective_date.desc(), assignments.c.pk.desc())
    )
    async with ctx.db.reads() as s:
        await get_row(s, contractors, tenant_id, contractor_id, "contractor")
        return list((await s.execute(query)).mappings().all())
