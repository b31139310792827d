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
