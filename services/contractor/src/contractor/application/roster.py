"""The Contractors page read model, kept from enrollment's and policy's messages, and its query.

Each message moves only its own fact forward (``invited_at``, ``expired_at``, ``ineligible_at``,
``opted_in_at``, ``covered_at``: the newest time seen, by the envelope's ``occurred_at``) with one
atomic upsert, so concurrent consumers never overwrite each other and a late or repeated message
changes nothing it should not. The status is derived from the facts when read:

    covered      coverage bound or active for any assignment (CoverageBoundV1 / CoverageActivatedV1)
    declined     the contractor declined (ApplicationDeclinedV1) after the latest invitation and
                 after any opt-in (an opt-in after the decline, they changed their mind: opted_in)
    opted_in     the application was completed (ApplicationCompletedV1)
    ineligible   the application was found ineligible after the latest invitation
    expired      the latest invitation ran out unanswered (InvitationExpiredV1)
    invited      an invitation was issued (InvitationIssuedV1)
    not_invited  none of the above

so "covered" stays covered when a late InvitationIssued arrives, and a reissued invitation after
an expiry shows "invited" again. The page is one SQL statement: contractors, their assignment
counts, their status and the company-wide summary.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

import msgspec
from sqlalchemy import and_, bindparam, case, func, literal, or_, select, true, update
from ten99_contracts import Envelope
from ten99_contracts.enrollment_v1 import (
    ApplicationCompletedV1,
    ApplicationDeclinedV1,
    ApplicationIneligibleV1,
    InvitationExpiredV1,
    InvitationIssuedV1,
)
from ten99kit import ApiError, UnitOfWork, dialect_insert, get_logger

from ..adapters.db import assignments, contractors, roster_status
from . import assignment_facts
from .context import Context
from .details import take_contractor_details

log = get_logger("contractor.roster")

__all__ = [
    "READ_MODEL_LINGER_S",
    "STATUSES",
    "RosterPage",
    "RosterRow",
    "RosterSummary",
    "on_application_completed",
    "on_application_declined",
    "on_application_ineligible",
    "on_coverage",
    "on_invitation_expired",
    "on_invitation_issued",
    "read_roster",
]

#: how long the roster's consumers let messages gather after a fetch (the page is that much later)
READ_MODEL_LINGER_S = 0.2

STATUSES = ("not_invited", "invited", "expired", "ineligible", "declined", "opted_in", "covered", "own_insurance")


@cache
def _record_statement(dialect: str, column: str, extra: tuple[str, ...]) -> Any:
    """The upsert of `_record`, built once per (dialect, column, extra columns): building and
    keying a statement costs about as much Python time as executing it."""
    table = roster_status
    stmt = dialect_insert(table, dialect)
    col = table.c[column]
    newer = or_(col.is_(None), stmt.excluded[column] > col)
    sets: dict[str, Any] = {column: case((newer, stmt.excluded[column]), else_=col)}
    for name in extra:
        sets[name] = case((newer, stmt.excluded[name]), else_=table.c[name])
    return stmt.on_conflict_do_update(index_elements=["tenant_id", "contractor_id"], set_=sets)


async def _record(uow: UnitOfWork, tenant_id: str, contractor_id: str, column: str, at: datetime, **extra: Any) -> None:
    """Move ``column`` to ``at`` if that is newer; atomic on both engines."""
    stmt = _record_statement(uow.db.dialect, column, tuple(sorted(extra)))
    await uow.session.execute(stmt, {"tenant_id": tenant_id, "contractor_id": contractor_id, column: at, **extra})


_MARK_BOUND = (
    update(assignments)
    .where(
        assignments.c.tenant_id == bindparam("tid"),
        assignments.c.id == bindparam("aid"),
        assignments.c.coverage_bound_at.is_(None),
    )
    .values(coverage_bound_at=bindparam("at"))
)


async def on_invitation_issued(uow: UnitOfWork, envelope: Envelope[InvitationIssuedV1]) -> None:
    d = envelope.data
    await _record(uow, envelope.tenant_id, d.contractor_id, "invited_at", envelope.occurred_at, invitation_id=d.invitation_id)


async def on_invitation_expired(uow: UnitOfWork, envelope: Envelope[InvitationExpiredV1]) -> None:
    await _record(uow, envelope.tenant_id, envelope.data.contractor_id, "expired_at", envelope.occurred_at)


async def on_application_completed(uow: UnitOfWork, envelope: Envelope[ApplicationCompletedV1]) -> None:
    await _record(uow, envelope.tenant_id, envelope.data.contractor_id, "opted_in_at", envelope.occurred_at)
    await assignment_facts.record_application_completed(uow, envelope)
    await take_contractor_details(uow, envelope.tenant_id, envelope.data, envelope.occurred_at)


async def on_application_ineligible(uow: UnitOfWork, envelope: Envelope[ApplicationIneligibleV1]) -> None:
    await _record(uow, envelope.tenant_id, envelope.data.contractor_id, "ineligible_at", envelope.occurred_at)
    await assignment_facts.record_application_ineligible(uow, envelope)


async def on_application_declined(uow: UnitOfWork, envelope: Envelope[ApplicationDeclinedV1]) -> None:
    """The decline, its reason and note move together, only forward: a repeat changes nothing."""
    d = envelope.data
    at = envelope.occurred_at
    await _record(uow, envelope.tenant_id, d.contractor_id, "declined_at", at, decline_reason=d.reason, decline_note=d.note)


async def on_coverage(uow: UnitOfWork, envelope: Envelope[Any]) -> None:
    terms = envelope.data.terms
    await _record(uow, envelope.tenant_id, terms.contractor_id, "covered_at", envelope.occurred_at)
    params = {"tid": envelope.tenant_id, "aid": terms.assignment_id, "at": envelope.occurred_at}
    await uow.session.execute(_MARK_BOUND, params)
    await assignment_facts.record_coverage(uow, envelope.tenant_id, terms.assignment_id, terms.policy_id, envelope.occurred_at)


def status_expression() -> Any:
    r = roster_status.c
    return case(
        (r.covered_at.is_not(None), literal("covered")),
        # an approved upload of their own certificate (own_insurance.py): before a decline or an opt-in
        (r.own_insurance_at.is_not(None), literal("own_insurance")),
        (
            and_(
                r.declined_at.is_not(None),
                or_(r.opted_in_at.is_(None), r.declined_at > r.opted_in_at),
                or_(r.invited_at.is_(None), r.declined_at >= r.invited_at),
            ),
            literal("declined"),
        ),
        (r.opted_in_at.is_not(None), literal("opted_in")),
        (and_(r.ineligible_at.is_not(None), or_(r.invited_at.is_(None), r.ineligible_at >= r.invited_at)), literal("ineligible")),
        (and_(r.expired_at.is_not(None), or_(r.invited_at.is_(None), r.expired_at >= r.invited_at)), literal("expired")),
        (r.invited_at.is_not(None), literal("invited")),
        else_=literal("not_invited"),
    )


class RosterRow(msgspec.Struct, kw_only=True):
    contractor_id: str
    name: str
    first_name: str
    last_name: str
    email: str
    company_name: str | None
    status: str
    assignments: int
    assignments_missing_po: int
    invited_at: str | None
    opted_in_at: str | None
    covered_at: str | None
    created_at: str | None
    #: a declined contractor's reason (has_own_insurance | does_not_want | other)
    decline_reason: str | None = None


class RosterSummary(msgspec.Struct, kw_only=True):
    contractors: int
    assignments_missing_po: int
    #: every status in `STATUSES`, with its count of contractors
    by_status: dict[str, int]


class RosterPage(msgspec.Struct, kw_only=True):
    """The Contractors page: a page of the contractors matching the filters, and the company-wide summary."""

    data: list[RosterRow]
    total: int
    limit: int
    offset: int
    has_more: bool
    summary: RosterSummary


def _per_contractor(tenant_id: str) -> Any:
    """Each contractor of the company with its status and assignment counts (a CTE)."""
    live = and_(assignments.c.status == "pending", assignments.c.deleted_at.is_(None))
    counts = (
        select(
            assignments.c.contractor_id.label("contractor_id"),
            func.sum(case((assignments.c.deleted_at.is_(None), 1), else_=0)).label("n"),
            func.sum(case((and_(live, assignments.c.po_number.is_(None)), 1), else_=0)).label("missing"),
        )
        .where(assignments.c.tenant_id == tenant_id)
        .group_by(assignments.c.contractor_id)
        .cte("counts")
    )
    return (
        select(
            contractors.c.pk,
            contractors.c.id,
            contractors.c.first_name,
            contractors.c.last_name,
            contractors.c.email,
            contractors.c.company_name,
            contractors.c.created_at,
            status_expression().label("status"),
            roster_status.c.invited_at,
            roster_status.c.opted_in_at,
            roster_status.c.covered_at,
            roster_status.c.decline_reason,
            func.coalesce(counts.c.n, 0).label("assignments"),
            func.coalesce(counts.c.missing, 0).label("missing"),
        )
        .select_from(
            contractors.outerjoin(
                roster_status,
                and_(roster_status.c.tenant_id == contractors.c.tenant_id, roster_status.c.contractor_id == contractors.c.id),
            ).outerjoin(counts, counts.c.contractor_id == contractors.c.id)
        )
        .where(contractors.c.tenant_id == tenant_id)
        .cte("per")
    )


def _roster_statement(tenant_id: str, *, search: str | None, status: str | None, limit: int, offset: int) -> Any:
    """One statement: the summary row joined with the page's rows (none when nothing matches)."""
    per = _per_contractor(tenant_id)
    summary = select(
        func.count().label("s_contractors"),
        func.coalesce(func.sum(per.c.missing), 0).label("s_missing"),
        *[func.sum(case((per.c.status == s, 1), else_=0)).label(f"s_{s}") for s in STATUSES],
    ).cte("summary")
    filters = []
    if status:
        filters.append(per.c.status == status)
    if search and search.strip():
        pattern = f"%{search.strip().lower()}%"
        full_name = func.lower(per.c.first_name + literal(" ") + per.c.last_name)
        filters.append(or_(full_name.like(pattern), func.lower(per.c.email).like(pattern)))
    page = (
        select(per, func.count().over().label("matching"))
        .where(*filters)
        .order_by(per.c.pk.desc())
        .limit(limit)
        .offset(offset)
        .cte("page")
    )
    return select(summary, page).select_from(summary.outerjoin(page, true())).order_by(page.c.pk.desc())


def _roster_row(row: Any) -> RosterRow:
    return RosterRow(
        contractor_id=row["id"],
        name=f"{row['first_name']} {row['last_name']}",
        first_name=row["first_name"],
        last_name=row["last_name"],
        email=row["email"],
        company_name=row["company_name"],
        status=row["status"],
        assignments=int(row["assignments"]),
        assignments_missing_po=int(row["missing"]),
        invited_at=_iso(row["invited_at"]),
        opted_in_at=_iso(row["opted_in_at"]),
        covered_at=_iso(row["covered_at"]),
        created_at=_iso(row["created_at"]),
        decline_reason=row["decline_reason"] if row["status"] == "declined" else None,
    )


async def read_roster(ctx: Context, tenant_id: str, *, q: str | None, status: str | None, limit: int, offset: int) -> RosterPage:
    if status and status not in STATUSES:
        raise ApiError(f"status must be one of {', '.join(STATUSES)}", error_code="invalid_input")
    if not 1 <= limit <= 500 or offset < 0:
        raise ApiError("limit must be 1-500 and offset 0 or more", error_code="invalid_input")
    stmt = _roster_statement(tenant_id, search=q, status=status, limit=limit, offset=offset)
    async with ctx.db.reads() as session:
        rows = (await session.execute(stmt)).mappings().all()
    head = rows[0]
    data = [_roster_row(r) for r in rows if r["id"] is not None]
    matching = int(rows[0]["matching"] or 0) if data else 0
    return RosterPage(
        data=data,
        total=matching,
        limit=limit,
        offset=offset,
        has_more=offset + len(data) < matching,
        summary=RosterSummary(
            contractors=int(head["s_contractors"]),
            assignments_missing_po=int(head["s_missing"]),
            by_status={s: int(head[f"s_{s}"] or 0) for s in STATUSES},
        ),
    )


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite hands back text from a CTE
        return value
    return value.isoformat()
