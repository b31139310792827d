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

from typing import Any

import msgspec
from sqlalchemy import and_, func, select, update
from ten99kit import ApiError

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


def _missing_filter(tenant_id: str) -> Any:
    a = assignments.c
    return and_(a.tenant_id == tenant_id, a.po_number.is_(None), a.status == "pending", a.deleted_at.is_(None))


async def missing_po(ctx: Context, tenant_id: str, *, limit: int, offset: int, campaign: str | None = None) -> MissingPoPage:
    if not 1 <= limit <= 1000 or offset < 0:
        raise ApiError("limit must be 1-1000 and offset 0 or more", error_code="invalid_input")
    a = assignments.c
    where = [_missing_filter(tenant_id)]
    if campaign:
        where.append(a.campaign == campaign)
    rows_q = (
        select(
            a.id,
            a.contractor_id,
            a.effective_date,
            a.end_date,
            a.campaign,
            a.import_batch_id,
            a.created_at,
            contractors.c.first_name,
            contractors.c.last_name,
            contractors.c.email,
            jobs.c.id.label("job_id"),
            jobs.c.name.label("job_name"),
            entities.c.id.label("entity_id"),
            entities.c.name.label("entity_name"),
            func.count().over().label("total"),
        )
        .join(contractors, contractors.c.id == a.contractor_id)
        .join(jobs, jobs.c.id == a.job_id)
        .join(entities, entities.c.id == jobs.c.entity_id)
        .where(*where)
        .order_by(a.pk.desc())
        .limit(limit)
        .offset(offset)
    )
    async with ctx.db.session() as s:
        rows = (await s.execute(rows_q)).mappings().all()
        if rows:
            count = int(rows[0]["total"])
        else:
            count = (await s.execute(select(func.count()).select_from(assignments).where(*where))).scalar_one()
    return MissingPoPage(count=count, limit=limit, offset=offset, assignments=[_missing_row(r) for r in rows])


def _missing_row(r: Any) -> MissingPoRow:
    return MissingPoRow(
        assignment_id=r["id"],
        contractor_id=r["contractor_id"],
        contractor_name=f"{r['first_name']} {r['last_name']}",
        email=r["email"],
        job_id=r["job_id"],
        job_name=r["job_name"],
        entity_id=r["entity_id"],
        entity_name=r["entity_name"],
        campaign=r["campaign"],
        effective_date=r["effective_date"].isoformat(),
        end_date=r["end_date"].isoformat(),
        import_batch_id=r["import_batch_id"],
        import_id=r["import_batch_id"],
        created_at=r["created_at"].isoformat(),
    )


async def bulk_set_po(ctx: Context, tenant_id: str, command: BulkPoIn) -> BulkPoResult:
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
    if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)):
        raise ApiError("assignment_ids must be a list of assignment ids", error_code="invalid_input")
    if not ids and not campaign:
        raise ApiError("Give assignment_ids, or a campaign whose assignments lack a PO", error_code="invalid_input")
    ids = list(dict.fromkeys(ids or []))
    if len(ids) > MAX_BULK:
        raise ApiError(f"At most {MAX_BULK} assignments per action", error_code="invalid_input")

    a = assignments.c
    cols = (a.id, a.tenant_id, a.contractor_id, a.po_number, a.po_contact_email, a.campaign, a.status, a.version)
    now = ctx.now()
    async with ctx.db.uow() as uow:
        s = uow.session
        if ids:
            q = select(*cols).where(a.tenant_id == tenant_id, a.id.in_(ids), a.deleted_at.is_(None))
        else:
            q = select(*cols).where(_missing_filter(tenant_id), a.campaign == campaign)
        q = q.order_by(a.id).with_for_update()  # rows locked in id order, as the import updates them
        found = {r["id"]: dict(r) for r in (await s.execute(q)).mappings()}
        unknown = [i for i in ids if i not in found]
        if unknown:
            shown = ", ".join(unknown[:10]) + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
            raise ApiError(f"No such assignment(s): {shown}", error_code="invalid_assignment_id")
        cancelled = [i for i, r in found.items() if r["status"] != "pending"]
        if cancelled:
            raise ApiError(f"Cancelled assignments cannot take a PO: {', '.join(cancelled[:10])}", error_code="invalid_input")
        target_campaign = (lambda r: campaign) if campaign else (lambda r: r["campaign"])
        changing = [
            r
            for r in found.values()
            if (r["po_number"], r["po_contact_email"], r["campaign"]) != (po_number, contact, target_campaign(r))
        ]
        if changing:
            values: dict[str, Any] = {
                "po_number": po_number,
                "po_contact_email": contact,
                "po_set_at": now,
                "po_set_by": set_by,
                "version": a.version + 1,
                "updated_at": now,
            }
            if campaign:
                values["campaign"] = campaign
            await s.execute(
                update(assignments)
                .where(a.tenant_id == tenant_id, a.id.in_([r["id"] for r in changing]))
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            for r in changing:
                new = {
                    **r,
                    "po_number": po_number,
                    "po_contact_email": contact,
                    "campaign": target_campaign(r),
                    "version": r["version"] + 1,
                }
                emit_po_set(uow, new, previous_po_number=r["po_number"], set_by=set_by)
        await uow.commit()
    return BulkPoResult(updated=len(changing), unchanged=len(found) - len(changing), assignment_ids=[r["id"] for r in changing])
