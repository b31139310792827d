"""pytest fixtures giving tests real servers.

PostgreSQL and NATS come from ``TEST_DATABASE_URL`` / ``TEST_NATS_URL`` when set, else from
testcontainers when a Docker engine answers, else the test is skipped with the reason, except
in CI (``CI=true``), where a missing server fails the test: integration tests never skip there.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from .nats_server import NatsServerProcess
from .smtp import SmtpSink

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(what: str, how: str) -> None:
    message = f"{what} is not available: set {how}, or run a Docker engine for testcontainers"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: integration tests must not skip)", pytrace=False)
    pytest.skip(message)


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env().ping()
        return True
    except Exception:
        return False


def asyncpg_url(url: str) -> str:
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://", "postgresql+psycopg://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a PostgreSQL server's maintenance database (asyncpg form)."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield asyncpg_url(url)
        return
    if not _docker_answers():
        unavailable("PostgreSQL", "TEST_DATABASE_URL")
    from testcontainers.community.postgres import PostgresContainer

    with PostgresContainer("postgres:16-alpine", driver="asyncpg") as pg:
        yield pg.get_connection_url()


async def _admin(url: str, sql: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    conn = await asyncpg.connect(
        host=u.host, port=u.port or 5432, user=u.username, password=u.password, database=u.database or "postgres"
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _with_database(url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def create_database(postgres_url: str, prefix: str = "t") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    await _admin(postgres_url, f'CREATE DATABASE "{name}"')
    return _with_database(postgres_url, name)


async def drop_database(postgres_url: str, url: str) -> None:
    from sqlalchemy.engine import make_url

    await _admin(postgres_url, f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


@pytest_asyncio.fixture
async def database_url(postgres_url: str) -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for this test, dropped afterwards."""
    url = await create_database(postgres_url)
    try:
        yield url
    finally:
        await drop_database(postgres_url, url)


@pytest_asyncio.fixture
async def database_factory(postgres_url: str) -> AsyncIterator[Any]:
    """``await database_factory("contractor")`` gives another fresh database (one per service)."""
    made: list[str] = []

    async def make(prefix: str = "t") -> str:
        made.append(await create_database(postgres_url, prefix))
        return made[-1]

    try:
        yield make
    finally:
        for url in made:
            await drop_database(postgres_url, url)


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    """URL of a NATS server with JetStream."""
    url = os.environ.get("TEST_NATS_URL")
    if url:
        yield url
        return
    if not _docker_answers():
        unavailable("NATS JetStream", "TEST_NATS_URL")
    from testcontainers.community.nats import NatsContainer

    with NatsContainer("nats:2.11-alpine", jetstream=True) as n:
        yield n.nats_uri()


@pytest_asyncio.fixture
async def jetstream_url(nats_url: str) -> AsyncIterator[str]:
    """The shared test NATS, with every stream deleted first so that tests do not see each other."""
    import nats

    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        for name in await js.streams_info():
            if name.config.name:
                await js.delete_stream(name.config.name)
    finally:
        await nc.close()
    yield nats_url


@pytest.fixture
def private_nats(tmp_path: Path) -> Iterator[NatsServerProcess]:
    """A nats-server of this test's own (from the wheel), which the test may stop and restart."""
    server = NatsServerProcess(tmp_path / "nats-store").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
