"""Write-side database access for the use cases: policies, coverages, certificates and the local
copies of assignments and companies. Every function takes the unit of work's session and the
tenant; nothing here commits (the caller's unit of work does)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from functools import cache
from typing import Any

import msgspec
from sqlalchemy import Row, and_, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from ten99_contracts import ContractorSnapshot
from ten99kit import dialect_insert, insert_ignore

from ..domain.coverage import CANCELLED, Coverage
from .db import assignments, certificates, companies, coverages, insured_corrections, policies, quote_bindings

__all__ = [
    "AssignmentFacts",
    "CertificateInputs",
    "Contact",
    "certificate_inputs",
    "contact_for",
    "contact_from",
    "coverage_for_assignment",
    "insert_certificates",
    "insert_coverages",
    "insert_quote_binding",
    "keep_insured_correction",
    "lock_assignment",
    "lock_assignments",
    "lock_company",
    "mark_certificates",
    "policy_for_contractor",
    "save_coverage",
    "take_insured_correction",
    "upsert_company",
]


def contractor_snapshot(value: Any) -> ContractorSnapshot | None:
    return None if value is None else msgspec.convert(value, ContractorSnapshot)


# -- companies ------------------------------------------------------------------------------


# Statements of the binding path, built once: building and keying a statement costs about as much
# Python time as executing it.
_COMPANY_LOCKED = select(companies.c.name).where(companies.c.tenant_id == bindparam("tid")).with_for_update(read=True)
_ASSIGNMENTS_LOCKED = (
    select(assignments)
    .where(assignments.c.tenant_id == bindparam("tid"), assignments.c.assignment_id.in_(bindparam("ids", expanding=True)))
    .order_by(assignments.c.assignment_id)
    .with_for_update()
)
_POLICY_OF_CONTRACTOR = select(policies).where(
    policies.c.tenant_id == bindparam("tid"), policies.c.contractor_id == bindparam("cid")
)
_POLICY_OF_CONTRACTOR_LOCKED = _POLICY_OF_CONTRACTOR.with_for_update()


@cache
def _insert_ignore(table: Any, dialect: str, returning: Any = None) -> Any:
    """`insert_ignore` built once per table and dialect (and RETURNING column)."""
    stmt = insert_ignore(table, dialect)
    return stmt.returning(returning) if returning is not None else stmt


#: AsyncSession.info key: the companies this transaction holds locked, with their names. A batch of
#: messages is applied in one transaction; the lock, once taken, lasts until its commit.
_LOCKED_COMPANIES = "policy.locked_companies"


async def upsert_company(s: AsyncSession, dialect: str, tenant_id: str, name: str, owner_email: str, now: datetime) -> None:
    s.info.get(_LOCKED_COMPANIES, {}).pop(tenant_id, None)
    inserted = await s.execute(
        insert_ignore(companies, dialect).values(tenant_id=tenant_id, name=name, owner_email=owner_email, updated_at=now)
    )
    if not inserted.rowcount:  # type: ignore[attr-defined]
        await s.execute(
            update(companies).where(companies.c.tenant_id == tenant_id).values(name=name, owner_email=owner_email, updated_at=now)
        )


async def lock_company(s: AsyncSession, dialect: str, tenant_id: str, now: datetime) -> str | None:
    """Share-lock the company's row (a nameless placeholder if its name is not known yet).

    A certificate needs facts that arrive on different subjects (the company's name, the
    assignment's snapshot) and a coverage to certify; the transactions that bring them run
    concurrently and must not each miss the other's work. So every handler that may issue a
    certificate takes its locks in one order (company row, shared; assignment rows; coverage
    rows) before reading, and `upsert_company` takes the company row exclusively: of two such
    transactions, one waits for the other's commit and then sees what it brought.

    Returns the company's name, if known. Taken once per transaction."""
    locked: dict[str, str | None] = s.info.setdefault(_LOCKED_COMPANIES, {})
    if tenant_id in locked:
        return locked[tenant_id]
    params = {"tid": tenant_id}
    row = (await s.execute(_COMPANY_LOCKED, params)).first()
    if row is None:
        await s.execute(insert_ignore(companies, dialect).values(tenant_id=tenant_id, name=None, updated_at=now))
        row = (await s.execute(_COMPANY_LOCKED, params)).first()
    name = row.name if row is not None else None
    locked[tenant_id] = name
    return name


# -- assignments (local copy) -----------------------------------------------------------------


async def lock_assignment(
    s: AsyncSession, dialect: str, tenant_id: str, assignment_id: str, contractor_id: str, now: datetime
) -> Row[Any]:
    """The assignment's row, locked; created empty (no snapshot yet) if this is its first news.
    One statement: an upsert locks the row it inserts or finds, and returns it."""
    stmt = dialect_insert(assignments, dialect).values(
        tenant_id=tenant_id, assignment_id=assignment_id, contractor_id=contractor_id, status="pending", updated_at=now
    )
    upsert = stmt.on_conflict_do_update(
        index_elements=[assignments.c.tenant_id, assignments.c.assignment_id],
        set_={"tenant_id": stmt.excluded.tenant_id},  # no change: only the row lock and its return
    ).returning(*assignments.c)
    return (await s.execute(upsert)).one()


async def update_assignment(s: AsyncSession, tenant_id: str, assignment_id: str, values: dict[str, Any]) -> None:
    await s.execute(
        update(assignments)
        .where(assignments.c.tenant_id == tenant_id, assignments.c.assignment_id == assignment_id)
        .values(**values)
    )


@dataclass(frozen=True)
class AssignmentFacts:
    """What binding needs from the local copy: the latest dates, whether it was cancelled, and
    (``row``) all of it, for the certificate."""

    effective_date: date | None
    end_date: date | None
    cancelled: bool
    row: Any

    @property
    def has_snapshot(self) -> bool:
        return self.row.snapshot_version is not None


async def lock_assignments(
    s: AsyncSession, dialect: str, tenant_id: str, contractor_id: str, assignment_ids: Sequence[str], now: datetime
) -> dict[str, AssignmentFacts]:
    """Lock the assignments' rows (created empty where nothing is known yet; see `lock_company`)
    and read what binding needs from them."""
    if not assignment_ids:
        return {}
    ids = sorted(set(assignment_ids))  # one lock order for everyone
    params = {"tid": tenant_id, "ids": ids}
    rows = list(await s.execute(_ASSIGNMENTS_LOCKED, params))
    if len(rows) < len(ids):  # first news of some of them: create their rows, then lock all
        placeholders = [
            {"tenant_id": tenant_id, "assignment_id": i, "contractor_id": contractor_id, "status": "pending", "updated_at": now}
            for i in ids
        ]
        await s.execute(_insert_ignore(assignments, dialect), placeholders)
        rows = list(await s.execute(_ASSIGNMENTS_LOCKED, params))
    return {r.assignment_id: AssignmentFacts(r.effective_date, r.end_date, r.status == CANCELLED, r) for r in rows}


# -- policies -------------------------------------------------------------------------------


async def policy_for_contractor(s: AsyncSession, tenant_id: str, contractor_id: str, *, lock: bool = False) -> Row[Any] | None:
    q = _POLICY_OF_CONTRACTOR_LOCKED if lock else _POLICY_OF_CONTRACTOR
    return (await s.execute(q, {"tid": tenant_id, "cid": contractor_id})).first()


async def insert_policy(s: AsyncSession, dialect: str, values: dict[str, Any]) -> bool:
    """False if the contractor already has a policy (another transaction created it first)."""
    result = await s.execute(_insert_ignore(policies, dialect), values)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def update_insured_if_newer(
    s: AsyncSession, tenant_id: str, contractor_id: str, insured: dict[str, Any], now: datetime
) -> bool:
    """Set the insured's details on the contractor's policy unless the policy holds newer ones
    (``insured_as_of``); one statement, so it cannot interleave with a completed application's
    update. False if there is no policy or it knows better."""
    result = await s.execute(
        update(policies)
        .where(
            policies.c.tenant_id == tenant_id,
            policies.c.contractor_id == contractor_id,
            or_(policies.c.insured_as_of.is_(None), policies.c.insured_as_of < insured["insured_as_of"]),
        )
        .values(**insured, updated_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def keep_insured_correction(
    s: AsyncSession, dialect: str, tenant_id: str, contractor_id: str, insured: dict[str, Any]
) -> None:
    """Keep a correction for a policy not created yet, unless a newer one is kept already."""
    values = {"insured_address": None, **insured}
    stmt: Any = dialect_insert(insured_corrections, dialect).values(tenant_id=tenant_id, contractor_id=contractor_id, **values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[insured_corrections.c.tenant_id, insured_corrections.c.contractor_id],
        set_=values,
        where=insured_corrections.c.insured_as_of < insured["insured_as_of"],
    )
    await s.execute(stmt)


async def take_insured_correction(s: AsyncSession, tenant_id: str, contractor_id: str) -> dict[str, Any] | None:
    """The kept correction for a policy being created, removed (one statement)."""
    c = insured_corrections
    row = (
        await s.execute(
            c.delete()
            .where(c.c.tenant_id == tenant_id, c.c.contractor_id == contractor_id)
            .returning(*(col for col in c.c if col.name.startswith("insured_")))
        )
    ).first()
    if row is None:
        return None
    kept = dict(row._mapping)
    if kept["insured_address"] is None:
        del kept["insured_address"]
    return kept


async def update_policy(s: AsyncSession, tenant_id: str, policy_id: str, values: dict[str, Any]) -> None:
    await s.execute(update(policies).where(policies.c.tenant_id == tenant_id, policies.c.id == policy_id).values(**values))


async def insert_quote_binding(s: AsyncSession, dialect: str, values: dict[str, Any]) -> bool:
    """False if the quote was bound already (one binding per quote, ever)."""
    result = await s.execute(_insert_ignore(quote_bindings, dialect), values)
    return bool(result.rowcount)  # type: ignore[attr-defined]


# -- coverages ------------------------------------------------------------------------------


async def insert_coverages(s: AsyncSession, dialect: str, rows: list[dict[str, Any]]) -> set[str]:
    """Insert; an assignment that has coverage already keeps it. Returns the ids inserted."""
    if not rows:
        return set()
    # executemany with RETURNING: one INSERT on the wire, compiled once per process
    return set((await s.execute(_insert_ignore(coverages, dialect, coverages.c.id), rows)).scalars())


#: the columns a `Coverage` is read from (its events are not stored)
_COVERAGE_COLUMNS = tuple(f.name for f in fields(Coverage) if f.name not in ("events", "coverage_types"))


def _coverage(row: Any) -> Coverage:
    return Coverage(coverage_types=list(row.coverage_types), **{name: getattr(row, name) for name in _COVERAGE_COLUMNS})


async def coverage_for_assignment(s: AsyncSession, tenant_id: str, assignment_id: str) -> Coverage | None:
    """The assignment's coverage, locked for the rest of the transaction."""
    q = select(coverages).where(coverages.c.tenant_id == tenant_id, coverages.c.assignment_id == assignment_id).with_for_update()
    row = (await s.execute(q)).first()
    return None if row is None else _coverage(row)


async def save_coverage(s: AsyncSession, coverage: Coverage, now: datetime, **extra: Any) -> None:
    await s.execute(
        update(coverages)
        .where(coverages.c.tenant_id == coverage.tenant_id, coverages.c.id == coverage.id)
        .values(
            effective_date=coverage.effective_date,
            end_date=coverage.end_date,
            status=coverage.status,
            version=coverage.version,
            cancel_reason=coverage.cancel_reason,
            updated_at=now,
            **extra,
        )
    )


@dataclass(frozen=True)
class Contact:
    name: str
    email: str


async def contact_for(s: AsyncSession, tenant_id: str, policy_id: str, assignment_id: str) -> Contact:
    """Whom to tell about a coverage: the insured as confirmed at opt-in, else as the company entered them."""
    q = (
        select(
            policies.c.insured_first_name,
            policies.c.insured_last_name,
            policies.c.insured_email,
            assignments.c.contractor,
        )
        .select_from(policies)
        .outerjoin(assignments, and_(assignments.c.tenant_id == tenant_id, assignments.c.assignment_id == assignment_id))
        .where(policies.c.tenant_id == tenant_id, policies.c.id == policy_id)
    )
    row = (await s.execute(q)).first()
    if row is None:
        return Contact("", "")
    return contact_from(row.insured_first_name, row.insured_last_name, row.insured_email, contractor_snapshot(row.contractor))


def contact_from(first: str | None, last: str | None, email: str | None, snapshot: ContractorSnapshot | None) -> Contact:
    if first or last:
        name = f"{first or ''} {last or ''}".strip()
    elif snapshot is not None:
        name = f"{snapshot.first_name} {snapshot.last_name}".strip()
    else:
        name = ""
    return Contact(name, email or (snapshot.email if snapshot else ""))


# -- certificates ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CertificateInputs:
    """One coverage whose certificate is due, with everything the certificate prints."""

    coverage: Any  # the coverages row
    policy: Any  # the policies row
    assignment: Any  # the assignments row (has a snapshot)
    company_name: str | None
    previous_number: str | None


async def certificate_inputs(
    s: AsyncSession,
    *,
    tenant_id: str | None = None,
    coverage_ids: Iterable[str] | None = None,
    assignment_id: str | None = None,
    company_known_or_bound_before: datetime,
    limit: int = 500,
    postgres: bool = True,
) -> list[CertificateInputs]:
    """Coverages with a certificate due whose assignment is known and whose company is known
    (or was waited for long enough: bound before the given instant), locked, so that two
    transactions never issue the same certificate: the second finds it no longer due."""
    previous = certificates.alias("previous")
    c, p, a = coverages, policies, assignments
    q = (
        select(c, p, a, companies.c.name.label("company_name"), previous.c.number.label("previous_number"))
        .select_from(c)
        .join(p, and_(p.c.id == c.c.policy_id, p.c.tenant_id == c.c.tenant_id))
        .join(a, and_(a.c.tenant_id == c.c.tenant_id, a.c.assignment_id == c.c.assignment_id))
        .outerjoin(companies, companies.c.tenant_id == c.c.tenant_id)
        .outerjoin(previous, and_(previous.c.id == c.c.certificate_id, previous.c.tenant_id == c.c.tenant_id))
        .where(
            c.c.certificate_due.is_(True),
            c.c.status != CANCELLED,
            a.c.snapshot_version.is_not(None),
            or_(companies.c.name.is_not(None), c.c.bound_at <= company_known_or_bound_before),
        )
        .order_by(c.c.id)
        .limit(limit)
    )
    if tenant_id is not None:
        q = q.where(c.c.tenant_id == tenant_id)
    if coverage_ids is not None:
        ids = list(coverage_ids)
        if not ids:
            return []
        q = q.where(c.c.id.in_(ids))
    if assignment_id is not None:
        q = q.where(c.c.assignment_id == assignment_id)
    if postgres:
        q = q.with_for_update(of=c)
    result = await s.execute(q)
    # the three tables share column names: split the flat row by position
    nc, np_, na = len(c.c), len(p.c), len(a.c)
    out = []
    for row in result:
        values = tuple(row)
        out.append(
            CertificateInputs(
                coverage=_record(c, values[:nc]),
                policy=_record(p, values[nc : nc + np_]),
                assignment=_record(a, values[nc + np_ : nc + np_ + na]),
                company_name=values[-2],
                previous_number=values[-1],
            )
        )
    return out


class _Record:
    __slots__ = ("__dict__",)

    def __init__(self, mapping: dict[str, Any]) -> None:
        self.__dict__.update(mapping)


def _record(table: Any, values: Sequence[Any]) -> Any:
    return _Record({col.name: v for col, v in zip(table.c, values, strict=True)})


async def insert_certificates(s: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await s.execute(certificates.insert(), rows)


async def point_coverages_at(s: AsyncSession, pairs: list[dict[str, Any]], now: datetime) -> None:
    """Each coverage's current certificate is the new one; nothing is due any more."""
    if not pairs:
        return
    stmt = (
        update(coverages)
        .where(coverages.c.id == bindparam("b_coverage_id"))
        .values(certificate_id=bindparam("b_certificate_id"), certificate_due=False, updated_at=now)
    )
    await s.execute(stmt, pairs)


async def documents_of(s: AsyncSession, tenant_id: str | None, certificate_ids: Sequence[str]) -> dict[str, Any]:
    if not certificate_ids:
        return {}
    q = select(certificates.c.id, certificates.c.document).where(certificates.c.id.in_(certificate_ids))
    if tenant_id is not None:
        q = q.where(certificates.c.tenant_id == tenant_id)
    return {r.id: r.document for r in await s.execute(q)}


async def mark_certificates(s: AsyncSession, changes: list[dict[str, Any]]) -> None:
    """Set status (superseded | void), superseded_by, the re-drawn PDF and its stamp."""
    if not changes:
        return
    stmt = (
        update(certificates)
        .where(certificates.c.id == bindparam("b_id"))
        .values(
            status=bindparam("b_status"),
            superseded_by=bindparam("b_superseded_by"),
            status_changed_at=bindparam("b_at"),
            document=bindparam("b_document"),
            pdf=bindparam("b_pdf"),
            pdf_sha256=bindparam("b_sha"),
        )
    )
    await s.execute(stmt, changes)
