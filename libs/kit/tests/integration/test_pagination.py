"""Keyset pagination with 1099Policy's parameters on a real PostgreSQL (and SQLite, the embedded
default): every object once across pages in both directions, ties on the time broken by the id,
a tenant's cursor refused in another tenant's list, and bad parameters refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import BigInteger, Column, MetaData, Table, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from ten99kit import InvalidInput, UtcDateTime
from ten99kit.db import PublicId
from ten99kit.pagination import ListEnvelope, PageRequest, fetch_page

pytestmark = pytest.mark.integration

md = MetaData()
things = Table(
    "things",
    md,
    Column("id", PublicId(), primary_key=True),
    Column("tenant_id", PublicId(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["postgresql", "sqlite"])
async def engine(request: pytest.FixtureRequest, database_url: str, sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    url = database_url if request.param == "postgresql" else sqlite_url
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(md.create_all)
        # 25 objects of co_a, three at a time sharing a creation time; 5 of co_b
        rows = [
            {"id": f"th_{i:022d}", "tenant_id": "co_a", "seq": i, "created_at": T0 + timedelta(seconds=i // 3)} for i in range(25)
        ]
        rows += [{"id": f"th_b{i:021d}", "tenant_id": "co_b", "seq": 100 + i, "created_at": T0} for i in range(5)]
        await conn.execute(things.insert(), rows)
    yield engine
    await engine.dispose()


async def _walk(session: AsyncSession, *, by_seq: bool, backwards: bool) -> list[str]:
    keys = (things.c.seq,) if by_seq else (things.c.created_at, things.c.id)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        request = PageRequest(limit=4, ending_before=cursor) if backwards else PageRequest(limit=4, starting_after=cursor)
        page = await fetch_page(
            session, select(things.c.id), keys=keys, id_column=things.c.id, where=[things.c.tenant_id == "co_a"], request=request
        )
        ids = [r["id"] for r in page.rows]
        seen = ids + seen if backwards else seen + ids
        if not page.has_more:
            return seen
        cursor = ids[0] if backwards else ids[-1]


async def test_pages_visit_every_object_once_newest_first(engine: AsyncEngine) -> None:
    newest_first = [f"th_{i:022d}" for i in reversed(range(25))]
    async with AsyncSession(engine) as s:
        for by_seq in (False, True):
            assert await _walk(s, by_seq=by_seq, backwards=False) == newest_first
        # backwards from the oldest: ending_before the oldest object gives the ones just newer
        oldest = newest_first[-1]
        page = await fetch_page(
            s,
            select(things.c.id),
            keys=(things.c.created_at, things.c.id),
            id_column=things.c.id,
            where=[things.c.tenant_id == "co_a"],
            request=PageRequest(limit=4, ending_before=oldest),
        )
        assert [r["id"] for r in page.rows] == newest_first[-5:-1] and page.has_more


async def test_a_cursor_of_another_tenant_is_refused_as_input(engine: AsyncEngine) -> None:
    async with AsyncSession(engine) as s:
        with pytest.raises(InvalidInput) as refused:
            await fetch_page(
                s,
                select(things.c.id),
                keys=(things.c.seq,),
                id_column=things.c.id,
                where=[things.c.tenant_id == "co_a"],
                request=PageRequest(starting_after="th_b" + "0" * 21),
            )
        assert refused.value.message == {"starting_after": f"no object th_b{'0' * 21} in this list"}


def test_bad_list_parameters_are_invalid_input() -> None:
    for bad in (0, 101, -1):
        with pytest.raises(InvalidInput):
            PageRequest(limit=bad)
    with pytest.raises(InvalidInput):
        PageRequest(starting_after="th_1", ending_before="th_2")
    assert PageRequest().limit == 10


def test_the_envelope_is_1099policys() -> None:
    import msgspec

    body = msgspec.json.decode(msgspec.json.encode(ListEnvelope(url="/v1/things", has_more=False, data=[1, 2])))
    assert body == {"url": "/v1/things", "has_more": False, "data": [1, 2], "object": "list"}
