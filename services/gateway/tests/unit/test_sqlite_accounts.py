"""The account use cases on SQLite, the embedded default's database (migrations included)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from gateway.adapters.db import metadata, outbox
from gateway.adapters.passwords import Passwords
from gateway.application.accounts import LoginFailed, create_company, log_in, resolve_session
from gateway.application.api_keys import authenticate_api_key, create_api_key
from gateway.bootstrap import definition
from gateway.settings import LoginSettings, SessionSettings
from sqlalchemy import select
from ten99kit import Database, SettableClock, create_engine
from ten99kit.migrations import upgrade
from ten99kit.settings import DatabaseSettings


@pytest.fixture
async def db(sqlite_url: str) -> Any:
    await asyncio.to_thread(upgrade, definition.migrations, sqlite_url)
    database = Database(
        create_engine(DatabaseSettings(url=sqlite_url)), SettableClock(datetime(2030, 1, 1, tzinfo=UTC)), "gateway"
    )
    database.outbox_table = metadata.tables["outbox"]
    yield database
    await database.dispose()


async def test_company_login_lockout_and_keys_on_sqlite(db: Any) -> None:
    passwords = Passwords(PasswordHasher(time_cost=1, memory_cost=8192))
    company, created = await create_company(db, passwords, name="Acme", email="a@acme.test", password="long enough!")
    again, created_again = await create_company(db, passwords, name="Other", email="A@acme.test", password="long enough!")
    assert created and not created_again and again.id == company.id
    async with db.session() as s:
        subjects = sorted((await s.execute(select(outbox.c.subject))).scalars())
    # the company and its owner, once (the repeat created nothing)
    assert len(subjects) == 2 and any("company_created" in x for x in subjects) and any("user_added" in x for x in subjects)

    login, sessions = LoginSettings(max_failures=3, lockout_s=60), SessionSettings()
    for _ in range(2):
        with pytest.raises(LoginFailed) as e:
            await log_in(db, passwords, login, sessions, email="a@acme.test", password="wrong one!")
        assert not e.value.locked
    with pytest.raises(LoginFailed) as e:
        await log_in(db, passwords, login, sessions, email="a@acme.test", password="wrong one!")
    assert e.value.locked
    with pytest.raises(LoginFailed):
        await log_in(db, passwords, login, sessions, email="a@acme.test", password="long enough!")
    db.clock.advance(timedelta(seconds=61))
    new = await log_in(db, passwords, login, sessions, email="a@acme.test", password="long enough!")
    user = await resolve_session(db, sessions, new.token)
    assert user is not None and user.company_id == company.id and user.role == "owner"
    assert await resolve_session(db, sessions, "not a token") is None

    key = await create_api_key(db, company_id=company.id, name="k", created_by=None, prefix="t9sk_test_")
    assert await authenticate_api_key(db, key.key) == company.id
    assert await authenticate_api_key(db, key.key + "x") is None
