"""`Database.reads`: on PostgreSQL a read session's statements run without a transaction (no
``BEGIN``/``ROLLBACK`` round trips, nothing held open between them); on SQLite it is the plain
session. Either way it reads what is committed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Column, MetaData, String, Table, select, text
from ten99kit.clock import SystemClock
from ten99kit.db import Database, create_engine
from ten99kit.settings import DatabaseSettings

pytestmark = pytest.mark.integration

md = MetaData()
notes = Table("notes", md, Column("id", String(20), primary_key=True))


@pytest.fixture(params=["postgresql", "sqlite"])
async def db(request: pytest.FixtureRequest, database_url: str, sqlite_url: str) -> AsyncIterator[Database]:
    url = database_url if request.param == "postgresql" else sqlite_url
    database = Database(create_engine(DatabaseSettings(url=url)), SystemClock(), "demo")
    await database.create_all(md)
    yield database
    await database.dispose()


async def backend_state(db: Database, pid: int) -> str:
    """What PostgreSQL says the backend ``pid`` is doing, asked on another connection."""
    async with db.engine.connect() as other:
        return (await other.execute(text("SELECT state FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid})).scalar_one()


async def test_a_read_session_holds_no_transaction_between_its_statements(db: Database) -> None:
    async with db.session() as s:
        await s.execute(notes.insert().values(id="committed"))
        await s.commit()
    async with db.reads() as r:
        assert (await r.execute(select(notes.c.id))).scalars().all() == ["committed"]
        if not db.is_postgres:
            return
        pid = (await r.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert await backend_state(db, pid) == "idle"
    # a plain session keeps its transaction open until it ends (what a read session saves)
    async with db.session() as s:
        pid = (await s.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert await backend_state(db, pid) == "idle in transaction"
