"""Read-side queries for the HTTP API. Every query filters by the tenant; the PDF column is read
only by the download queries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from ten99kit.db import Row
from ten99kit.pagination import Page, PageRequest, fetch_page

from ..domain.coverage import CANCELLED
from .db import assignments, certificates, coverages, policies, quote_bindings

__all__ = [
    "Page",
    "PageRequest",
    "PolicyFilter",
    "certificate_file",
    "certificate_history",
    "coverages_page",
    "policies_page",
    "policy_rollups",
    "policy_row",
]

# the columns of `certificates` apart from the PDF and its drawing inputs
_CERT = [c for c in certificates.c if c.name not in ("pdf", "document")]


@dataclass(frozen=True)
class PolicyFilter:
    """What a list of policies is narrowed to (each optional, combinable)."""

    contractor: str | None = None
    #: a quote bound on the policy: its first, one of its coverages', or a quote bound alone
    quote: str | None = None
    status: str | None = None


def _has_quote(quote: str) -> ColumnElement[bool]:
    """SQL: ``quote`` was bound on the policy (as its first quote, a coverage's or a quote's alone)."""
    by_coverage = exists().where(
        coverages.c.tenant_id == policies.c.tenant_id, coverages.c.policy_id == policies.c.id, coverages.c.quote_id == quote
    )
    by_quote = exists().where(
        quote_bindings.c.tenant_id == policies.c.tenant_id,
        quote_bindings.c.policy_id == policies.c.id,
        quote_bindings.c.quote_id == quote,
    )
    return or_(policies.c.quote_id == quote, by_coverage, by_quote)


async def policies_page(session: AsyncSession, tenant_id: str, filters: PolicyFilter, request: PageRequest) -> Page:
    """The tenant's policies, newest first, narrowed by ``filters``."""
    where: list[ColumnElement[bool]] = [policies.c.tenant_id == tenant_id]
    if filters.contractor:
        where.append(policies.c.contractor_id == filters.contractor)
    if filters.status:
        where.append(policies.c.status == filters.status)
    if filters.quote:
        where.append(_has_quote(filters.quote))
    return await fetch_page(
        session,
        select(policies),
        keys=(policies.c.created_at, policies.c.id),
        id_column=policies.c.id,
        where=where,
        request=request,
    )


async def policy_row(session: AsyncSession, tenant_id: str, policy_id: str) -> Row | None:
    q = select(policies).where(policies.c.tenant_id == tenant_id, policies.c.id == policy_id)
    return (await session.execute(q)).mappings().first()


@dataclass
class PolicyRollup:
    effective_date: Any = None
    expiration_date: Any = None
    assignments: int = 0
    #: coverage type -> the newest current certificate covering it: (certificate id, tenant)
    certificates: dict[str, str] | None = None


async def policy_rollups(session: AsyncSession, tenant_id: str, policy_ids: Sequence[str]) -> dict[str, PolicyRollup]:
    """Per policy: its covered span (over coverages not cancelled) and newest certificates."""
    out = {pid: PolicyRollup(certificates={}) for pid in policy_ids}
    if not policy_ids:
        return out
    spans = (
        select(
            coverages.c.policy_id,
            func.min(coverages.c.effective_date),
            func.max(coverages.c.end_date),
            func.count(),
        )
        .where(coverages.c.tenant_id == tenant_id, coverages.c.policy_id.in_(policy_ids), coverages.c.status != CANCELLED)
        .group_by(coverages.c.policy_id)
    )
    for pid, start, end, n in await session.execute(spans):
        out[pid].effective_date, out[pid].expiration_date, out[pid].assignments = start, end, n
    await _widen_by_quotes(session, tenant_id, policy_ids, out)
    current = (
        select(certificates.c.id, certificates.c.policy_id, certificates.c.coverage_types)
        .where(
            certificates.c.tenant_id == tenant_id,
            certificates.c.policy_id.in_(policy_ids),
            certificates.c.status == "current",
        )
        .order_by(certificates.c.issued_at.desc(), certificates.c.id.desc())
    )
    for cid, pid, types in await session.execute(current):
        found = out[pid].certificates
        assert found is not None
        for t in types:
            found.setdefault(t, cid)
    return out


async def _widen_by_quotes(
    session: AsyncSession, tenant_id: str, policy_ids: Sequence[str], out: dict[str, PolicyRollup]
) -> None:
    """Quotes bound without an assignment count in a policy's span too."""
    spans = (
        select(quote_bindings.c.policy_id, func.min(quote_bindings.c.effective_date), func.max(quote_bindings.c.end_date))
        .where(quote_bindings.c.tenant_id == tenant_id, quote_bindings.c.policy_id.in_(policy_ids))
        .group_by(quote_bindings.c.policy_id)
    )
    for pid, start, end in await session.execute(spans):
        rollup = out[pid]
        rollup.effective_date = start if rollup.effective_date is None else min(start, rollup.effective_date)
        rollup.expiration_date = end if rollup.expiration_date is None else max(end, rollup.expiration_date)


async def coverages_page(
    session: AsyncSession, tenant_id: str, *, contractor: str | None, assignment: str | None, request: PageRequest
) -> Page:
    """The tenant's coverages, newest bound first, with their policy number and current certificate."""
    where: list[ColumnElement[bool]] = [coverages.c.tenant_id == tenant_id]
    if contractor:
        where.append(coverages.c.contractor_id == contractor)
    if assignment:
        where.append(coverages.c.assignment_id == assignment)
    q = (
        select(
            coverages,
            policies.c.policy_number,
            certificates.c.number.label("certificate_number"),
            certificates.c.issued_at.label("certificate_issued_at"),
        )
        .select_from(coverages)
        .join(policies, and_(policies.c.id == coverages.c.policy_id, policies.c.tenant_id == coverages.c.tenant_id))
        .outerjoin(
            certificates,
            and_(certificates.c.id == coverages.c.certificate_id, certificates.c.tenant_id == coverages.c.tenant_id),
        )
    )
    return await fetch_page(
        session, q, keys=(coverages.c.bound_at, coverages.c.id), id_column=coverages.c.id, where=where, request=request
    )


async def certificate_history(
    session: AsyncSession, tenant_id: str, *, assignment: str | None, contractor: str | None, limit: int
) -> list[Row]:
    where = [certificates.c.tenant_id == tenant_id]
    if assignment:
        where.append(certificates.c.assignment_id == assignment)
    if contractor:
        where.append(certificates.c.contractor_id == contractor)
    # the current certificate first, then the ones it replaced, newest first
    current_first = case((certificates.c.status == "current", 0), else_=1)
    q = (
        select(*_CERT)
        .where(*where)
        .order_by(current_first, certificates.c.issued_at.desc(), certificates.c.id.desc())
        .limit(limit)
    )
    return list((await session.execute(q)).mappings().all())


async def certificate_file(session: AsyncSession, tenant_id: str, certificate_id: str) -> Any:
    q = select(
        certificates.c.id,
        certificates.c.filename,
        certificates.c.pdf,
        certificates.c.status,
        certificates.c.superseded_by,
    ).where(certificates.c.tenant_id == tenant_id, certificates.c.id == certificate_id)
    return (await session.execute(q)).first()


async def coverage_in_force(
    session: AsyncSession, tenant_id: str, contractor_id: str, job_id: str, first_day: Any, last_day: Any
) -> bool:
    """Whether the contractor has coverage for the job during the days (an assignment's coverage
    not cancelled, or a quote bound as priced on a policy not cancelled): what billing prices a
    usage invoice from, as policy knows it (the gateway tells "not arrived yet" from "none")."""
    by_assignment = exists().where(
        coverages.c.tenant_id == tenant_id,
        coverages.c.contractor_id == contractor_id,
        coverages.c.status != CANCELLED,
        coverages.c.effective_date <= last_day,
        coverages.c.end_date >= first_day,
        assignments.c.tenant_id == tenant_id,
        assignments.c.assignment_id == coverages.c.assignment_id,
        assignments.c.job_id == job_id,
    )
    by_quote = exists().where(
        quote_bindings.c.tenant_id == tenant_id,
        quote_bindings.c.contractor_id == contractor_id,
        quote_bindings.c.job_id == job_id,
        quote_bindings.c.effective_date <= last_day,
        quote_bindings.c.end_date >= first_day,
        policies.c.tenant_id == tenant_id,
        policies.c.id == quote_bindings.c.policy_id,
        policies.c.status != CANCELLED,
    )
    return bool((await session.execute(select(or_(by_assignment, by_quote)))).scalar())
