"""The bulk intake engine behind the CSV import: validated rows in, entities, contractors, jobs and
assignments upserted with a handful of set-based statements per chunk (never a query per row),
and the messages they cause emitted in the same transaction.

Matching (so that re-importing a file adds nothing and emits nothing):
- entities by name (case, spacing and punctuation ignored); a new name creates an entity with the
  default coverage and limits;
- contractors by email (case-insensitive); a row whose details differ updates the contractor
  (``ContractorUpdatedV1``); empty optional cells never erase what is stored;
- jobs by their natural key (end client, category, title, description, wage, wage type, work state);
- assignments by (contractor, job, start date, end date); an existing assignment only takes a PO
  number, PO contact or campaign the row brings (``PoNumberSetV1``).

A row counts as imported (``ChunkResult.rows_changed``) when it added or changed something: its
assignment created or given a PO, or its contractor created or updated (by the row whose details
were applied); every other valid row was already there, unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.sql import ColumnElement
from ten99_contracts import ContractorSnapshot, JobSnapshot
from ten99kit import UnitOfWork, new_id
from ten99kit.crypto import mask_tax_id
from ten99kit.db import Row

from ..adapters.bulk import insert_assignments, insert_rows
from ..adapters.db import assignments, contractors, entities, jobs
from ..adapters.queries import where_among
from ..domain.assignments import PoFields, dedupe_key, new_assignment
from ..domain.csv_format import ImportRow
from .context import Context, lock_intake
from .directory import DEFAULT_AGGREGATE_LIMIT, DEFAULT_OCCURRENCE_LIMIT
from .messages import (
    announce_new_assignment,
    contractor_snapshot,
    emit_assignment_state,
    emit_contractor,
    emit_job,
    emit_po_set,
    job_snapshot,
)

__all__ = ["ChunkResult", "apply_rows", "ensure_entities"]

_CONTRACTOR_FIELDS = ("first_name", "middle_name", "last_name", "phone", "address", "company_name")
_PO_FIELDS = ("po_number", "po_contact_email", "campaign")
#: what is read of the assignments already there (all it takes to match a row and update its PO)
_EXISTING_COLUMNS = (
    assignments.c.id,
    assignments.c.tenant_id,
    assignments.c.contractor_id,
    assignments.c.job_id,
    assignments.c.dedupe_key,
    assignments.c.status,
    assignments.c.deleted_at,
    assignments.c.po_number,
    assignments.c.po_contact_email,
    assignments.c.campaign,
    assignments.c.version,
)


@dataclass
class ChunkResult:
    contractors_created: int = 0
    contractors_updated: int = 0
    assignments_created: int = 0
    assignments_updated: int = 0
    assignments_missing_po: int = 0
    #: the lines of the rows that added or changed something (the rest were already there)
    changed_lines: set[int] = field(default_factory=set)

    @property
    def rows_changed(self) -> int:
        return len(self.changed_lines)


def _chunks(items: list[Any], size: int = 5000) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


async def _rows_among(
    uow: UnitOfWork,
    tenant_id: str,
    column: Any,
    keys: Iterable[Any],
    *,
    selected: Sequence[Any] | None = None,
    order_by: ColumnElement[Any] | None = None,
) -> list[Row]:
    """The company's rows of ``column``'s table whose ``column`` is among ``keys``: one statement
    per 5,000 keys, whatever the number of rows (`where_among`)."""
    table = column.table
    found: list[Row] = []
    for part in _chunks(list(keys)):
        query = where_among(select(*(selected or [table])).where(table.c.tenant_id == tenant_id), column, part, uow.db.dialect)
        if order_by is not None:
            query = query.order_by(order_by)
        found.extend((await uow.session.execute(query)).mappings())
    return found


async def ensure_entities(uow: UnitOfWork, tenant_id: str, wanted: dict[str, str], now: datetime) -> dict[str, dict[str, Any]]:
    """name_key -> entity row; the oldest entity of a name wins, missing names are created."""
    found: dict[str, dict[str, Any]] = {}
    for m in await _rows_among(uow, tenant_id, entities.c.name_key, wanted, order_by=entities.c.pk):
        found.setdefault(m["name_key"], dict(m))
    new: list[dict[str, Any]] = [
        {
            "id": new_id("en"),
            "tenant_id": tenant_id,
            "name": name,
            "name_key": key,
            "address": None,
            "required_coverage": [],
            "aggregate_limit": DEFAULT_AGGREGATE_LIMIT,
            "occurrence_limit": DEFAULT_OCCURRENCE_LIMIT,
            "created_at": now,
            "updated_at": now,
        }
        for key, name in wanted.items()
        if key not in found
    ]
    if new:
        await insert_rows(uow.session, entities, new, uow.db.dialect)
        found.update({r["name_key"]: r for r in new})
    return found


@dataclass
class _Chunk:
    """One chunk of rows on its way in, and what its steps found or made."""

    uow: UnitOfWork
    ctx: Context
    tenant_id: str
    rows: list[ImportRow]
    batch_id: str | None
    source: str
    now: datetime
    result: ChunkResult = field(default_factory=ChunkResult)
    #: name_key -> entity, email_key -> contractor, natural key -> job
    entities: dict[str, dict[str, Any]] = field(default_factory=dict)
    people: dict[str, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    _contractor_snaps: dict[str, ContractorSnapshot] = field(default_factory=dict)
    _job_snaps: dict[str, JobSnapshot] = field(default_factory=dict)
    #: new assignment id -> the line of the row that made it
    line_of_assignment: dict[str, int] = field(default_factory=dict)

    @cached_property
    def _people_by_id(self) -> dict[str, dict[str, Any]]:
        return {p["id"]: p for p in self.people.values()}

    @cached_property
    def _jobs_by_id(self) -> dict[str, dict[str, Any]]:
        return {j["id"]: j for j in self.jobs.values()}

    @cached_property
    def _entities_by_id(self) -> dict[str, dict[str, Any]]:
        return {e["id"]: e for e in self.entities.values()}

    def snapshots(self, assignment: Row) -> tuple[Row, ContractorSnapshot, JobSnapshot]:
        """The contractor of ``assignment`` and the snapshots its messages carry, made once per
        chunk (read only after the contractors and jobs are settled)."""
        person = self._people_by_id[assignment["contractor_id"]]
        if person["id"] not in self._contractor_snaps:
            self._contractor_snaps[person["id"]] = contractor_snapshot(person)
        job_id = assignment["job_id"]
        if job_id not in self._job_snaps:
            job = self._jobs_by_id[job_id]
            self._job_snaps[job_id] = job_snapshot(job, self._entities_by_id[job["entity_id"]])
        return person, self._contractor_snaps[person["id"]], self._job_snaps[job_id]


async def apply_rows(
    uow: UnitOfWork, ctx: Context, tenant_id: str, rows: list[ImportRow], *, batch_id: str | None, source: str = "csv"
) -> ChunkResult:
    """Upsert one chunk of validated rows inside ``uow`` (the caller commits)."""
    if not rows:
        return ChunkResult()
    await lock_intake(uow, tenant_id)
    chunk = _Chunk(uow, ctx, tenant_id, rows, batch_id, source, ctx.now())
    entity_names: dict[str, str] = {}
    for r in rows:
        entity_names.setdefault(r.entity_key, r.entity_name)
    chunk.entities = await ensure_entities(uow, tenant_id, entity_names, chunk.now)
    chunk.people = await _upsert_contractors(chunk)
    chunk.jobs = await _ensure_jobs(chunk)
    new_rows, po_updates = _plan_assignments(chunk, await _existing_assignments(chunk))
    await _insert_new_assignments(chunk, new_rows)
    await _update_pos(chunk, po_updates)
    return chunk.result


# -- contractors -------------------------------------------------------------------------------


def _contractor_values(row: ImportRow) -> dict[str, Any]:
    """What a row says about its contractor; the email's spelling is not among it (the key is
    case-insensitive, and a differently capitalised copy must not rewrite the stored address)."""
    values: dict[str, Any] = {
        "first_name": row.first_name,
        "last_name": row.last_name,
        "phone": row.phone,
        "address": row.address,
    }
    if row.middle_name:
        values["middle_name"] = row.middle_name
    if row.company_name:
        values["company_name"] = row.company_name
    return values


def _new_contractor(chunk: _Chunk, key: str, row: ImportRow, email: str) -> dict[str, Any]:
    tax = row.tax_identification
    return {
        "id": new_id("cn"),
        "tenant_id": chunk.tenant_id,
        "middle_name": None,
        "company_name": None,
        **_contractor_values(row),
        "email": email,
        "email_key": key,
        "tax_id_encrypted": chunk.ctx.tax_ids.encrypt(tax) if tax else None,
        "tax_id_masked": mask_tax_id(tax),
        "custom_metadata": {},
        "withhold_premium": None,
        "source": chunk.source,
        "version": 1,
        "created_at": chunk.now,
        "updated_at": chunk.now,
    }


def _contractor_changes(chunk: _Chunk, current: Row, row: ImportRow) -> dict[str, Any]:
    """What ``row`` changes of a stored contractor (a tax id that decrypts to the same is no change)."""
    diff = {k: val for k, val in _contractor_values(row).items() if current.get(k) != val}
    tax = row.tax_identification
    if tax and not (
        current["tax_id_masked"] == mask_tax_id(tax)
        and current["tax_id_encrypted"]
        and chunk.ctx.tax_ids.decrypt(current["tax_id_encrypted"]) == tax
    ):
        diff.update(tax_id_encrypted=chunk.ctx.tax_ids.encrypt(tax), tax_id_masked=mask_tax_id(tax))
    return diff


async def _upsert_contractors(chunk: _Chunk) -> dict[str, dict[str, Any]]:
    """email_key -> contractor, for every email of the chunk: new ones inserted, changed ones updated."""
    latest: dict[str, ImportRow] = {}
    first: dict[str, ImportRow] = {}
    for r in chunk.rows:
        latest[r.email_key] = r  # the last row of an email wins
        first.setdefault(r.email_key, r)
    found = {m["email_key"]: dict(m) for m in await _rows_among(chunk.uow, chunk.tenant_id, contractors.c.email_key, latest)}
    new_rows: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for key, row in latest.items():
        current = found.get(key)
        if current is None:
            new_rows.append(_new_contractor(chunk, key, row, first[key].email))
            continue
        diff = _contractor_changes(chunk, current, row)
        if diff:
            found[key] = {**current, **diff, "version": current["version"] + 1, "updated_at": chunk.now}
            changed.append(found[key])
            chunk.result.changed_lines.add(row.line)
    # a new contractor is the first row's doing (a repeat of that row changes nothing)
    await _insert_contractors(chunk, new_rows, found, {key: row.line for key, row in first.items()})
    await _update_contractors(chunk, changed)
    return found


async def _insert_contractors(
    chunk: _Chunk, new_rows: list[dict[str, Any]], found: dict[str, dict[str, Any]], line_of: dict[str, int]
) -> None:
    if not new_rows:
        return
    uow = chunk.uow
    inserted = await insert_rows(uow.session, contractors, new_rows, uow.db.dialect)
    raced = [r["email_key"] for r in new_rows if r["id"] not in inserted]
    for r in new_rows:
        if r["id"] in inserted:
            found[r["email_key"]] = r
            emit_contractor(uow, r, created=True)
            chunk.result.contractors_created += 1
            chunk.result.changed_lines.add(line_of[r["email_key"]])
    if raced:  # created meanwhile through the API: take the stored contractor as it is
        for m in await _rows_among(uow, chunk.tenant_id, contractors.c.email_key, raced):
            found[m["email_key"]] = dict(m)


async def _update_contractors(chunk: _Chunk, changed: list[dict[str, Any]]) -> None:
    if not changed:
        return
    cols = (*_CONTRACTOR_FIELDS, "tax_id_encrypted", "tax_id_masked", "version", "updated_at")
    await chunk.uow.session.execute(
        update(contractors).where(contractors.c.id == bindparam("b_id")).values({c: bindparam(f"b_{c}") for c in cols}),
        [{"b_id": r["id"], **{f"b_{c}": r[c] for c in cols}} for r in changed],
    )
    for r in changed:
        emit_contractor(chunk.uow, r, created=False)
    chunk.result.contractors_updated += len(changed)


# -- jobs --------------------------------------------------------------------------------------


def _new_job(chunk: _Chunk, key: str, row: ImportRow) -> dict[str, Any]:
    return {
        "id": new_id("jb"),
        "tenant_id": chunk.tenant_id,
        "entity_id": chunk.entities[row.entity_key]["id"],
        "category_code": row.category_code,
        "name": row.job_name,
        "description": row.description,
        "wage": row.wage_cents,
        "wage_type": row.wage_type,
        "years_experience": None,
        "address": None,
        "work_state": row.work_state,
        "custom_metadata": {},
        "withhold_premium": None,
        "natural_key": key,
        "version": 1,
        "created_at": chunk.now,
        "updated_at": chunk.now,
    }


async def _ensure_jobs(chunk: _Chunk) -> dict[str, dict[str, Any]]:
    """natural key -> job, for every job of the chunk; missing ones are created (the first row of
    a key describes it)."""
    uow = chunk.uow
    wanted: dict[str, ImportRow] = {}
    for r in chunk.rows:
        wanted.setdefault(r.job_key, r)
    found = {m["natural_key"]: dict(m) for m in await _rows_among(uow, chunk.tenant_id, jobs.c.natural_key, wanted)}
    new_rows = [_new_job(chunk, key, row) for key, row in wanted.items() if key not in found]
    if new_rows:
        inserted = await insert_rows(uow.session, jobs, new_rows, uow.db.dialect)
        # re-read: a concurrent intake may have made some of them first (it announced those)
        created = [r["natural_key"] for r in new_rows]
        found.update({m["natural_key"]: dict(m) for m in await _rows_among(uow, chunk.tenant_id, jobs.c.natural_key, created)})
        for job in new_rows:
            if job["id"] in inserted:
                emit_job(uow, job, chunk._entities_by_id[job["entity_id"]], created=True, source=chunk.source)
    return found


# -- assignments -------------------------------------------------------------------------------

_Key = tuple[str, str, str]


async def _existing_assignments(chunk: _Chunk) -> dict[_Key, dict[str, Any]]:
    """The assignments already there for the chunk's contractors (cancelled and deleted ones
    count too), by (contractor, job, dedupe key)."""
    contractor_ids = {chunk.people[r.email_key]["id"] for r in chunk.rows}
    rows = await _rows_among(chunk.uow, chunk.tenant_id, assignments.c.contractor_id, contractor_ids, selected=_EXISTING_COLUMNS)
    return {(m["contractor_id"], m["job_id"], m["dedupe_key"]): dict(m) for m in rows}


def _plan_assignments(
    chunk: _Chunk, existing: dict[_Key, dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], dict[str, Any]]]]:
    """The new assignments of the chunk, and the PO changes rows bring to pending ones (the row
    of each in ``chunk.line_of_assignment``)."""
    new_rows: list[dict[str, Any]] = []
    po_updates: list[tuple[dict[str, Any], dict[str, Any]]] = []
    seen: set[_Key] = set()
    for row in chunk.rows:
        person, job = chunk.people[row.email_key], chunk.jobs[row.job_key]
        key = (person["id"], job["id"], dedupe_key(row.effective_date, row.end_date))
        if key in seen:
            continue
        seen.add(key)
        current = existing.get(key)
        if current is None:
            new_rows.append(
                assignment := new_assignment(
                    tenant_id=chunk.tenant_id,
                    contractor_id=person["id"],
                    job_id=job["id"],
                    effective=row.effective_date,
                    end=row.end_date,
                    required_coverage=chunk.entities[row.entity_key]["required_coverage"],
                    po=PoFields(row.po_number, row.po_contact_email, row.campaign),
                    source=chunk.source,
                    import_batch_id=chunk.batch_id,
                    now=chunk.now,
                )
            )
            chunk.line_of_assignment[assignment["id"]] = row.line
        elif current["status"] == "pending" and current["deleted_at"] is None:
            brought = zip(_PO_FIELDS, (row.po_number, row.po_contact_email, row.campaign), strict=True)
            change = {k: val for k, val in brought if val and current[k] != val}
            if change:
                po_updates.append((current, change))
                chunk.result.changed_lines.add(row.line)
    return new_rows, po_updates


async def _insert_new_assignments(chunk: _Chunk, new_rows: list[dict[str, Any]]) -> None:
    if not new_rows:
        return
    inserted = await insert_assignments(chunk.uow.session, new_rows, chunk.uow.db.dialect)
    for a in new_rows:
        if a["id"] not in inserted:
            continue  # a concurrent intake created it first
        person, contractor, job = chunk.snapshots(a)
        announce_new_assignment(chunk.uow, a, person, job, set_by=None, contractor=contractor)
        if not a["po_number"]:
            chunk.result.assignments_missing_po += 1
        chunk.result.assignments_created += 1
        chunk.result.changed_lines.add(chunk.line_of_assignment[a["id"]])


async def _update_pos(chunk: _Chunk, po_updates: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """Existing pending assignments take the PO number, contact or campaign their rows bring."""
    if not po_updates:
        return
    uow, now = chunk.uow, chunk.now
    po_updates.sort(key=lambda pair: pair[0]["id"])  # rows locked in id order, as the bulk PO action does
    params = []
    for current, change in po_updates:
        merged = {**current, **change}
        params.append({"b_id": current["id"], **{f"b_{k}": merged[k] for k in _PO_FIELDS}, "b_version": current["version"] + 1})
    await uow.session.execute(
        update(assignments)
        .where(assignments.c.id == bindparam("b_id"))
        .values({**{k: bindparam(f"b_{k}") for k in _PO_FIELDS}, "version": bindparam("b_version"), "updated_at": now}),
        params,
    )
    updated_ids = [current["id"] for current, _ in po_updates]
    after = {m["id"]: m for m in await _rows_among(uow, chunk.tenant_id, assignments.c.id, updated_ids)}
    for current, _change in po_updates:
        changed = after[current["id"]]
        if changed["po_number"]:
            emit_po_set(uow, changed, previous_po_number=current["po_number"], set_by=None)
        else:  # only the campaign of an assignment still without PO changed
            person, contractor, job = chunk.snapshots(changed)
            emit_assignment_state(uow, changed, person, job, created=False, contractor=contractor)
    await uow.session.execute(
        update(assignments)
        .where(assignments.c.id.in_([cur["id"] for cur, ch in po_updates if "po_number" in ch]))
        .values(po_set_at=now)
    )
    chunk.result.assignments_updated += len(po_updates)
