"""The Alembic migrations create exactly the schema the models describe."""

from __future__ import annotations

import asyncio

import pytest
from contractor.bootstrap import definition
from ten99kit.migrations import schema_drift, upgrade

pytestmark = pytest.mark.integration


async def test_migrations_match_the_models(database_url: str) -> None:
    await asyncio.to_thread(upgrade, definition.migrations, database_url)
    assert await schema_drift(database_url, definition.metadata) == []


async def test_migrations_run_on_sqlite_too(sqlite_url: str) -> None:
    await asyncio.to_thread(upgrade, definition.migrations, sqlite_url)
    assert await schema_drift(sqlite_url, definition.metadata) == []


async def test_an_email_stored_in_capitals_is_lower_cased(database_url: str) -> None:
    # issue 15: contractors imported before addresses were lower-cased kept the file's capitals
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    await asyncio.to_thread(upgrade, definition.migrations, database_url, "5d1e8b7c3a20")  # the revision before the fix
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO contractors (id, tenant_id, first_name, last_name, email, email_key, custom_metadata,"
                    " source, version, created_at, updated_at) VALUES ('cn_caps', 'co_a', 'Ada', 'Lovelace',"
                    " 'ADA.Lovelace@EXAMPLE.COM', 'ada.lovelace@example.com', '{}', 'csv', 1, now(), now())"
                )
            )
        await asyncio.to_thread(upgrade, definition.migrations, database_url)
        async with engine.connect() as conn:
            stored = (await conn.execute(text("SELECT email, email_key FROM contractors WHERE id = 'cn_caps'"))).one()
    finally:
        await engine.dispose()
    assert tuple(stored) == ("ada.lovelace@example.com", "ada.lovelace@example.com")
