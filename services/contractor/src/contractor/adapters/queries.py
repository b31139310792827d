"""Read helpers: 1099Policy's cursor pagination (newest first, ``starting_after``/``ending_before``)
over any of this service's tables, and fetching one row of a tenant."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, bindparam, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from ten99kit import ApiError, NotFound

__all__ = ["check_limit", "get_row", "page", "where_among"]


def where_among(query: Select[Any], column: Any, values: Sequence[Any], dialect: str) -> Select[Any]:
    """``query`` restricted to rows whose ``column`` is one of ``values`` (hundreds or thousands).

    On PostgreSQL it joins ``unnest(:array)``: one parameter, the same statement text whatever the
    count (prepared once), and a hash or index join even while the table's statistics are stale
    in the middle of a bulk import (a long ``IN (...)`` list then degrades to a filter comparing
    every row with every value)."""
    unique = list(dict.fromkeys(values))
    if dialect == "postgresql":
        keys = func.unnest(bindparam(None, unique, type_=postgresql.ARRAY(column.type))).table_valued("key").render_derived()
        return query.join(keys, column == keys.c.key)
    return query.where(column.in_(unique))


def check_limit(limit: int) -> int:
    if not 1 <= limit <= 100:
        raise ApiError("limit must be between 1 and 100", error_code="invalid_input")
    return limit


async def get_row(session: AsyncSession, table: Table, tenant_id: str, id_: str, what: str) -> dict[str, Any]:
    row = (await session.execute(select(table).where(table.c.tenant_id == tenant_id, table.c.id == id_))).mappings().first()
    if row is None:
        raise NotFound(f"No {what} with id {id_!r}")
    return dict(row)


async def page(
    session: AsyncSession,
    table: Table,
    where: Sequence[ColumnElement[bool]],
    *,
    limit: int,
    starting_after: str | None,
    ending_before: str | None,
    invalid_cursor_code: str,
) -> tuple[list[dict[str, Any]], bool]:
    """A page of ``table`` rows matching ``where`` (which must include the tenant), newest first."""
    check_limit(limit)
    cursor_id = starting_after or ending_before
    q = select(table).where(*where)
    if cursor_id:
        cursor = (await session.execute(select(table.c.pk).where(*where, table.c.id == cursor_id))).scalar()
        if cursor is None:
            raise ApiError(f"No object with id {cursor_id!r} to page from", error_code=invalid_cursor_code)
        if starting_after:
            q = q.where(table.c.pk < cursor).order_by(table.c.pk.desc())
        else:
            q = q.where(table.c.pk > cursor).order_by(table.c.pk.asc())
    else:
        q = q.order_by(table.c.pk.desc())
    rows = [dict(r) for r in (await session.execute(q.limit(limit + 1))).mappings().all()]
    has_more = len(rows) > limit
    rows = rows[:limit]
    if ending_before and not starting_after:
        rows.reverse()
    return rows, has_more
