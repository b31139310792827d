"""Bulk inserts for the import's hot path.

On PostgreSQL, ``INSERT ... SELECT * FROM unnest($1, $2, ...) ON CONFLICT DO NOTHING RETURNING id``:
one array parameter per column, so the statement text is the same whatever the number of rows
(prepared once per connection, not once per batch size) and the server receives compact arrays
instead of tens of thousands of scalar parameters. JSON columns travel as text arrays and are cast
back. Elsewhere (SQLite) it is an ordinary ``INSERT OR IGNORE`` executemany.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Table, bindparam, cast, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeDecorator
from ten99kit import insert_ignore

from .db import assignments

__all__ = ["insert_assignments", "insert_rows"]


def _is_json(column: Any) -> bool:
    t = column.type
    impl = t.load_dialect_impl(postgresql.dialect()) if isinstance(t, TypeDecorator) else t
    return isinstance(impl, JSON | postgresql.JSONB) or isinstance(t, JSON)


async def insert_rows(
    session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]], dialect: str, *, returning: str = "id"
) -> set[Any]:
    """Insert ``rows`` (all with the same keys), skipping those that hit a unique constraint;
    the ``returning`` values of the rows actually inserted."""
    if not rows:
        return set()
    names = list(rows[0])
    if dialect != "postgresql":
        result = await session.execute(insert_ignore(table, dialect).returning(table.c[returning]), list(rows))
        return set(result.scalars())
    params = []
    for name in names:
        column = table.c[name]
        if _is_json(column):
            values = [None if r[name] is None else json.dumps(r[name]) for r in rows]
            params.append(bindparam(None, values, type_=postgresql.ARRAY(postgresql.TEXT())))
        else:
            params.append(bindparam(None, [r[name] for r in rows], type_=postgresql.ARRAY(column.type)))
    arrays = func.unnest(*params).table_valued(*names).render_derived()
    selected = [cast(arrays.c[n], postgresql.JSONB) if _is_json(table.c[n]) else arrays.c[n] for n in names]
    stmt = postgresql.insert(table).from_select(names, select(*selected)).on_conflict_do_nothing().returning(table.c[returning])
    return set((await session.execute(stmt)).scalars())


async def insert_assignments(session: AsyncSession, rows: Sequence[dict[str, Any]], dialect: str) -> set[str]:
    """The one way a new assignment is stored (API, import, integrations): rows made by
    `domain.assignments.new_assignment`; one that repeats a (contractor, job, dates) already there
    is skipped. The ids of those inserted."""
    return await insert_rows(session, assignments, rows, dialect)
