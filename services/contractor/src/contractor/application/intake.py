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
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from ten99_contracts import ContractorSnapshot, JobSnapshot
from ten99kit import UnitOfWork, new_id
from ten99kit.crypto import mask_tax_id

from ..adapters.bulk import insert_rows
from ..adapters.db import assignments, contractors, entities, jobs
from ..adapters.queries import where_among
from ..domain.csv_format import ImportRow
from ..domain.rules import coverage_types_for
from .context import Context, lock_intake
from .directory import DEFAULT_AGGREGATE_LIMIT, DEFAULT_OCCURRENCE_LIMIT
from .messages import contractor_snapshot, emit_assignment_state, emit_contractor, emit_po_set, job_snapshot

__all__ = ["ChunkResult", "apply_rows", "ensure_entities"]

_CONTRACTOR_FIELDS = ("first_name", "middle_name", "last_name", "phone", "address", "company_name")


@dataclass
class ChunkResult:
    contractors_created: int = 0
    contractors_updated: int = 0
    assignments_created: int = 0
    assignments_updated: int = 0
    assignments_missing_po: int = 0


def _chunks(items: list[Any], size: int = 5000) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


async def ensure_entities(uow: UnitOfWork, tenant_id: str, wanted: dict[str, str], now: datetime) -> dict[str, dict[str, Any]]:
    """name_key -> entity row; the oldest entity of a name wins, missing names are created."""
    found: dict[str, dict[str, Any]] = {}
    rows = await uow.session.execute(
        where_among(
            select(entities).where(entities.c.tenant_id == tenant_id), entities.c.name_key, list(wanted), uow.db.dialect
        ).order_by(entities.c.pk)
    )
    for m in rows.mappings():
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


def _contractor_values(r: ImportRow) -> dict[str, Any]:
    """What a row says about its contractor; the email's spelling is not among it (the key is
    case-insensitive, and a differently capitalised copy must not rewrite the stored address)."""
    values: dict[str, Any] = {
        "first_name": r.first_name,
        "last_name": r.last_name,
        "phone": r.phone,
        "address": r.address,
    }
    if r.middle_name:
        values["middle_name"] = r.middle_name
    if r.company_name:
        values["company_name"] = r.company_name
    return values


async def _upsert_contractors(
    uow: UnitOfWork,
    ctx: Context,
    tenant_id: str,
    latest: dict[str, ImportRow],
    first_spelling: dict[str, str],
    now: datetime,
    source: str,
    result: ChunkResult,
) -> dict[str, dict[str, Any]]:
    s = uow.session
    found: dict[str, dict[str, Any]] = {}
    for keys in _chunks(list(latest)):
        for m in (
            await s.execute(
                where_among(
                    select(contractors).where(contractors.c.tenant_id == tenant_id), contractors.c.email_key, keys, uow.db.dialect
                )
            )
        ).mappings():
            found[m["email_key"]] = dict(m)

    new_rows: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for key, row in latest.items():
        values = _contractor_values(row)
        tax = row.tax_identification
        current = found.get(key)
        if current is None:
            new_rows.append(
                {
                    "id": new_id("cn"),
                    "tenant_id": tenant_id,
                    "middle_name": None,
                    "company_name": None,
                    **values,
                    "email": first_spelling[key],
                    "email_key": key,
                    "tax_id_encrypted": ctx.tax_ids.encrypt(tax) if tax else None,
                    "tax_id_masked": mask_tax_id(tax),
                    "custom_metadata": {},
                    "withhold_premium": None,
                    "source": source,
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            continue
        diff = {k: val for k, val in values.items() if current.get(k) != val}
        if tax and not (
            current["tax_id_masked"] == mask_tax_id(tax)
            and current["tax_id_encrypted"]
            and ctx.tax_ids.decrypt(current["tax_id_encrypted"]) == tax
        ):
            diff.update(tax_id_encrypted=ctx.tax_ids.encrypt(tax), tax_id_masked=mask_tax_id(tax))
        if diff:
            updated = {**current, **diff, "version": current["version"] + 1, "updated_at": now}
            found[key] = updated
            changed.append(updated)

    if new_rows:
        inserted = await insert_rows(s, contractors, new_rows, uow.db.dialect)
        raced = [r["email_key"] for r in new_rows if r["id"] not in inserted]
        for r in new_rows:
            if r["id"] in inserted:
                found[r["email_key"]] = r
                emit_contractor(uow, r, created=True)
                result.contractors_created += 1
        if raced:  # created meanwhile through the API: take the stored contractor as it is
            for m in (
                await s.execute(
                    where_among(
                        select(contractors).where(contractors.c.tenant_id == tenant_id),
                        contractors.c.email_key,
                        raced,
                        uow.db.dialect,
                    )
                )
            ).mappings():
                found[m["email_key"]] = dict(m)

    if changed:
        cols = (*_CONTRACTOR_FIELDS, "tax_id_encrypted", "tax_id_masked", "version", "updated_at")
        await s.execute(
            update(contractors).where(contractors.c.id == bindparam("b_id")).values({c: bindparam(f"b_{c}") for c in cols}),
            [{"b_id": r["id"], **{f"b_{c}": r[c] for c in cols}} for r in changed],
        )
        for r in changed:
            emit_contractor(uow, r, created=False)
        result.contractors_updated += len(changed)
    return found


async def _ensure_jobs(
    uow: UnitOfWork, tenant_id: str, wanted: dict[str, tuple[ImportRow, str]], now: datetime
) -> dict[str, dict[str, Any]]:
    s = uow.session
    found: dict[str, dict[str, Any]] = {}
    keys = list(wanted)
    for part in _chunks(keys):
        for m in (
            await s.execute(
                where_among(select(jobs).where(jobs.c.tenant_id == tenant_id), jobs.c.natural_key, part, uow.db.dialect)
            )
        ).mappings():
            found[m["natural_key"]] = dict(m)
    new_rows: list[dict[str, Any]] = [
        {
            "id": new_id("jb"),
            "tenant_id": tenant_id,
            "entity_id": entity_id,
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
            "created_at": now,
            "updated_at": now,
        }
        for key, (row, entity_id) in wanted.items()
        if key not in found
    ]
    if new_rows:
        await insert_rows(s, jobs, new_rows, uow.db.dialect)
        missing = [r["natural_key"] for r in new_rows]
        for part in _chunks(missing):
            for m in (
                await s.execute(
                    where_among(select(jobs).where(jobs.c.tenant_id == tenant_id), jobs.c.natural_key, part, uow.db.dialect)
                )
            ).mappings():
                found[m["natural_key"]] = dict(m)
    return found


async def apply_rows(
    uow: UnitOfWork, ctx: Context, tenant_id: str, rows: list[ImportRow], *, batch_id: str | None, source: str = "csv"
) -> ChunkResult:
    """Upsert one chunk of validated rows inside ``uow`` (the caller commits)."""
    result = ChunkResult()
    if not rows:
        return result
    await lock_intake(uow, tenant_id)
    s = uow.session
    now = ctx.now()

    entity_names: dict[str, str] = {}
    latest: dict[str, ImportRow] = {}
    first_spelling: dict[str, str] = {}
    for r in rows:
        entity_names.setdefault(r.entity_key, r.entity_name)
        latest[r.email_key] = r  # the last row of an email wins
        first_spelling.setdefault(r.email_key, r.email)
    ents = await ensure_entities(uow, tenant_id, entity_names, now)
    people = await _upsert_contractors(uow, ctx, tenant_id, latest, first_spelling, now, source, result)
    wanted_jobs: dict[str, tuple[ImportRow, str]] = {}
    for r in rows:
        wanted_jobs.setdefault(r.job_key, (r, ents[r.entity_key]["id"]))
    job_rows = await _ensure_jobs(uow, tenant_id, wanted_jobs, now)

    # assignments already there for these contractors (cancelled and deleted ones count too)
    contractor_ids = list({people[r.email_key]["id"] for r in rows})
    existing: dict[tuple[str, str, str], dict[str, Any]] = {}
    for part in _chunks(contractor_ids):
        q = where_among(
            select(
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
            ).where(assignments.c.tenant_id == tenant_id),
            assignments.c.contractor_id,
            part,
            uow.db.dialect,
        )
        for m in (await s.execute(q)).mappings():
            existing[(m["contractor_id"], m["job_id"], m["dedupe_key"])] = dict(m)

    new_rows: list[dict[str, Any]] = []
    po_updates: list[tuple[dict[str, Any], dict[str, Any]]] = []
    seen: set[tuple[str, str, str]] = set()
    for r in rows:
        c, j = people[r.email_key], job_rows[r.job_key]
        key = (c["id"], j["id"], f"{r.effective_date.isoformat()}:{r.end_date.isoformat()}")
        if key in seen:
            continue
        seen.add(key)
        current = existing.get(key)
        if current is None:
            new_rows.append(
                {
                    "id": new_id("an"),
                    "tenant_id": tenant_id,
                    "contractor_id": c["id"],
                    "job_id": j["id"],
                    "effective_date": r.effective_date,
                    "end_date": r.end_date,
                    "dedupe_key": key[2],
                    "coverage_types": coverage_types_for(ents[r.entity_key]["required_coverage"]),
                    "po_number": r.po_number,
                    "po_contact_email": r.po_contact_email,
                    "campaign": r.campaign,
                    "po_set_at": now if r.po_number else None,
                    "po_set_by": None,
                    "status": "pending",
                    "cancel_reason": None,
                    "cancelled_at": None,
                    "deleted_at": None,
                    "import_batch_id": batch_id,
                    "source": source,
                    "version": 1,
                    "coverage_bound_at": None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        elif current["status"] == "pending" and current["deleted_at"] is None:
            change = {
                k: val
                for k, val in (("po_number", r.po_number), ("po_contact_email", r.po_contact_email), ("campaign", r.campaign))
                if val and current[k] != val
            }
            if change:
                po_updates.append((current, change))

    contractor_snaps: dict[str, ContractorSnapshot] = {}
    job_snaps: dict[str, JobSnapshot] = {}
    entities_by_id = {e["id"]: e for e in ents.values()}

    def snaps(a: dict[str, Any]) -> tuple[ContractorSnapshot, JobSnapshot]:
        cid, jid = a["contractor_id"], a["job_id"]
        if cid not in contractor_snaps:
            contractor_snaps[cid] = contractor_snapshot(people_by_id[cid])
        if jid not in job_snaps:
            j = jobs_by_id[jid]
            job_snaps[jid] = job_snapshot(j, entities_by_id[j["entity_id"]])
        return contractor_snaps[cid], job_snaps[jid]

    people_by_id = {p["id"]: p for p in people.values()}
    jobs_by_id = {j["id"]: j for j in job_rows.values()}

    if new_rows:
        inserted = await insert_rows(s, assignments, new_rows, uow.db.dialect)
        for a in new_rows:
            if a["id"] not in inserted:
                continue  # a concurrent intake created it first
            contractor, job = snaps(a)
            emit_assignment_state(uow, a, people_by_id[a["contractor_id"]], job, created=True, contractor=contractor)
            if a["po_number"]:
                emit_po_set(uow, a, previous_po_number=None, set_by=None)
            else:
                result.assignments_missing_po += 1
            result.assignments_created += 1

    if po_updates:
        po_updates.sort(key=lambda pair: pair[0]["id"])  # rows locked in id order, as the bulk PO action does
        params = []
        for current, change in po_updates:
            merged = {**current, **change, "version": current["version"] + 1}
            params.append(
                {
                    "b_id": current["id"],
                    "b_po_number": merged["po_number"],
                    "b_po_contact_email": merged["po_contact_email"],
                    "b_campaign": merged["campaign"],
                    "b_version": merged["version"],
                }
            )
        await s.execute(
            update(assignments)
            .where(assignments.c.id == bindparam("b_id"))
            .values(
                po_number=bindparam("b_po_number"),
                po_contact_email=bindparam("b_po_contact_email"),
                campaign=bindparam("b_campaign"),
                version=bindparam("b_version"),
                updated_at=now,
            ),
            params,
        )
        updated_ids = [current["id"] for current, _ in po_updates]
        full = {
            m["id"]: dict(m)
            for m in (
                await s.execute(
                    where_among(
                        select(assignments).where(assignments.c.tenant_id == tenant_id),
                        assignments.c.id,
                        updated_ids,
                        uow.db.dialect,
                    )
                )
            ).mappings()
        }
        for current, _change in po_updates:
            after = full[current["id"]]
            if after["po_number"]:
                emit_po_set(uow, after, previous_po_number=current["po_number"], set_by=None)
            else:  # only the campaign of an assignment still without PO changed
                contractor, job = snaps(after)
                emit_assignment_state(uow, after, people_by_id[after["contractor_id"]], job, created=False, contractor=contractor)
        await s.execute(
            update(assignments)
            .where(assignments.c.id.in_([cur["id"] for cur, ch in po_updates if "po_number" in ch]))
            .values(po_set_at=now)
        )
        result.assignments_updated += len(po_updates)
    return result
