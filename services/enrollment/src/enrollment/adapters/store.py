"""Queries and writes the use cases share. Every function takes the tenant and filters by it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from sqlalchemy import String, Text, and_, bindparam, column, or_, select, tuple_, update, values
from sqlalchemy.ext.asyncio import AsyncSession
from ten99kit import dialect_insert as kit_dialect_insert

from ..domain.repeat_coverage import ConfirmedTerms
from .db import assignment_cancellations, assignments, contractors, invitation_assignments, invitations, quotes

__all__ = [
    "CONTRACTOR_FIELDS",
    "Row",
    "confirmed_terms",
    "contractor",
    "contractor_of_invitation",
    "dialect_insert",
    "is_cancelled",
    "live_assignments_of_invitation",
    "mark_assignments",
    "open_invitation",
    "record_enrollment",
    "upsert_contractor",
    "upsert_contractors",
]

Row = Mapping[Any, Any]  # a RowMapping or a dict


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


async def confirmed_terms(session: AsyncSession, tenant_id: str, contractor_id: str) -> list[ConfirmedTerms]:
    """What the contractor was quoted in completed applications and repeat enrollments, newest first."""
    q = (
        select(quotes)
        .where(quotes.c.tenant_id == tenant_id, quotes.c.contractor_id == contractor_id, quotes.c.accepted.is_(True))
        .order_by(quotes.c.created_at.desc())
    )
    return [
        ConfirmedTerms(
            session_id=r["session_id"],
            quote_id=r["id"],
            category_code=r["category_code"],
            coverage_types=tuple(r["coverage_types"]),
            home_state=r["home_state"],
            work_state=r["work_state"],
        )
        for r in (await session.execute(q)).mappings()
    ]


async def is_cancelled(session: AsyncSession, tenant_id: str, assignment_id: str) -> bool:
    q = select(assignment_cancellations.c.assignment_id).where(
        assignment_cancellations.c.tenant_id == tenant_id, assignment_cancellations.c.assignment_id == assignment_id
    )
    return (await session.execute(q)).first() is not None


async def record_enrollment(session: AsyncSession, marks: Sequence[tuple[str, str, str, str | None]]) -> None:
    """Set (tenant, assignment id, enrollment, note) on many assignments in one statement."""
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
            [{"m_tenant": t, "m_id": i, "m_state": e, "m_note": n} for t, i, e, n in marks],
        )
        return
    v = values(
        column("m_tenant", String), column("m_id", String), column("m_state", String), column("m_note", Text), name="marks"
    ).data(list(marks))
    await session.execute(
        update(assignments)
        .where(a.tenant_id == v.c.m_tenant, a.assignment_id == v.c.m_id)
        .values(enrollment=v.c.m_state, enrollment_note=v.c.m_note)
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
