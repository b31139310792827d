"""Upserts of billing's local copy of other contexts' state, one SQL statement per message.

Messages arrive in any order across subjects, and a message may repeat. Each part of an
assignment row (snapshot, PO, coverage) remembers the ordering key of the message it came from
(``aggregate_version``, ``occurred_at``) and a message only overwrites a part it is newer than:
versions decide when both messages carry one (> 0), otherwise the time it occurred. Cancellation
is sticky. Every applied change bumps ``revision`` and flags the row for the invoice issuer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, not_, or_, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from .db import assignments, companies

__all__ = ["upsert_assignment_part", "upsert_company"]

T = assignments.c

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
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def _newer(version: int, at: datetime, version_col: Any, at_col: Any) -> ColumnElement[bool]:
    """SQL: the incoming message (version, at) is newer than the stored part."""
    by_version = and_(version_col > 0, version_col != version) if version > 0 else false()
    return or_(
        at_col.is_(None),
        and_(by_version, version_col < version),
        and_(not_(by_version), at_col <= at),
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
    values: dict[str, Any] = {
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
    }
    conditions: list[ColumnElement[bool]] = []
    updates: dict[str, Any] = {}
    stmt = _insert(dialect, assignments)
    excluded = stmt.excluded
    for part, fields in parts.items():
        columns, version_col, at_col = PARTS[part]
        fields = {**fields, version_col: version, at_col: at}
        unknown = set(fields) - set(columns)
        if unknown:
            raise ValueError(f"not columns of the {part} part: {sorted(unknown)}")
        values.update(fields)
        newer = _newer(version, at, T[version_col], T[at_col])
        conditions.append(newer)
        for col in fields:
            if col == "contractor_id":
                continue  # handled below: any message may fill it in
            updates[col] = case((newer, excluded[col]), else_=T[col])
    if cancelled:
        conditions.append(not_(T.cancelled))
    if coverage_cancelled:
        conditions.append(not_(T.coverage_cancelled))
    updates.update(
        contractor_id=func.coalesce(excluded.contractor_id, T.contractor_id),
        cancelled=or_(T.cancelled, excluded.cancelled),
        cancel_reason=func.coalesce(T.cancel_reason, excluded.cancel_reason),
        coverage_cancelled=or_(T.coverage_cancelled, excluded.coverage_cancelled),
        coverage_cancel_reason=func.coalesce(T.coverage_cancel_reason, excluded.coverage_cancel_reason),
        revision=T.revision + 1,
        changed_at=excluded.changed_at,
        needs_billing=true(),
    )
    stmt = stmt.values(**values).on_conflict_do_update(
        index_elements=[T.tenant_id, T.assignment_id],
        set_=updates,
        where=or_(*conditions) if conditions else true(),
    )
    await session.execute(stmt)


async def upsert_company(
    session: AsyncSession, dialect: str, *, tenant_id: str, name: str, owner_email: str, now: datetime
) -> None:
    stmt = _insert(dialect, companies).values(tenant_id=tenant_id, name=name, owner_email=owner_email or None, updated_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=[companies.c.tenant_id],
        set_={"name": stmt.excluded.name, "owner_email": stmt.excluded.owner_email, "updated_at": stmt.excluded.updated_at},
    )
    await session.execute(stmt)
