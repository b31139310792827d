"""1099Policy's list pages, for every service: newest first, ``limit`` (1 to 100, default 10),
``starting_after`` / ``ending_before`` cursors naming an object of the same list, and the list
envelope ``{"object": "list", "url", "has_more", "data"}``.

Keyset pagination: a list is ordered by a few columns, newest first (``(created_at, id)``, or a
sequence number), and a cursor is the object's id; its key is read under the list's own filters
(the tenant's among them), so a cursor from another tenant or another list is refused as invalid
input and reveals nothing. ``ending_before`` returns the ``limit`` objects just newer than the
cursor, still newest first::

    page = await fetch_page(
        session, select(t), keys=(t.c.created_at, t.c.id), id_column=t.c.id,
        where=[t.c.tenant_id == tenant], request=PageRequest(limit, starting_after, ending_before),
    )
    return ListEnvelope(url="/v1/things", has_more=page.has_more, data=[render(r) for r in page.rows])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

import msgspec
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement, Select

from .errors import InvalidInput

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "ListEnvelope", "Page", "PageRequest", "fetch_page"]

T = TypeVar("T")

DEFAULT_LIMIT = 10
MAX_LIMIT = 100


class ListEnvelope(msgspec.Struct, Generic[T], kw_only=True):
    """What a list operation answers (1099Policy's envelope)."""

    url: str
    has_more: bool
    data: list[T]
    object: Literal["list"] = "list"


@dataclass(frozen=True)
class PageRequest:
    """The three list parameters, checked: a bad one is ``invalid_input`` naming the parameter."""

    limit: int = DEFAULT_LIMIT
    starting_after: str | None = None
    ending_before: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise InvalidInput({"limit": f"must be from 1 to {MAX_LIMIT}"})
        if self.starting_after and self.ending_before:
            raise InvalidInput("Give starting_after or ending_before, not both")

    @property
    def cursor(self) -> tuple[str, str] | None:
        """``(parameter, id)`` of the cursor given, if any."""
        if self.starting_after:
            return "starting_after", self.starting_after
        if self.ending_before:
            return "ending_before", self.ending_before
        return None


@dataclass(frozen=True)
class Page:
    rows: list[Mapping[str, Any]]
    has_more: bool


def _beyond(keys: Sequence[ColumnElement[Any]], values: Sequence[Any], *, older: bool) -> ColumnElement[bool]:
    """Rows after ``values`` in the order of ``keys`` (lexicographic): older or newer."""
    terms: list[ColumnElement[bool]] = []
    for i, key in enumerate(keys):
        equal = [keys[j] == values[j] for j in range(i)]
        step = key < values[i] if older else key > values[i]
        terms.append(and_(*equal, step) if equal else step)
    return or_(*terms)


async def fetch_page(
    session: AsyncSession,
    query: Select[Any],
    *,
    keys: Sequence[ColumnElement[Any]],
    id_column: ColumnElement[Any],
    where: Sequence[ColumnElement[bool]],
    request: PageRequest,
) -> Page:
    """One page of ``query``. ``keys`` order the list newest first (together unique, the id
    last where the first can repeat); ``where`` holds the tenant filter and the list's filters,
    and must also hold for the cursor's object. An unknown cursor is ``invalid_input``."""
    query = query.where(*where)
    cursor = request.cursor
    if cursor is not None:
        parameter, cursor_id = cursor
        found = (await session.execute(select(*keys).where(id_column == cursor_id, *where))).first()
        if found is None:
            raise InvalidInput({parameter: f"no object {cursor_id} in this list"})
        query = query.where(_beyond(keys, tuple(found), older=parameter == "starting_after"))
    limit = request.limit
    if request.ending_before:
        # the `limit` objects just newer than the cursor, returned newest first
        rows = list((await session.execute(query.order_by(*(k.asc() for k in keys)).limit(limit + 1))).mappings())
        return Page(list(reversed(rows[:limit])), len(rows) > limit)
    rows = list((await session.execute(query.order_by(*(k.desc() for k in keys)).limit(limit + 1))).mappings())
    return Page(rows[:limit], len(rows) > limit)
