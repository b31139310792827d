"""`UnitOfWork.execute_with_messages`: a statement and the messages emitted before it in one round
trip (PostgreSQL) or one after the other (SQLite), committed together or not at all, the relays of
other processes woken by the same NOTIFY as a plain commit."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import msgspec
import pytest
from demo import definition, notes
from sqlalchemy import func, select
from ten99_contracts.gateway_v1 import CompanyCreatedV1
from ten99_testing import wait_until
from ten99kit.clock import SettableClock
from ten99kit.db import Database, create_engine
from ten99kit.migrations import upgrade
from ten99kit.settings import DatabaseSettings

pytestmark = pytest.mark.integration

#: built once, as callers do (the outbox CTE is kept per statement object)
INSERT_NOTE = notes.insert().returning(notes.c.id, notes.c.text)


async def _db(url: str) -> Database:
    await asyncio.to_thread(upgrade, definition.migrations, url)
    db = Database(create_engine(DatabaseSettings(url=url)), SettableClock(), "demo")
    db.outbox_table = definition.metadata.tables["outbox"]
    return db


async def _count(db: Database, table: Any) -> int:
    async with db.session() as s:
        return (await s.execute(select(func.count()).select_from(table))).scalar_one()


async def _write(db: Database, note_id: str, *, fail: bool = False) -> Any:
    async with db.uow() as uow:
        uow.emit(
            CompanyCreatedV1(company_id=note_id, name=f"name {note_id}", owner_email="o@x.test"),
            tenant_id="co_1",
            aggregate_id=note_id,
        )
        result = await uow.execute_with_messages(INSERT_NOTE, {"id": note_id, "tenant_id": "co_1", "text": f"text {note_id}"})
        row = result.one()
        if fail:
            raise RuntimeError("boom after the statement")
        await uow.commit()
        return row


async def _check_commit_and_rollback(db: Database) -> None:
    committed: list[int] = []
    db.on_commit_with_messages(lambda: committed.append(1))
    for i in range(3):  # the cached statement serves every call
        row = await _write(db, f"n{i}")
        assert (row.id, row.text) == (f"n{i}", f"text n{i}")
    assert committed == [1, 1, 1]  # the in-process relay is woken as by a plain commit
    async with db.session() as s:
        payloads = (await s.execute(select(db.outbox_table.c.payload).order_by(db.outbox_table.c.id))).scalars().all()
    assert [msgspec.json.decode(p)["data"]["company_id"] for p in payloads] == ["n0", "n1", "n2"]

    with pytest.raises(RuntimeError):
        await _write(db, "lost", fail=True)
    assert await _count(db, notes) == 3 and await _count(db, db.outbox_table) == 3 and committed == [1, 1, 1]


async def test_sqlite_runs_the_statement_then_writes_the_messages_in_its_transaction(sqlite_url: str) -> None:
    db = await _db(sqlite_url)
    try:
        await _check_commit_and_rollback(db)
    finally:
        await db.dispose()


async def test_postgres_writes_the_messages_with_the_statement_and_notifies_other_relays(database_url: str) -> None:
    db = await _db(database_url)
    heard: list[str] = []
    listener = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await listener.add_listener(db.notify_channel, lambda _c, _pid, channel, _payload: heard.append(channel))
        await _check_commit_and_rollback(db)
        await wait_until(lambda: len(heard) >= 3, timeout=10, what="one NOTIFY per commit with messages")
        assert set(heard) == {db.notify_channel}
        heard.clear()
        # a statement without messages is just the statement: no outbox row
        async with db.uow() as uow:
            await uow.execute_with_messages(INSERT_NOTE, {"id": "quiet", "tenant_id": "co_1", "text": "t"})
            await uow.commit()
        assert await _count(db, notes) == 4 and await _count(db, db.outbox_table) == 3
    finally:
        await listener.close()
        await db.dispose()
