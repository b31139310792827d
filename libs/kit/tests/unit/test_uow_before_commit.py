"""`UnitOfWork.before_commit`: work a batch handler buffered runs once, inside the transaction."""

from __future__ import annotations

import asyncio
from typing import Any

from demo import definition, notes
from sqlalchemy import func, select
from ten99_contracts.gateway_v1 import CompanyCreatedV1
from ten99kit.clock import SettableClock
from ten99kit.db import Database, create_engine
from ten99kit.migrations import upgrade
from ten99kit.settings import DatabaseSettings


async def _db(url: str) -> Database:
    await asyncio.to_thread(upgrade, definition.migrations, url)
    db = Database(create_engine(DatabaseSettings(url=url)), SettableClock(), "demo")
    db.outbox_table = definition.metadata.tables["outbox"]
    return db


async def _count(db: Database, table: Any) -> int:
    async with db.session() as s:
        return (await s.execute(select(func.count()).select_from(table))).scalar_one()


async def test_hooks_run_once_at_commit_and_their_writes_and_messages_commit_with_it(sqlite_url: str) -> None:
    db = await _db(sqlite_url)
    calls: list[str] = []
    try:
        async with db.uow() as uow:

            async def flush() -> None:
                calls.append("flush")
                await uow.session.execute(notes.insert().values(id="n1", tenant_id="co_1", text="bulk"))
                uow.emit(
                    CompanyCreatedV1(company_id="co_1", name="n", owner_email="o@x.test"), tenant_id="co_1", aggregate_id="n1"
                )

            uow.before_commit(flush)
            assert calls == []
            await uow.commit()
        assert calls == ["flush"]
        assert await _count(db, notes) == 1 and await _count(db, db.outbox_table) == 1

        async with db.uow() as uow:
            await uow.session.execute(notes.insert().values(id="n2", tenant_id="co_1", text="x"))
            uow.before_commit(flush)
            # left without commit: the hook never runs and nothing is written
        assert calls == ["flush"] and await _count(db, notes) == 1
    finally:
        await db.dispose()
