"""The facility view's roster (docs/facility-view.md): who works at one end client (an entity)
now or soon, and nothing more about them than a facility's front desk needs.

An assignment is listed on ``day`` (UTC) when it is live (``pending``, not deleted) and its dates
meet the window ``day .. day + within_days``: it has not ended (``end_date >= day``) and starts
by the window's last day (``effective_date <= day + within_days``). `DEFAULT_WITHIN_DAYS` is 14.

Each row carries the contractor's name, the job's name and the dates: never an email, a phone,
an address, a tax id or pay. The coverage status and the certificate's verification link come
from the policy service (the gateway asks it per assignment); ``own_insurance`` says that the
contractor's own approved certificate covers the assignment instead (not its file or details).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import msgspec
from sqlalchemy import Select, select
from ten99kit import InvalidInput

from ..adapters.db import assignments, contractors, entities, jobs
from ..adapters.queries import get_row
from .context import Context

__all__ = ["DEFAULT_WITHIN_DAYS", "MAX_LISTED", "MAX_WITHIN_DAYS", "FacilityAssignment", "FacilityRoster", "facility_roster"]

#: "soon": an assignment starting within this many UTC days of today is listed
DEFAULT_WITHIN_DAYS = 14
MAX_WITHIN_DAYS = 60
#: rows in one answer (a venue with more is cut there, and ``truncated`` says so)
MAX_LISTED = 500


class FacilityAssignment(msgspec.Struct, frozen=True, kw_only=True):
    """One contractor working at the entity in the window: names and dates only."""

    assignment_id: str
    contractor_name: str
    job_name: str
    effective_date: date
    end_date: date
    #: covered by the contractor's own approved certificate (own_insurance.py), not by ten99 coverage
    own_insurance: bool = False


class FacilityRoster(msgspec.Struct, frozen=True, kw_only=True):
    """The entity's contractors now (started, not ended) and soon (starting by ``last_day``)."""

    entity_id: str
    entity_name: str
    first_day: date
    last_day: date
    assignments: list[FacilityAssignment]
    truncated: bool


def _name(first: str, last: str) -> str:
    return " ".join(part for part in (first.strip(), last.strip()) if part)


def _statement(tenant_id: str, entity_id: str, first_day: date, last_day: date) -> Select[Any]:
    a, person = assignments.c, contractors.c
    return (
        select(
            a.id,
            a.effective_date,
            a.end_date,
            a.own_insurance_upload_id,
            person.first_name,
            person.last_name,
            jobs.c.name.label("job_name"),
        )
        .select_from(assignments)
        .join(jobs, (jobs.c.id == a.job_id) & (jobs.c.tenant_id == a.tenant_id))
        .join(contractors, (person.id == a.contractor_id) & (person.tenant_id == a.tenant_id))
        .where(
            a.tenant_id == tenant_id,
            jobs.c.entity_id == entity_id,
            a.status == "pending",
            a.deleted_at.is_(None),
            a.end_date >= first_day,
            a.effective_date <= last_day,
        )
        .order_by(a.effective_date, person.last_name, person.first_name, a.pk)
        .limit(MAX_LISTED + 1)
    )


async def facility_roster(ctx: Context, tenant_id: str, entity_id: str, *, within_days: int) -> FacilityRoster:
    """The company's entity ``entity_id`` (404 ``invalid_entity_id`` if not theirs) and its
    contractors in the window, soonest start first."""
    if not 0 <= within_days <= MAX_WITHIN_DAYS:
        raise InvalidInput({"within_days": f"must be 0 to {MAX_WITHIN_DAYS}"})
    first_day = ctx.today()
    last_day = first_day + timedelta(days=within_days)
    async with ctx.db.reads() as s:
        entity = await get_row(s, entities, tenant_id, entity_id, "entity")
        rows = (await s.execute(_statement(tenant_id, entity_id, first_day, last_day))).mappings().all()
    listed = [
        FacilityAssignment(
            assignment_id=row["id"],
            contractor_name=_name(row["first_name"], row["last_name"]),
            job_name=row["job_name"],
            effective_date=row["effective_date"],
            end_date=row["end_date"],
            own_insurance=row["own_insurance_upload_id"] is not None,
        )
        for row in rows[:MAX_LISTED]
    ]
    return FacilityRoster(
        entity_id=entity["id"],
        entity_name=entity["name"],
        first_day=first_day,
        last_day=last_day,
        assignments=listed,
        truncated=len(rows) > MAX_LISTED,
    )
