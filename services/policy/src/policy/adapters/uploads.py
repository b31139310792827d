"""The tables of uploaded certificates and own insurance: writes, reads and the list page. Every
query filters by the tenant; the PDF column is read only by the download."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from ten99kit import insert_ignore
from ten99kit.db import Row
from ten99kit.pagination import Page, PageRequest, fetch_page

from ..domain.coverage import CANCELLED
from .db import assignments, certificate_uploads, coverages, own_insurance

__all__ = [
    "assignment_ids_to_review",
    "bound_assignment_ids",
    "cover_assignments",
    "covered_assignment_ids",
    "insert_upload",
    "update_upload",
    "upload_file",
    "upload_row",
    "uploads_page",
]

# the columns shown by the API (not the PDF nor its text)
_SHOWN = [c for c in certificate_uploads.c if c.name not in ("pdf", "text")]


async def assignment_ids_to_review(s: AsyncSession, tenant_id: str, contractor_id: str, assignment_id: str | None) -> list[str]:
    """The assignments an upload is reviewed against: the one named (if it is the contractor's and
    known here), else every assignment of the contractor known here and not cancelled."""
    q = select(assignments.c.assignment_id).where(
        assignments.c.tenant_id == tenant_id,
        assignments.c.contractor_id == contractor_id,
        assignments.c.snapshot_version.is_not(None),
        assignments.c.status != CANCELLED,
    )
    if assignment_id is not None:
        q = q.where(assignments.c.assignment_id == assignment_id)
    return sorted((await s.execute(q)).scalars())


async def bound_assignment_ids(s: AsyncSession, tenant_id: str, assignment_ids: Sequence[str]) -> set[str]:
    """Those of ``assignment_ids`` that have ten99 coverage already."""
    if not assignment_ids:
        return set()
    q = select(coverages.c.assignment_id).where(
        coverages.c.tenant_id == tenant_id, coverages.c.assignment_id.in_(list(assignment_ids))
    )
    return set((await s.execute(q)).scalars())


async def covered_assignment_ids(s: AsyncSession, tenant_id: str, assignment_ids: Sequence[str]) -> set[str]:
    """Those of ``assignment_ids`` covered by the contractor's own insurance."""
    if not assignment_ids:
        return set()
    q = select(own_insurance.c.assignment_id).where(
        own_insurance.c.tenant_id == tenant_id, own_insurance.c.assignment_id.in_(list(assignment_ids))
    )
    return set((await s.execute(q)).scalars())


async def cover_assignments(
    s: AsyncSession, dialect: str, tenant_id: str, upload_id: str, contractor_id: str, ids: Sequence[str], now: datetime
) -> None:
    """Record ``ids`` as covered by the upload (an assignment covered already keeps its first)."""
    if ids:
        common = {"tenant_id": tenant_id, "upload_id": upload_id, "contractor_id": contractor_id, "approved_at": now}
        rows = [{**common, "assignment_id": i} for i in ids]
        await s.execute(insert_ignore(own_insurance, dialect), rows)


async def insert_upload(s: AsyncSession, values: dict[str, Any]) -> None:
    await s.execute(certificate_uploads.insert().values(**values))


async def update_upload(s: AsyncSession, tenant_id: str, upload_id: str, values: dict[str, Any]) -> None:
    await s.execute(
        update(certificate_uploads)
        .where(certificate_uploads.c.tenant_id == tenant_id, certificate_uploads.c.id == upload_id)
        .values(**values)
    )


async def upload_row(s: AsyncSession, tenant_id: str, upload_id: str, *, lock: bool = False) -> Row | None:
    q = select(*_SHOWN).where(certificate_uploads.c.tenant_id == tenant_id, certificate_uploads.c.id == upload_id)
    if lock:
        q = q.with_for_update()
    return (await s.execute(q)).mappings().first()


async def upload_file(s: AsyncSession, tenant_id: str, upload_id: str) -> tuple[str, bytes] | None:
    """The uploaded PDF (filename, bytes), the tenant's only."""
    q = select(certificate_uploads.c.filename, certificate_uploads.c.pdf).where(
        certificate_uploads.c.tenant_id == tenant_id, certificate_uploads.c.id == upload_id
    )
    row = (await s.execute(q)).first()
    return None if row is None else (row.filename, row.pdf)


async def uploads_page(
    s: AsyncSession, tenant_id: str, contractor_id: str | None, status: str | None, request: PageRequest
) -> Page:
    """The tenant's uploads, newest first, of one contractor and/or one status if asked."""
    where: list[ColumnElement[bool]] = [certificate_uploads.c.tenant_id == tenant_id]
    if contractor_id:
        where.append(certificate_uploads.c.contractor_id == contractor_id)
    if status:
        where.append(certificate_uploads.c.status == status)
    return await fetch_page(
        s,
        select(*_SHOWN),
        keys=(certificate_uploads.c.created_at, certificate_uploads.c.id),
        id_column=certificate_uploads.c.id,
        where=where,
        request=request,
    )
