"""Coverage-gap alerts: assignments about to start whose contractor is not covered.

The rule (`gap_filter`), in UTC days: an assignment is a coverage gap on ``day`` when

- it is live: ``pending`` (not cancelled), not deleted, and not ended (``end_date >= day``);
- it starts within ``WITHIN_DAYS`` days: ``day <= effective_date <= day + 3`` (starting in three
  days is a gap, in four is not; one that has already started is not "about to start");
- its contractor has not opted in: their roster status (`roster.status_expression`) is one of
  `GAP_STATUSES` (not invited, invited, expired, ineligible); or the contractor has coverage
  elsewhere (``covered``, or ``own_insurance`` from an approved certificate of their own) but
  not for this assignment: no coverage bound to it and no approved certificate covering it (a
  later assignment whose terms need a new opt-in, or one the approved certificate does not span).
  A contractor who opted in, and whose binding is on its way, is not a gap. A contractor who
  declined said no and is shown as Declined: not a gap (the issue's "has not opted in (or
  declined)" read as "has answered neither way"; adding ``"declined"`` to `GAP_STATUSES` would
  make a decline a gap too).

The dashboard reads the gaps of today (`read_gaps`: the Contractors page's banner and filter).
The daily alert is a clock-driven job (``coverage_gap_alerts``, as billing's PO reminder): for
each company with gaps today and no alert yet for today, it records the (company, UTC day) in
``coverage_gap_alerts`` and emits ``CoverageGapAlertDueV1`` in the same transaction. The row's
primary key makes the alert once per company and day: a rerun, a second worker or a repeated
tick inserts nothing and emits nothing; the notification service keys its email by the same
(company, day), so a redelivered message sends no second email either.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, and_, func, or_, select
from ten99_contracts.contractor_v1 import CoverageGap, CoverageGapAlertDueV1
from ten99kit import ApiError, UnitOfWork, dialect_insert, get_logger

from ..adapters.db import assignments, contractors, coverage_gap_alerts, jobs, roster_status
from .context import Context
from .roster import status_expression

__all__ = [
    "COVERED_ELSEWHERE",
    "GAP_STATUSES",
    "WITHIN_DAYS",
    "CoverageGapAlerts",
    "CoverageGapPage",
    "CoverageGapRow",
    "gap_filter",
    "read_gaps",
]

log = get_logger(__name__)

#: an assignment starting this many UTC days from today (or sooner, from today) is about to start
WITHIN_DAYS = 3
#: the roster statuses of a contractor who has not opted in (a declined one said no: not a gap)
GAP_STATUSES = ("not_invited", "invited", "expired", "ineligible")
#: the roster statuses of a contractor covered somewhere: a gap only where the assignment itself
#: has neither coverage bound nor an approved certificate of their own (own_insurance.py)
COVERED_ELSEWHERE = ("covered", "own_insurance")
#: gaps listed in one alert message (the count is always complete)
MAX_LISTED = 500
#: companies alerted per run of the job (the next tick takes the rest)
TENANTS_PER_RUN = 200


def _from_assignments() -> Any:
    """Assignments with their contractor, job and roster status (for `gap_filter`)."""
    return (
        assignments.join(contractors, contractors.c.id == assignments.c.contractor_id)
        .join(jobs, jobs.c.id == assignments.c.job_id)
        .outerjoin(
            roster_status,
            and_(
                roster_status.c.tenant_id == assignments.c.tenant_id,
                roster_status.c.contractor_id == assignments.c.contractor_id,
            ),
        )
    )


def gap_filter(day: date) -> ColumnElement[bool]:
    """The coverage-gap rule on ``day`` (UTC), over `_from_assignments` (see the module's doc)."""
    a, status = assignments.c, status_expression()
    return and_(
        a.status == "pending",
        a.deleted_at.is_(None),
        a.end_date >= day,
        a.effective_date >= day,
        a.effective_date <= day + timedelta(days=WITHIN_DAYS),
        or_(
            status.in_(GAP_STATUSES),
            and_(
                status.in_(COVERED_ELSEWHERE),
                a.coverage_bound_at.is_(None),
                a.own_insurance_upload_id.is_(None),
            ),
        ),
    )


class CoverageGapRow(msgspec.Struct, kw_only=True):
    assignment_id: str
    contractor_id: str
    contractor_name: str
    contractor_email: str
    job_id: str
    job_name: str
    effective_date: str
    end_date: str
    status: str


class CoverageGapPage(msgspec.Struct, kw_only=True):
    """Today's coverage gaps of a company, soonest first: ``count`` in all and a page."""

    day: str
    within_days: int
    count: int
    limit: int
    offset: int
    gaps: list[CoverageGapRow]


def _gaps_statement(tenant_id: str, day: date) -> Any:
    return (
        select(
            assignments.c.id,
            assignments.c.contractor_id,
            assignments.c.effective_date,
            assignments.c.end_date,
            contractors.c.first_name,
            contractors.c.last_name,
            contractors.c.email,
            jobs.c.id.label("job_id"),
            jobs.c.name.label("job_name"),
            status_expression().label("roster"),
        )
        .select_from(_from_assignments())
        .where(assignments.c.tenant_id == tenant_id, gap_filter(day))
        .order_by(assignments.c.effective_date, contractors.c.last_name, contractors.c.first_name, assignments.c.pk)
    )


def _count_statement(tenant_id: str, day: date) -> Any:
    return select(func.count()).select_from(_from_assignments()).where(assignments.c.tenant_id == tenant_id, gap_filter(day))


def _row(r: Any) -> CoverageGapRow:
    return CoverageGapRow(
        assignment_id=r["id"],
        contractor_id=r["contractor_id"],
        contractor_name=f"{r['first_name']} {r['last_name']}",
        contractor_email=r["email"],
        job_id=r["job_id"],
        job_name=r["job_name"],
        effective_date=r["effective_date"].isoformat(),
        end_date=r["end_date"].isoformat(),
        status=r["roster"],
    )


async def read_gaps(ctx: Context, tenant_id: str, *, limit: int, offset: int) -> CoverageGapPage:
    """The company's coverage gaps today (UTC); ``limit=0`` answers only the count (the banner)."""
    if not 0 <= limit <= 500 or offset < 0:
        raise ApiError("limit must be 0-500 and offset 0 or more", error_code="invalid_input")
    day = ctx.today()
    async with ctx.db.reads() as s:
        count = (await s.execute(_count_statement(tenant_id, day))).scalar_one()
        rows = (await s.execute(_gaps_statement(tenant_id, day).limit(limit).offset(offset))).mappings().all() if limit else []
    return CoverageGapPage(
        day=day.isoformat(),
        within_days=WITHIN_DAYS,
        count=int(count),
        limit=limit,
        offset=offset,
        gaps=[_row(r) for r in rows],
    )


class CoverageGapAlerts:
    """The daily job: one ``CoverageGapAlertDueV1`` per company with gaps, per UTC day."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def job(self, now: datetime) -> int:
        """Alert the companies with gaps on ``now``'s UTC day not yet alerted; returns how many."""
        day = now.date()
        sent = 0
        async with self.ctx.db.uow() as uow:
            for tenant_id in await _tenants_to_alert(uow, day):
                sent += await self._alert(uow, tenant_id, day, now)
            await uow.commit()
        return sent

    async def _alert(self, uow: UnitOfWork, tenant_id: str, day: date, now: datetime) -> int:
        count = int((await uow.session.execute(_count_statement(tenant_id, day))).scalar_one())
        if not count:
            return 0
        insert = dialect_insert(coverage_gap_alerts, uow.db.dialect)
        claimed = await uow.session.execute(
            insert.values(tenant_id=tenant_id, day=day, gap_count=count, sent_at=now)
            .on_conflict_do_nothing(index_elements=["tenant_id", "day"])
            .returning(coverage_gap_alerts.c.tenant_id)
        )
        if claimed.first() is None:  # another worker alerted this company today
            return 0
        rows = (await uow.session.execute(_gaps_statement(tenant_id, day).limit(MAX_LISTED))).mappings().all()
        gaps = [
            CoverageGap(
                assignment_id=r["id"],
                contractor_id=r["contractor_id"],
                contractor_name=f"{r['first_name']} {r['last_name']}",
                contractor_email=r["email"],
                job_name=r["job_name"],
                effective_date=r["effective_date"],
                status=r["roster"],
            )
            for r in rows
        ]
        message = CoverageGapAlertDueV1(day=day, within_days=WITHIN_DAYS, gaps=gaps, gap_count=count)
        uow.emit(message, tenant_id=tenant_id, aggregate_id=f"coverage_gaps:{day.isoformat()}", aggregate_version=1)
        log.info("contractor.coverage_gap_alert", tenant_id=tenant_id, day=day.isoformat(), gaps=count)
        return 1


async def _tenants_to_alert(uow: UnitOfWork, day: date) -> list[str]:
    """Companies with gaps on ``day`` and no alert for it yet."""
    alerted = select(coverage_gap_alerts.c.tenant_id).where(
        coverage_gap_alerts.c.tenant_id == assignments.c.tenant_id, coverage_gap_alerts.c.day == day
    )
    stmt = (
        select(assignments.c.tenant_id)
        .select_from(_from_assignments())
        .where(gap_filter(day), ~alerted.exists())
        .group_by(assignments.c.tenant_id)
        .order_by(assignments.c.tenant_id)
        .limit(TENANTS_PER_RUN)
    )
    return list((await uow.session.execute(stmt)).scalars().all())
