"""Use cases for entities (end clients), contractors and jobs through the API: create, update,
delete, with 1099Policy's validation and error codes. Contractor changes are published
(``ContractorRegisteredV1``/``ContractorUpdatedV1``); a changed job or entity republishes the
state of its live assignments (``AssignmentUpdatedV1``) since their snapshots carry it."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, exists, insert, select, update
from sqlalchemy.exc import IntegrityError
from ten99kit import ApiError, UnitOfWork, new_id
from ten99kit.crypto import mask_tax_id
from ten99kit.db import Row, dialect_insert
from ten99kit.request_keys import claim_request_key

from ..adapters.db import assignments, contractors, entities, jobs, request_keys, roster_status
from ..adapters.queries import get_row, not_found
from ..domain import values as v
from ..domain.catalogue import category
from .commands import ContractorIn, EntityIn, JobIn, provided
from .context import Context
from .messages import (
    emit_assignment_states,
    emit_contractor,
    emit_contractor_deleted,
    emit_job,
    emit_job_deleted,
    emit_jobs_of,
)

__all__ = [
    "FieldErrors",
    "create_contractor",
    "create_entity",
    "create_job",
    "delete_contractor",
    "delete_entity",
    "delete_job",
    "email_taken",
    "merge_metadata",
    "update_contractor",
    "update_entity",
    "update_job",
]

DEFAULT_AGGREGATE_LIMIT = 200_000_000
DEFAULT_OCCURRENCE_LIMIT = 100_000_000
#: what a new contractor or job has where the caller sent nothing
_CONTRACTOR_DEFAULTS: dict[str, Any] = dict.fromkeys(
    ("middle_name", "phone", "company_name", "tax_id_encrypted", "tax_id_masked", "withhold_premium")
)
_JOB_DEFAULTS: dict[str, Any] = {
    **dict.fromkeys(("years_experience", "address", "work_state", "withhold_premium")),
    "natural_key": None,
}


class FieldErrors:
    """Collects field problems; raises one 400 ``invalid_input`` naming each field."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def take(self, name: str, fn: Callable[[Any], Any], value: Any) -> Any:
        try:
            return fn(value)
        except v.Invalid as e:
            self.errors[name] = str(e)
            return None

    def check(self) -> None:
        if self.errors:
            raise ApiError(dict(self.errors), error_code="invalid_input")


def _bool(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise v.Invalid("must be true or false")


def parse_metadata(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise v.Invalid("custom_metadata must be an object of text values")
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key or len(key) > 100:
            raise v.Invalid("custom_metadata keys must be text of at most 100 characters")
        if item is None:
            out[key] = ""
        elif isinstance(item, str | int | float | bool):
            out[key] = str(item).lower() if isinstance(item, bool) else str(item)
        else:
            raise v.Invalid(f"custom_metadata[{key!r}] must be text")
        if len(out[key]) > 500:
            raise v.Invalid(f"custom_metadata[{key!r}] is longer than 500 characters")
    if len(out) > 50:
        raise v.Invalid("custom_metadata holds at most 50 keys")
    return out


def merge_metadata(current: dict[str, str], change: dict[str, str]) -> dict[str, str]:
    """1099Policy's PUT rule: ``{}`` unsets every key; an empty value unsets one key."""
    if not change:
        return {}
    merged = dict(current)
    for key, value in change.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


# -- entities ------------------------------------------------------------------------------


def _limit(value: Any) -> int:
    if isinstance(value, bool):
        raise v.Invalid("must be an amount in cents")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int):
        raise v.Invalid("must be an amount in cents")
    if value < 1000:
        raise v.Invalid("must be at least 1000 cents")
    return value


def _entity_fields(data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    problems = FieldErrors()
    out: dict[str, Any] = {}
    if "name" in data or not partial:
        out["name"] = problems.take("name", lambda x: v.text(x, what="name"), data.get("name"))
        if out["name"]:
            out["name_key"] = v.name_key(out["name"])
    if "address" in data:
        out["address"] = None if data["address"] is None else problems.take("address", v.parse_address, data["address"])
    if "coverage_limit" in data or not partial:
        limits = data.get("coverage_limit")
        if limits is None:
            if not partial:
                out["aggregate_limit"], out["occurrence_limit"] = DEFAULT_AGGREGATE_LIMIT, DEFAULT_OCCURRENCE_LIMIT
        elif not isinstance(limits, dict):
            problems.errors["coverage_limit"] = "must be an object with aggregate_limit and occurrence_limit"
        else:
            out["aggregate_limit"] = problems.take("coverage_limit.aggregate_limit", _limit, limits.get("aggregate_limit"))
            out["occurrence_limit"] = problems.take("coverage_limit.occurrence_limit", _limit, limits.get("occurrence_limit"))
            if out["aggregate_limit"] and out["occurrence_limit"] and out["occurrence_limit"] > out["aggregate_limit"]:
                problems.errors["coverage_limit"] = "occurrence_limit cannot exceed aggregate_limit"
    if "required_coverage" in data or not partial:
        rc = data.get("required_coverage")
        out["required_coverage"] = [] if rc in (None, []) else problems.take("required_coverage", v.parse_coverage_types, rc)
    problems.check()
    return out


async def create_entity(ctx: Context, tenant_id: str, command: EntityIn, *, request_key: str | None = None) -> Row:
    """``request_key``: the public request's idempotency key; a retry with it gets the entity the
    first request made (`ten99kit.request_keys`)."""
    fields = _entity_fields(provided(command), partial=False)
    now = ctx.now()
    row = {"id": new_id("en"), "tenant_id": tenant_id, "address": None, **fields, "created_at": now, "updated_at": now}
    async with ctx.db.uow() as uow:
        earlier = await claim_request_key(uow, request_keys, tenant_id, request_key, row["id"])
        if earlier is None:
            await uow.session.execute(insert(entities).values(**row))
            await uow.commit()
    return await _reload(ctx, entities, tenant_id, earlier or row["id"], "entity")


async def update_entity(ctx: Context, tenant_id: str, entity_id: str, command: EntityIn) -> Row:
    fields = _entity_fields(provided(command), partial=True)
    async with ctx.db.uow() as uow:
        current = await get_row(uow.session, entities, tenant_id, entity_id, "entity")
        changes = {k: val for k, val in fields.items() if current.get(k) != val}
        if changes:
            changes["updated_at"] = ctx.now()
            await uow.session.execute(
                update(entities).where(entities.c.tenant_id == tenant_id, entities.c.id == entity_id).values(**changes)
            )
            if set(changes) & {"name", "required_coverage", "aggregate_limit", "occurrence_limit"}:
                await _republish_jobs_of_entity(uow, ctx, tenant_id, entity_id)
                await _republish_live_assignments(uow, ctx, tenant_id, jobs.c.entity_id == entity_id)
            await uow.commit()
    return await _reload(ctx, entities, tenant_id, entity_id, "entity")


async def delete_entity(ctx: Context, tenant_id: str, entity_id: str) -> None:
    in_use = ApiError("The entity has jobs and cannot be deleted", error_code="invalid_input")
    await _delete_unused(ctx, entities, tenant_id, entity_id, "entity", exists().where(jobs.c.entity_id == entity_id), in_use)


# -- contractors ---------------------------------------------------------------------------


def _contractor_fields(ctx: Context, data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    problems = FieldErrors()
    out: dict[str, Any] = {}

    def want(name: str) -> bool:
        return name in data or not partial

    if want("first_name"):
        out["first_name"] = problems.take(
            "first_name", lambda x: v.text(x, max_length=100, what="first_name"), data.get("first_name")
        )
    if want("last_name"):
        out["last_name"] = problems.take(
            "last_name", lambda x: v.text(x, max_length=100, what="last_name"), data.get("last_name")
        )
    if "middle_name" in data:
        out["middle_name"] = problems.take(
            "middle_name", lambda x: v.text(x, max_length=100, required=False, what="middle_name"), data["middle_name"]
        )
    if want("email"):
        out["email"] = problems.take("email", v.parse_email, data.get("email"))
        if out["email"]:
            out["email_key"] = v.email_key(out["email"])
    if "phone" in data:
        out["phone"] = problems.take("phone", lambda x: v.text(x, max_length=40, required=False, what="phone"), data["phone"])
    if want("address"):
        out["address"] = problems.take("address", v.parse_address, data.get("address"))
    if "company_name" in data:
        out["company_name"] = problems.take(
            "company_name", lambda x: v.text(x, required=False, what="company_name"), data["company_name"]
        )
    if "tax_identification" in data:
        tax = problems.take("tax_identification", v.parse_tax_id, data["tax_identification"])
        if "tax_identification" not in problems.errors:
            out["tax_id_encrypted"] = ctx.tax_ids.encrypt(tax) if tax else None
            out["tax_id_masked"] = mask_tax_id(tax)
    if "custom_metadata" in data:
        out["custom_metadata"] = problems.take("custom_metadata", parse_metadata, data["custom_metadata"])
    if "withhold_premium" in data:
        out["withhold_premium"] = problems.take("withhold_premium", _bool, data["withhold_premium"])
    problems.check()
    return out


def _same_tax_id(ctx: Context, current: dict[str, Any], fields: dict[str, Any]) -> bool:
    if "tax_id_encrypted" not in fields or not fields["tax_id_encrypted"] or not current["tax_id_encrypted"]:
        return False
    if current["tax_id_masked"] != fields["tax_id_masked"]:
        return False
    return bool(ctx.tax_ids.decrypt(current["tax_id_encrypted"]) == ctx.tax_ids.decrypt(fields["tax_id_encrypted"]))


async def email_taken(uow: UnitOfWork, tenant_id: str, key: str, *, other_than: str | None = None) -> bool:
    """Whether a contractor of the company (other than ``other_than``) has the email key ``key``."""
    query = select(contractors.c.id).where(contractors.c.tenant_id == tenant_id, contractors.c.email_key == key)
    if other_than is not None:
        query = query.where(contractors.c.id != other_than)
    return (await uow.session.execute(query)).first() is not None


def _duplicate_email(email: str) -> ApiError:
    return ApiError(f"A contractor with email {email} already exists", error_code="duplicate_email")


def _new_row(prefix: str, tenant_id: str, defaults: dict[str, Any], fields: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A new contractor's or job's row: ``defaults`` for what the caller left out, then the checked
    ``fields``; a metadata key given empty is simply not set."""
    return {
        "id": new_id(prefix),
        "tenant_id": tenant_id,
        **defaults,
        **fields,
        "custom_metadata": {k: val for k, val in (fields.get("custom_metadata") or {}).items() if val != ""},
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


@functools.cache
def _insert_contractor(dialect: str) -> Any:
    """``INSERT`` of a new contractor returning the stored row, or nothing if the company has a
    contractor with its email key (built once per dialect: building and keying a statement costs
    about as much as executing it)."""
    key = [contractors.c.tenant_id, contractors.c.email_key]
    return dialect_insert(contractors, dialect).on_conflict_do_nothing(index_elements=key).returning(*contractors.c)


async def create_contractor(
    ctx: Context, tenant_id: str, command: ContractorIn, *, source: str = "api", request_key: str | None = None
) -> Row:
    fields = _contractor_fields(ctx, provided(command), partial=False)
    row = _new_row("cn", tenant_id, {**_CONTRACTOR_DEFAULTS, "source": source}, fields, ctx.now())
    async with ctx.db.uow() as uow:
        # a retry of a create that committed gets that contractor, not "duplicate email"
        earlier = await claim_request_key(uow, request_keys, tenant_id, request_key, row["id"])
        if earlier is None:
            emit_contractor(uow, row, created=True)
            try:
                # one round trip: the email's uniqueness is the table's, the stored row comes back
                # with the insert, and the message rides on it (no SELECT before it, no second
                # statement for the outbox, no second transaction to read the row)
                created = await uow.execute_with_messages(_insert_contractor(uow.db.dialect), row)
            except IntegrityError:  # not the email's constraint (that one is ON CONFLICT): say so too
                raise _duplicate_email(row["email"]) from None
            stored = created.mappings().first()
            if stored is None:  # a contractor of the company has this email: nothing is kept
                raise _duplicate_email(row["email"])
            await uow.commit()
            return dict(stored)
    return await _reload(ctx, contractors, tenant_id, earlier, "contractor")


async def update_contractor(ctx: Context, tenant_id: str, contractor_id: str, command: ContractorIn) -> Row:
    fields = _contractor_fields(ctx, provided(command), partial=True)
    async with ctx.db.uow() as uow:
        current = await get_row(uow.session, contractors, tenant_id, contractor_id, "contractor")
        if "custom_metadata" in fields:
            fields["custom_metadata"] = merge_metadata(current["custom_metadata"] or {}, fields["custom_metadata"])
        if _same_tax_id(ctx, current, fields):  # re-sending the stored tax id changes nothing
            del fields["tax_id_encrypted"], fields["tax_id_masked"]
        changes = {k: val for k, val in fields.items() if current.get(k) != val}
        if "email_key" in changes and await email_taken(uow, tenant_id, changes["email_key"], other_than=contractor_id):
            raise _duplicate_email(fields["email"])
        if changes:
            changes["version"] = current["version"] + 1
            changes["updated_at"] = ctx.now()
            try:
                await uow.session.execute(
                    update(contractors)
                    .where(contractors.c.tenant_id == tenant_id, contractors.c.id == contractor_id)
                    .values(**changes)
                )
            except IntegrityError:
                raise _duplicate_email(fields["email"]) from None
            emit_contractor(uow, {**current, **changes}, created=False)
            await uow.commit()
    return await _reload(ctx, contractors, tenant_id, contractor_id, "contractor")


# -- jobs ------------------------------------------------------------------------------------


def _wage(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise v.Invalid("wage must be an integer amount in cents")
    if value < v.WAGE_MIN_CENTS:
        raise v.Invalid(f"wage must be at least {v.WAGE_MIN_CENTS} cents")
    if value > v.WAGE_MAX_CENTS:
        raise v.Invalid(f"wage must be at most {v.WAGE_MAX_CENTS} cents")
    return value


def _years(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 80:
        raise v.Invalid("years_experience must be a whole number of years")
    return value


async def _job_fields(uow: UnitOfWork, tenant_id: str, data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    def want(name: str) -> bool:
        return name in data or not partial

    if want("category_code"):
        code = data.get("category_code")
        if not code:
            raise ApiError("category_code is required", error_code="missing_job_category_code")
        if not isinstance(code, str) or category(code) is None:
            raise ApiError(f"{code!r} is not an approved job category code", error_code="invalid_job_category_code")
    if want("entity"):
        entity_id = data.get("entity")
        found = (
            isinstance(entity_id, str)
            and (
                await uow.session.execute(
                    select(entities.c.id).where(entities.c.tenant_id == tenant_id, entities.c.id == entity_id)
                )
            ).first()
        )
        if not found:
            raise ApiError(f"No entity with id {entity_id!r}", error_code="invalid_entity_id")
    problems = FieldErrors()
    out: dict[str, Any] = {}
    if want("entity"):
        out["entity_id"] = data["entity"]
    if want("category_code"):
        out["category_code"] = data["category_code"]
    if want("name"):
        out["name"] = problems.take("name", lambda x: v.text(x, what="name"), data.get("name"))
    if want("description"):
        out["description"] = problems.take(
            "description", lambda x: v.text(x, max_length=2000, what="description"), data.get("description")
        )
    if want("wage"):
        out["wage"] = problems.take("wage", _wage, data.get("wage"))
    if want("wage_type"):
        wt = data.get("wage_type")
        out["wage_type"] = problems.take("wage_type", v.parse_wage_type, wt)
    if "years_experience" in data:
        out["years_experience"] = problems.take("years_experience", _years, data["years_experience"])
    if "address" in data or "work_state" in data:
        address = None if data.get("address") is None else problems.take("address", v.parse_address, data["address"])
        state = data.get("work_state")
        if state is not None:
            state = None if str(state).lower() == "remote" else problems.take("work_state", v.parse_state, state)
        if address and state and address["region"] != state:
            problems.errors["work_state"] = "differs from address.region (the work address's state is the work state)"
        out["address"] = address
        out["work_state"] = address["region"] if address else state
    if "custom_metadata" in data:
        out["custom_metadata"] = problems.take("custom_metadata", parse_metadata, data["custom_metadata"])
    if "withhold_premium" in data:
        out["withhold_premium"] = problems.take("withhold_premium", _bool, data["withhold_premium"])
    problems.check()
    return out


async def create_job(ctx: Context, tenant_id: str, command: JobIn, *, request_key: str | None = None) -> Row:
    now = ctx.now()
    async with ctx.db.uow() as uow:
        fields = await _job_fields(uow, tenant_id, provided(command), partial=False)
        row = _new_row("jb", tenant_id, _JOB_DEFAULTS, fields, now)
        earlier = await claim_request_key(uow, request_keys, tenant_id, request_key, row["id"])
        if earlier is None:
            await uow.session.execute(insert(jobs).values(**row))
            emit_job(uow, row, await get_row(uow.session, entities, tenant_id, row["entity_id"], "entity"), created=True)
            await uow.commit()
    return await _reload(ctx, jobs, tenant_id, earlier or row["id"], "job")


async def update_job(ctx: Context, tenant_id: str, job_id: str, command: JobIn) -> Row:
    async with ctx.db.uow() as uow:
        current = await get_row(uow.session, jobs, tenant_id, job_id, "job")
        fields = await _job_fields(uow, tenant_id, provided(command), partial=True)
        if "custom_metadata" in fields:
            fields["custom_metadata"] = merge_metadata(current["custom_metadata"] or {}, fields["custom_metadata"])
        changes = {k: val for k, val in fields.items() if current.get(k) != val}
        if changes:
            changes["version"] = current["version"] + 1
            changes["updated_at"] = ctx.now()
            await uow.session.execute(update(jobs).where(jobs.c.tenant_id == tenant_id, jobs.c.id == job_id).values(**changes))
            changed = {**current, **changes}
            emit_job(uow, changed, await get_row(uow.session, entities, tenant_id, changed["entity_id"], "entity"), created=False)
            if set(changes) - {"custom_metadata", "years_experience", "updated_at", "version"}:
                await _republish_live_assignments(uow, ctx, tenant_id, jobs.c.id == job_id)
            await uow.commit()
    return await _reload(ctx, jobs, tenant_id, job_id, "job")


async def delete_job(ctx: Context, tenant_id: str, job_id: str) -> None:
    in_use = ApiError("The job has assignments and cannot be deleted", error_code="job_is_used")
    used = exists().where(assignments.c.job_id == job_id)
    await _delete_unused(ctx, jobs, tenant_id, job_id, "job", used, in_use, announce=emit_job_deleted)


async def delete_contractor(ctx: Context, tenant_id: str, contractor_id: str) -> None:
    """Delete a contractor who has no assignment at all. Assignments (live, past, cancelled or
    deleted) are the record coverage, certificates and invoices refer to, so a contractor with any
    is refused (``invalid_input``): cancel what is live; the record of past work stays."""
    in_use = ApiError("The contractor has assignments (live or past coverage) and cannot be deleted", error_code="invalid_input")
    used = exists().where(assignments.c.tenant_id == tenant_id, assignments.c.contractor_id == contractor_id)
    await _delete_unused(
        ctx,
        contractors,
        tenant_id,
        contractor_id,
        "contractor",
        used,
        in_use,
        announce=emit_contractor_deleted,
        before=[roster_status],
    )


# -- shared ----------------------------------------------------------------------------------


async def _delete_unused(
    ctx: Context,
    table: Table,
    tenant_id: str,
    id_: str,
    what: str,
    used: Any,
    in_use: ApiError,
    *,
    announce: Callable[[UnitOfWork, Row], None] | None = None,
    before: Sequence[Table] = (),
) -> None:
    """Delete the company's ``what`` ``id_`` unless ``used`` (an EXISTS clause) holds: then ``in_use``.
    ``before``: tables keyed by (tenant_id, <what>_id) cleared first; ``announce`` emits the deletion."""
    async with ctx.db.uow() as uow:
        row = (
            (await uow.session.execute(select(table).where(table.c.tenant_id == tenant_id, table.c.id == id_).with_for_update()))
            .mappings()
            .first()
        )
        if row is None:
            raise not_found(what, id_)
        if (await uow.session.execute(select(used))).scalar():
            raise in_use
        for dependent in before:
            key = dependent.c[f"{what}_id"]
            await uow.session.execute(delete(dependent).where(dependent.c.tenant_id == tenant_id, key == id_))
        await uow.session.execute(delete(table).where(table.c.tenant_id == tenant_id, table.c.id == id_))
        if announce is not None:
            announce(uow, row)
        await uow.commit()


async def _republish_jobs_of_entity(uow: UnitOfWork, ctx: Context, tenant_id: str, entity_id: str) -> None:
    """The end client's jobs carry it in their state: bump their versions and publish them again."""
    ids = list(
        (
            await uow.session.execute(select(jobs.c.id).where(jobs.c.tenant_id == tenant_id, jobs.c.entity_id == entity_id))
        ).scalars()
    )
    if not ids:
        return
    await uow.session.execute(
        update(jobs)
        .where(jobs.c.tenant_id == tenant_id, jobs.c.id.in_(ids))
        .values(version=jobs.c.version + 1, updated_at=ctx.now())
    )
    await emit_jobs_of(uow, tenant_id, ids)


async def _republish_live_assignments(uow: UnitOfWork, ctx: Context, tenant_id: str, job_filter: Any) -> None:
    """The pending assignments not yet over, of the jobs matching ``job_filter``, carry a changed job
    or end client in their snapshots: bump their versions and publish their state again."""
    query = (
        select(assignments.c.id)
        .join(jobs, jobs.c.id == assignments.c.job_id)
        .where(
            assignments.c.tenant_id == tenant_id,
            job_filter,
            assignments.c.status == "pending",
            assignments.c.deleted_at.is_(None),
            assignments.c.end_date >= ctx.today(),
        )
    )
    ids = list((await uow.session.execute(query)).scalars())
    if not ids:
        return
    await uow.session.execute(
        update(assignments)
        .where(assignments.c.tenant_id == tenant_id, assignments.c.id.in_(ids))
        .values(version=assignments.c.version + 1, updated_at=ctx.now())
    )
    await emit_assignment_states(uow, tenant_id, ids, created=False)


async def _reload(ctx: Context, table: Any, tenant_id: str, id_: str, what: str) -> Row:
    async with ctx.db.reads() as s:
        return await get_row(s, table, tenant_id, id_, what)
