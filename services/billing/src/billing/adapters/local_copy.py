"""Upserts of billing's local copy of other contexts' state, one SQL statement per message.

Messages arrive in any order across subjects, and a message may repeat. Each part of an
assignment row (snapshot, PO, coverage) remembers the ordering key of the message it came from
(``aggregate_version``, ``occurred_at``) and a message only overwrites a part it is newer than:
versions decide when both messages carry one (> 0), otherwise the time it occurred. Cancellation
is sticky. Every applied change bumps ``revision`` and flags the row for the invoice issuer.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, bindparam, case, false, func, not_, or_, true
from sqlalchemy.ext.asyncio import AsyncSession
from ten99kit import UtcDateTime, dialect_insert

from .db import assignments, companies

__all__ = ["upsert_assignment_part", "upsert_company"]

#: the row as stored (``excluded`` is the incoming one)
stored = assignments.c

SNAPSHOT_COLUMNS = (
    "snapshot_known",
    "snapshot_version",
    "snapshot_at",
    "contractor_id",
    "contractor_name",
    "contractor_email",
    "job_id",
    "job_name",
    "entity_name",
    "wage_cents",
    "wage_type",
    "withhold_premium",
    "effective_date",
    "end_date",
    "import_batch_id",
)
PO_COLUMNS = ("po_number", "po_contact_email", "campaign", "po_version", "po_at")
COVERAGE_COLUMNS = (
    "coverage_id",
    "coverage_effective_date",
    "coverage_end_date",
    "net_rate",
    "coverage_version",
    "coverage_at",
)
#: part name -> (its columns, its version column, its time column)
PARTS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "snapshot": (SNAPSHOT_COLUMNS, "snapshot_version", "snapshot_at"),
    "po": (PO_COLUMNS, "po_version", "po_at"),
    "coverage": (COVERAGE_COLUMNS, "coverage_version", "coverage_at"),
}


def _insert(dialect: str, table: Any) -> Any:
    return dialect_insert(table, dialect)


def _newer(versioned: bool, version_col: Any, at_col: Any) -> ColumnElement[bool]:
    """SQL: the incoming message (``:p_version``, ``:p_at``) is newer than the stored part."""
    version = bindparam("p_version", type_=Integer())
    at = bindparam("p_at", type_=UtcDateTime())
    by_version = and_(version_col > 0, version_col != version) if versioned else false()
    return or_(
        at_col.is_(None),
        and_(by_version, version_col < version),
        and_(not_(by_version), at_col <= at),
    )


_BASE_COLUMNS = (
    "tenant_id",
    "assignment_id",
    "revision",
    "changed_at",
    "needs_billing",
    "cancelled",
    "cancel_reason",
    "coverage_cancelled",
    "coverage_cancel_reason",
    "contractor_id",
)


@lru_cache(maxsize=64)
def _upsert_statement(dialect: str, parts: tuple[str, ...], versioned: bool, cancelled: bool, coverage_cancelled: bool) -> Any:
    """The upsert for one shape of message, built once and executed with bound parameters
    (building it per message cost more than the round trip)."""
    columns = list(_BASE_COLUMNS)
    conditions: list[ColumnElement[bool]] = []
    updates: dict[str, Any] = {}
    stmt = _insert(dialect, assignments)
    excluded = stmt.excluded
    for part in parts:
        part_columns, version_col, at_col = PARTS[part]
        newer = _newer(versioned, stored[version_col], stored[at_col])
        conditions.append(newer)
        for col in (*part_columns, version_col, at_col):
            if col not in columns:
                columns.append(col)
            if col != "contractor_id":  # handled below: any message may fill it in
                updates[col] = case((newer, excluded[col]), else_=stored[col])
    if cancelled:
        conditions.append(not_(stored.cancelled))
    if coverage_cancelled:
        conditions.append(not_(stored.coverage_cancelled))
    updates.update(
        contractor_id=func.coalesce(excluded.contractor_id, stored.contractor_id),
        cancelled=or_(stored.cancelled, excluded.cancelled),
        cancel_reason=func.coalesce(stored.cancel_reason, excluded.cancel_reason),
        coverage_cancelled=or_(stored.coverage_cancelled, excluded.coverage_cancelled),
        coverage_cancel_reason=func.coalesce(stored.coverage_cancel_reason, excluded.coverage_cancel_reason),
        revision=stored.revision + 1,
        changed_at=excluded.changed_at,
        needs_billing=true(),
    )
    return stmt.values({col: bindparam(col, type_=stored[col].type) for col in columns}).on_conflict_do_update(
        index_elements=[stored.tenant_id, stored.assignment_id],
        set_=updates,
        where=or_(*conditions) if conditions else true(),
    )


async def upsert_assignment_part(
    session: AsyncSession,
    dialect: str,
    *,
    tenant_id: str,
    assignment_id: str,
    now: datetime,
    version: int,
    at: datetime,
    parts: dict[str, dict[str, Any]],
    cancelled: bool = False,
    cancel_reason: str | None = None,
    coverage_cancelled: bool = False,
    coverage_cancel_reason: str | None = None,
    contractor_id: str | None = None,
) -> None:
    """Apply the ``parts`` ({"snapshot"|"po"|"coverage": {column: value}}) of one message.

    Version and time columns of each part are filled in here from ``version`` and ``at``.
    """
    params: dict[str, Any] = {
        "tenant_id": tenant_id,
        "assignment_id": assignment_id,
        "revision": 1,
        "changed_at": now,
        "needs_billing": True,
        "cancelled": cancelled,
        "cancel_reason": cancel_reason,
        "coverage_cancelled": coverage_cancelled,
        "coverage_cancel_reason": coverage_cancel_reason,
        "contractor_id": contractor_id,
        "p_version": version,
        "p_at": at,
    }
    for part, fields in parts.items():
        part_columns, version_col, at_col = PARTS[part]
        expected = set(part_columns) - {version_col, at_col}
        if set(fields) != expected:
            raise ValueError(f"the {part} part takes exactly {sorted(expected)}")
        params.update(fields)
        params[version_col] = version
        params[at_col] = at
    stmt = _upsert_statement(dialect, tuple(sorted(parts)), version > 0, cancelled, coverage_cancelled)
    await session.execute(stmt, params)


async def upsert_company(
    session: AsyncSession, dialect: str, *, tenant_id: str, name: str, owner_email: str, now: datetime
) -> None:
    stmt = _insert(dialect, companies).values(tenant_id=tenant_id, name=name, owner_email=owner_email or None, updated_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=[companies.c.tenant_id],
        set_={"name": stmt.excluded.name, "owner_email": stmt.excluded.owner_email, "updated_at": stmt.excluded.updated_at},
    )
    await session.execute(stmt)
