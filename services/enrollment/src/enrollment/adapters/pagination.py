"""1099Policy-style list pages: newest first, ``limit`` (1-100), ``starting_after`` / ``ending_before``
cursors that name an object of the same list (keyset pagination on ``(created_at, id)``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement, Select
from ten99kit import ApiError

__all__ = ["Page", "fetch_page"]


@dataclass(frozen=True)
class Page:
    rows: list[Mapping[str, Any]]
    has_more: bool


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= 100:
        raise ApiError("limit must be between 1 and 100", error_code="invalid_input", status_code=400)


async def fetch_page(
    session: AsyncSession,
    query: Select[Any],
    table: Table,
    where: Sequence[ColumnElement[bool]],
    *,
    limit: int,
    starting_after: str | None,
    ending_before: str | None,
) -> Page:
    """``query`` selects from ``table`` (joins allowed); ``where`` holds the tenant filter and the
    list's filters, and must also hold for the cursor object."""
    _check_limit(limit)
    if starting_after and ending_before:
        raise ApiError("Give starting_after or ending_before, not both", error_code="invalid_input", status_code=400)
    created, ident = table.c.created_at, table.c.id
    query = query.where(*where)
    cursor_id = starting_after or ending_before
    if cursor_id:
        cursor = (await session.execute(select(created).where(ident == cursor_id, *where))).scalar()
        if cursor is None:
            raise ApiError(f"No object {cursor_id} in this list", error_code="invalid_input", status_code=400)
        older = or_(created < cursor, and_(created == cursor, ident < cursor_id))
        newer = or_(created > cursor, and_(created == cursor, ident > cursor_id))
        query = query.where(older if starting_after else newer)
    if ending_before:
        # the `limit` objects just newer than the cursor, returned newest first
        rows = list((await session.execute(query.order_by(created.asc(), ident.asc()).limit(limit + 1))).mappings())
        has_more = len(rows) > limit
        return Page(list(reversed(rows[:limit])), has_more)
    rows = list((await session.execute(query.order_by(created.desc(), ident.desc()).limit(limit + 1))).mappings())
    return Page(rows[:limit], len(rows) > limit)
