"""Read helpers: a page of any of this service's tables (the kit's keyset pagination, with the
list's own error code for an unknown cursor), one row of a company, and the rows among many keys."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, bindparam, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from ten99kit import ApiError, NotFound
from ten99kit.db import Row
from ten99kit.errors import InvalidInput
from ten99kit.pagination import Page, PageRequest, fetch_page

__all__ = ["find_row", "get_row", "not_found", "page", "where_among"]

#: 1099Policy's code for an id that names nothing of the company's, by resource (its SDK raises
#: ``InvalidContractorIdError`` and so on); the gateway answers a malformed id with the same code
NOT_FOUND_CODES = {
    "contractor": "invalid_contractor_id",
    "entity": "invalid_entity_id",
    "job": "invalid_job_id",
    "assignment": "invalid_assignment_id",
}


def not_found(what: str, id_: str) -> NotFound:
    """The 404 for an unknown ``what`` (its 1099Policy code, else ``resource_not_found``)."""
    return NotFound(f"No {what} with id {id_!r}", error_code=NOT_FOUND_CODES.get(what, "resource_not_found"))


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


#: one statement a table for `find_row`, built once: building and keying a ``select`` each time cost
#: ~75 µs of the ~2.4 ms of CPU a public ``GET /contractors/{id}`` costs this service
_BY_ID: dict[Table, Select[Any]] = {}


async def find_row(session: AsyncSession, table: Table, tenant_id: str, id_: str) -> Row | None:
    """The company's row of ``table`` with public id ``id_``, if there is one."""
    query = _BY_ID.get(table)
    if query is None:
        query = _BY_ID[table] = select(table).where(table.c.tenant_id == bindparam("tenant_id"), table.c.id == bindparam("id"))
    return (await session.execute(query, {"tenant_id": tenant_id, "id": id_})).mappings().first()


async def get_row(session: AsyncSession, table: Table, tenant_id: str, id_: str, what: str) -> dict[str, Any]:
    row = await find_row(session, table, tenant_id, id_)
    if row is None:
        raise not_found(what, id_)
    return dict(row)


async def page(
    session: AsyncSession,
    table: Table,
    where: Sequence[ColumnElement[bool]],
    request: PageRequest,
    *,
    invalid_cursor_code: str,
) -> Page:
    """A page of ``table`` rows matching ``where`` (which must include the tenant), newest first
    (the kit's keyset pagination on the internal ``pk``). A cursor naming no row of the list is
    refused with the list's own code (``invalid_contractor_id``, ...), as 1099Policy does."""
    try:
        return await fetch_page(session, select(table), keys=(table.c.pk,), id_column=table.c.id, where=where, request=request)
    except InvalidInput as e:
        raise ApiError(e.message, error_code=invalid_cursor_code) from None
