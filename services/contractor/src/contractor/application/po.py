"""PO numbers: the missing-PO summary (pending assignments without a PO, per company) and the
bulk action that sets one PO number and contact on many assignments at once.

One PO per campaign is the norm, so the action takes either explicit ``assignment_ids`` or a
``campaign`` (then every assignment of that campaign still missing a PO). It is one transaction
with one bulk UPDATE; every assignment whose PO actually changes gets one ``PoNumberSetV1``;
assignments that already carry exactly this PO are left alone (a repeated action is harmless).
Unknown ids, other companies' ids and cancelled assignments make the whole action fail (400)
and nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import and_, func, select, update
from ten99kit import ApiError, UnitOfWork
from ten99kit.db import Row

from ..adapters.db import assignments, contractors, entities, jobs
from ..domain import values as v
from .commands import BulkPoIn, provided
from .context import Context
from .messages import emit_po_set

__all__ = ["MAX_BULK", "BulkPoResult", "MissingPoPage", "MissingPoRow", "bulk_set_po", "missing_po"]

MAX_BULK = 10_000


class MissingPoRow(msgspec.Struct, kw_only=True):
    assignment_id: str
    contractor_id: str
    contractor_name: str
    email: str
    job_id: str
    job_name: str
    entity_id: str
    entity_name: str
    campaign: str | None
    effective_date: str
    end_date: str
    import_batch_id: str | None
    #: the same as import_batch_id (the dashboard's name)
    import_id: str | None
    created_at: str


class MissingPoPage(msgspec.Struct, kw_only=True):
    """Pending assignments without a PO, newest first: ``count`` of them in all, and a page."""

    count: int
    limit: int
    offset: int
    assignments: list[MissingPoRow]


class BulkPoResult(msgspec.Struct, kw_only=True):
    updated: int
    unchanged: int
    #: those whose PO changed
    assignment_ids: list[str]


#: what the bulk action reads (and locks) of each assignment it may change
_LOCKED_COLUMNS = ("id", "tenant_id", "contractor_id", "po_number", "po_contact_email", "campaign", "status", "version")


def _missing_filter(tenant_id: str) -> Any:
    columns = assignments.c
    return and_(
        columns.tenant_id == tenant_id, columns.po_number.is_(None), columns.status == "pending", columns.deleted_at.is_(None)
    )


async def missing_po(ctx: Context, tenant_id: str, *, limit: int, offset: int, campaign: str | None = None) -> MissingPoPage:
    if not 1 <= limit <= 1000 or offset < 0:
        raise ApiError("limit must be 1-1000 and offset 0 or more", error_code="invalid_input")
    where = [_missing_filter(tenant_id)]
    if campaign:
        where.append(assignments.c.campaign == campaign)
    rows_q = (
        select(
            assignments.c.id,
            assignments.c.contractor_id,
            assignments.c.effective_date,
            assignments.c.end_date,
            assignments.c.campaign,
            assignments.c.import_batch_id,
            assignments.c.created_at,
            contractors.c.first_name,
            contractors.c.last_name,
            contractors.c.email,
            jobs.c.id.label("job_id"),
            jobs.c.name.label("job_name"),
            entities.c.id.label("entity_id"),
            entities.c.name.label("entity_name"),
            func.count().over().label("total"),
        )
        .join(contractors, contractors.c.id == assignments.c.contractor_id)
        .join(jobs, jobs.c.id == assignments.c.job_id)
        .join(entities, entities.c.id == jobs.c.entity_id)
        .where(*where)
        .order_by(assignments.c.pk.desc())
        .limit(limit)
        .offset(offset)
    )
    async with ctx.db.reads() as s:
        rows = (await s.execute(rows_q)).mappings().all()
        if rows:
            count = int(rows[0]["total"])
        else:
            count = (await s.execute(select(func.count()).select_from(assignments).where(*where))).scalar_one()
    return MissingPoPage(count=count, limit=limit, offset=offset, assignments=[_missing_row(r) for r in rows])


def _missing_row(row: Any) -> MissingPoRow:
    return MissingPoRow(
        assignment_id=row["id"],
        contractor_id=row["contractor_id"],
        contractor_name=f"{row['first_name']} {row['last_name']}",
        email=row["email"],
        job_id=row["job_id"],
        job_name=row["job_name"],
        entity_id=row["entity_id"],
        entity_name=row["entity_name"],
        campaign=row["campaign"],
        effective_date=row["effective_date"].isoformat(),
        end_date=row["end_date"].isoformat(),
        import_batch_id=row["import_batch_id"],
        import_id=row["import_batch_id"],
        created_at=row["created_at"].isoformat(),
    )


@dataclass(frozen=True)
class _BulkPo:
    """A bulk PO action, checked: the PO to set and which assignments take it."""

    po_number: str
    contact: str | None
    campaign: str | None
    set_by: str | None
    #: explicit ids (deduplicated), or none: then the campaign's assignments still missing a PO
    ids: list[str]

    def campaign_of(self, row: Row) -> str | None:
        """The campaign an assignment has after the action (the action's, else its own)."""
        return self.campaign or row["campaign"]


def _check_bulk(command: BulkPoIn) -> _BulkPo:
    data = provided(command)
    try:
        po_number = v.text(data.get("po_number"), max_length=100, what="po_number")
        raw_contact = data.get("po_contact_email")
        contact = None if raw_contact in (None, "") else v.parse_email(raw_contact, what="po_contact_email")
        campaign = v.text(data.get("campaign"), required=False, what="campaign")
        set_by = v.text(data.get("set_by"), required=False, what="set_by")
    except v.Invalid as e:
        raise ApiError(str(e), error_code="invalid_input") from None
    ids = data.get("assignment_ids")
    if ids is not None and (not isinstance(ids, list) or not all(isinstance(one, str) for one in ids)):
        raise ApiError("assignment_ids must be a list of assignment ids", error_code="invalid_input")
    if not ids and not campaign:
        raise ApiError("Give assignment_ids, or a campaign whose assignments lack a PO", error_code="invalid_input")
    ids = list(dict.fromkeys(ids or []))
    if len(ids) > MAX_BULK:
        raise ApiError(f"At most {MAX_BULK} assignments per action", error_code="invalid_input")
    assert po_number is not None
    return _BulkPo(po_number, contact, campaign, set_by, ids)


async def _lock_targets(uow: UnitOfWork, tenant_id: str, action: _BulkPo) -> dict[str, dict[str, Any]]:
    """The assignments the action names, locked (in id order, as the import updates them); an
    unknown or cancelled one fails the whole action."""
    query = select(*[assignments.c[name] for name in _LOCKED_COLUMNS])
    if action.ids:
        query = query.where(
            assignments.c.tenant_id == tenant_id, assignments.c.id.in_(action.ids), assignments.c.deleted_at.is_(None)
        )
    else:
        query = query.where(_missing_filter(tenant_id), assignments.c.campaign == action.campaign)
    query = query.order_by(assignments.c.id).with_for_update()
    found = {row["id"]: dict(row) for row in (await uow.session.execute(query)).mappings()}
    unknown = [one for one in action.ids if one not in found]
    if unknown:
        shown = ", ".join(unknown[:10]) + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
        raise ApiError(f"No such assignment(s): {shown}", error_code="invalid_assignment_id")
    cancelled = [one for one, row in found.items() if row["status"] != "pending"]
    if cancelled:
        raise ApiError(f"Cancelled assignments cannot take a PO: {', '.join(cancelled[:10])}", error_code="invalid_input")
    return found


async def bulk_set_po(ctx: Context, tenant_id: str, command: BulkPoIn) -> BulkPoResult:
    action = _check_bulk(command)
    now = ctx.now()
    async with ctx.db.uow() as uow:
        found = await _lock_targets(uow, tenant_id, action)
        wanted = (action.po_number, action.contact)
        changing = [
            row
            for row in found.values()
            if (row["po_number"], row["po_contact_email"], row["campaign"]) != (*wanted, action.campaign_of(row))
        ]
        if changing:
            values: dict[str, Any] = {
                "po_number": action.po_number,
                "po_contact_email": action.contact,
                "po_set_at": now,
                "po_set_by": action.set_by,
                "version": assignments.c.version + 1,
                "updated_at": now,
            }
            if action.campaign:
                values["campaign"] = action.campaign
            await uow.session.execute(
                update(assignments)
                .where(assignments.c.tenant_id == tenant_id, assignments.c.id.in_([row["id"] for row in changing]))
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            for row in changing:
                new = {
                    **row,
                    "po_number": action.po_number,
                    "po_contact_email": action.contact,
                    "campaign": action.campaign_of(row),
                    "version": row["version"] + 1,
                }
                emit_po_set(uow, new, previous_po_number=row["po_number"], set_by=action.set_by)
        await uow.commit()
    return BulkPoResult(
        updated=len(changing), unchanged=len(found) - len(changing), assignment_ids=[row["id"] for row in changing]
    )
