"""Queries and writes the use cases share. Every function takes the tenant and filters by it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import String, Text, and_, bindparam, column, or_, select, tuple_, update, values
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement
from ten99kit import dialect_insert as kit_dialect_insert
from ten99kit.db import Row

from ..domain.repeat_coverage import ConfirmedTerms
from .db import (
    application_sessions,
    assignment_cancellations,
    assignments,
    contractors,
    invitation_assignments,
    invitations,
    quotes,
)

__all__ = [
    "CONTRACTOR_FIELDS",
    "EnrollmentMark",
    "Key",
    "assignments_awaiting_opt_in",
    "confirmed_terms",
    "confirmed_terms_by_contractor",
    "contractor",
    "contractor_of_invitation",
    "contractors_by_key",
    "dialect_insert",
    "is_cancelled",
    "live_assignments_of_invitation",
    "mark_assignments",
    "open_invitation",
    "pending_invitations_by_contractor",
    "record_enrollment",
    "update_open_sessions_of",
    "upsert_contractor",
    "upsert_contractors",
    "within",
]


def dialect_insert(session: AsyncSession, table: Any) -> Any:
    """``INSERT`` with ``ON CONFLICT`` support for the engine in use."""
    return kit_dialect_insert(table, session.get_bind().dialect.name)


CONTRACTOR_FIELDS = ("first_name", "last_name", "email", "phone", "address", "company_name", "observed_at", "version")


async def upsert_contractors(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Keep each contractor's newest state: later ``observed_at`` wins, then the higher version.
    Rows go in key order, so that concurrent batches lock contractors in the same order."""
    if not rows:
        return
    stmt = _upsert_contractor_statement(session.get_bind().dialect.name)
    await session.execute(stmt, sorted(rows, key=lambda r: (r["tenant_id"], r["contractor_id"])))


@cache
def _upsert_contractor_statement(dialect: str) -> Any:
    """Built once per dialect (building and keying it cost as much as executing it)."""
    stmt = kit_dialect_insert(contractors, dialect)
    c, ex = contractors.c, stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=[c.tenant_id, c.contractor_id],
        set_={k: ex[k] for k in CONTRACTOR_FIELDS},
        where=or_(ex.observed_at > c.observed_at, and_(ex.observed_at == c.observed_at, ex.version >= c.version)),
    )


async def upsert_contractor(session: AsyncSession, row: dict[str, Any]) -> None:
    await upsert_contractors(session, [row])


async def contractor(session: AsyncSession, tenant_id: str, contractor_id: str, *, lock: bool = False) -> Row | None:
    """The contractor's local copy. ``lock`` serialises work on one contractor: every writer
    locks the contractor first, then the contractor's invitation (one order, no deadlocks)."""
    q = select(contractors).where(contractors.c.tenant_id == tenant_id, contractors.c.contractor_id == contractor_id)
    if lock:
        q = q.with_for_update()
    return (await session.execute(q)).mappings().first()


_inv = invitations.c
#: the contractor an invitation (by its token's hash) was sent to; built once (building and
#: keying a statement costs about as much as executing it)
_CONTRACTOR_OF_INVITATION = select(contractors).where(
    tuple_(contractors.c.tenant_id, contractors.c.contractor_id).in_(
        select(_inv.tenant_id, _inv.contractor_id).where(_inv.token_hash == bindparam("token_hash"))
    )
)
_CONTRACTOR_OF_INVITATION_LOCKED = _CONTRACTOR_OF_INVITATION.with_for_update()


async def contractor_of_invitation(session: AsyncSession, token_hash: str, *, lock: bool = False) -> Row | None:
    """The local copy of the contractor an invitation (by its token's hash) was sent to, in one
    statement; ``lock`` as in `contractor`."""
    q = _CONTRACTOR_OF_INVITATION_LOCKED if lock else _CONTRACTOR_OF_INVITATION
    return (await session.execute(q, {"token_hash": token_hash})).mappings().first()


async def open_invitation(session: AsyncSession, tenant_id: str, contractor_id: str, *, lock: bool = False) -> Row | None:
    """The contractor's pending invitation (at most one exists), whatever the clock says."""
    q = select(invitations).where(
        invitations.c.tenant_id == tenant_id, invitations.c.contractor_id == contractor_id, invitations.c.status == "pending"
    )
    if lock:
        q = q.with_for_update()
    return (await session.execute(q)).mappings().first()


async def live_assignments_of_invitation(session: AsyncSession, tenant_id: str, invitation_id: str) -> list[Row]:
    """The invitation's assignments that are not cancelled, oldest start first.

    Two primary-key lookups rather than a join: on a freshly filled table (no planner statistics
    yet, as right after a large import) PostgreSQL joined through the tenant-wide index and read
    every assignment of the company for each opt-in.
    """
    ids = (await session.execute(_ASSIGNMENT_IDS_OF_INVITATION, {"iid": invitation_id, "tid": tenant_id})).scalars().all()
    if not ids:
        return []
    params = {"tid": tenant_id, "ids": list(ids)}
    return list((await session.execute(_LIVE_ASSIGNMENTS_BY_ID, params)).mappings().all())


_ia = invitation_assignments.c
_ASSIGNMENT_IDS_OF_INVITATION = select(_ia.assignment_id).where(
    _ia.invitation_id == bindparam("iid"), _ia.tenant_id == bindparam("tid")
)
_LIVE_ASSIGNMENTS_BY_ID = (
    select(assignments)
    .where(
        assignments.c.tenant_id == bindparam("tid"),
        assignments.c.assignment_id.in_(bindparam("ids", expanding=True)),
        assignments.c.status != "cancelled",
    )
    .order_by(assignments.c.effective_date, assignments.c.assignment_id)
)


#: (tenant, id) of a row
Key = tuple[str, str]


def within(tenant_column: Any, id_column: Any, keys: Sequence[Key]) -> list[ColumnElement[bool]]:
    """Rows whose (tenant, id) may be among ``keys``: two IN lists, which use the indexes (a
    batch rarely spans tenants); callers keep the exact keys."""
    return [tenant_column.in_(sorted({t for t, _ in keys})), id_column.in_(sorted({i for _, i in keys}))]


async def contractors_by_key(session: AsyncSession, keys: Sequence[Key]) -> dict[Key, Row]:
    """The local copies of the contractors ``keys`` name (tenant, contractor id)."""
    c = contractors.c
    rows = await session.execute(select(contractors).where(*within(c.tenant_id, c.contractor_id, keys)))
    return {(r["tenant_id"], r["contractor_id"]): r for r in rows.mappings()}


def _confirmed(quote: Row) -> ConfirmedTerms:
    return ConfirmedTerms(
        session_id=quote["session_id"],
        quote_id=quote["id"],
        category_code=quote["category_code"],
        coverage_types=tuple(quote["coverage_types"]),
        home_state=quote["home_state"],
        work_state=quote["work_state"],
    )


async def confirmed_terms_by_contractor(session: AsyncSession, keys: Sequence[Key]) -> dict[Key, list[ConfirmedTerms]]:
    """What each contractor was quoted in completed applications and repeat enrollments, newest first."""
    q = quotes.c
    rows = await session.execute(
        select(quotes).where(*within(q.tenant_id, q.contractor_id, keys), q.accepted.is_(True)).order_by(q.created_at.desc())
    )
    confirmed: dict[Key, list[ConfirmedTerms]] = {}
    for quote in rows.mappings():
        confirmed.setdefault((quote["tenant_id"], quote["contractor_id"]), []).append(_confirmed(quote))
    return confirmed


async def confirmed_terms(session: AsyncSession, tenant_id: str, contractor_id: str) -> list[ConfirmedTerms]:
    """What the contractor was quoted in completed applications and repeat enrollments, newest first."""
    key = (tenant_id, contractor_id)
    return (await confirmed_terms_by_contractor(session, [key])).get(key, [])


async def pending_invitations_by_contractor(session: AsyncSession, keys: Sequence[Key]) -> dict[Key, Row]:
    """The pending invitation (at most one) of each contractor ``keys`` name, locked."""
    i = invitations.c
    rows = await session.execute(
        select(invitations).where(*within(i.tenant_id, i.contractor_id, keys), i.status == "pending").with_for_update()
    )
    wanted = set(keys)
    found = {(r["tenant_id"], r["contractor_id"]): r for r in rows.mappings()}
    return {key: row for key, row in found.items() if key in wanted}


async def assignments_awaiting_opt_in(session: AsyncSession, tenant_id: str, contractor_id: str, today: date) -> list[str]:
    """Assignments a new link should cover when none is open: not cancelled, not ended, and not
    covered yet (left by an expired or revoked link, or answered ineligible before); oldest start first."""
    a = assignments.c
    q = (
        select(a.assignment_id)
        .where(
            a.tenant_id == tenant_id,
            a.contractor_id == contractor_id,
            a.status != "cancelled",
            a.end_date >= today,
            a.enrollment.in_(["invited", "ineligible"]),
        )
        .order_by(a.effective_date, a.assignment_id)
    )
    return list((await session.execute(q)).scalars())


async def update_open_sessions_of(session: AsyncSession, tenant_id: str, waiting_on: str, **values: Any) -> None:
    """Change the open application sessions that wait on the invitation ``waiting_on`` (at most one)."""
    sc = application_sessions.c
    await session.execute(
        update(application_sessions)
        .where(sc.tenant_id == tenant_id, sc.invitation_id == waiting_on, sc.status == "open")
        .values(**values)
    )


async def is_cancelled(session: AsyncSession, tenant_id: str, assignment_id: str) -> bool:
    q = select(assignment_cancellations.c.assignment_id).where(
        assignment_cancellations.c.tenant_id == tenant_id, assignment_cancellations.c.assignment_id == assignment_id
    )
    return (await session.execute(q)).first() is not None


class EnrollmentMark(NamedTuple):
    """What enrollment did with an assignment (its ``enrollment`` column), and why."""

    tenant_id: str
    assignment_id: str
    enrollment: str  # invited | quoted | enrolled | ineligible | not_coverable
    note: str | None = None


async def record_enrollment(session: AsyncSession, marks: Sequence[EnrollmentMark]) -> None:
    """Record the marks of many assignments in one statement."""
    if not marks:
        return
    a = assignments.c
    # a few rows (an opt-in marks its contractor's assignments): an executemany of one cached
    # statement; many rows (PostgreSQL): one UPDATE from a VALUES list, compiled for each call.
    # SQLite has no aliased VALUES list; its executemany is cheap.
    if len(marks) <= 20 or session.get_bind().dialect.name != "postgresql":
        await session.execute(
            update(assignments)
            .where(a.tenant_id == bindparam("m_tenant"), a.assignment_id == bindparam("m_id"))
            .values(enrollment=bindparam("m_state"), enrollment_note=bindparam("m_note")),
            [{"m_tenant": m.tenant_id, "m_id": m.assignment_id, "m_state": m.enrollment, "m_note": m.note} for m in marks],
        )
        return
    listed = values(
        column("m_tenant", String), column("m_id", String), column("m_state", String), column("m_note", Text), name="marks"
    ).data([tuple(m) for m in marks])
    await session.execute(
        update(assignments)
        .where(a.tenant_id == listed.c.m_tenant, a.assignment_id == listed.c.m_id)
        .values(enrollment=listed.c.m_state, enrollment_note=listed.c.m_note)
    )


async def mark_assignments(
    session: AsyncSession, tenant_id: str, assignment_ids: Sequence[str], enrollment: str, note: str | None = None
) -> None:
    if not assignment_ids:
        return
    await session.execute(
        update(assignments)
        .where(assignments.c.tenant_id == tenant_id, assignments.c.assignment_id.in_(list(assignment_ids)))
        .values(enrollment=enrollment, enrollment_note=note)
    )
