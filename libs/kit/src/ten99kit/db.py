"""Database access shared by the services: engines for PostgreSQL (asyncpg) and SQLite
(aiosqlite, WAL), portable column types, metadata naming, and `Database`, which hands out
units of work.

One model runs on both engines: PostgreSQL in production and tests, SQLite for the embedded
default. SQLite transactions start with ``BEGIN IMMEDIATE`` (one writer at a time, no
upgrade deadlocks); PostgreSQL runs at READ COMMITTED.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, MetaData, String, event, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.types import TypeDecorator

from .clock import Clock
from .settings import DatabaseSettings

if TYPE_CHECKING:
    from .uow import UnitOfWork

__all__ = [
    "ID_LENGTH",
    "BigIntPK",
    "Database",
    "JSONDoc",
    "PublicId",
    "Row",
    "UtcDateTime",
    "create_engine",
    "dialect_insert",
    "insert_ignore",
    "make_metadata",
]

#: autoincrementing integer key: BIGINT on PostgreSQL, INTEGER (rowid) on SQLite
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")
#: a JSON document: JSONB on PostgreSQL
JSONDoc = JSON().with_variant(postgresql.JSONB(), "postgresql")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def make_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING)


#: a row as read (a ``RowMapping``) or built (a dict)
Row = Mapping[Any, Any]

#: room for any public id (``cn_`` + 22 characters, ``ias_`` + a ULID, other services' ids)
ID_LENGTH = 40


class PublicId(TypeDecorator[str]):
    """The column type of a public id (``cn_3kQ...``) or a reference to one: text of at most
    ``length`` characters (``ID_LENGTH`` unless a table has kept a wider column)."""

    impl = String
    cache_ok = True

    def __init__(self, length: int = ID_LENGTH) -> None:
        super().__init__(length)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC instant on both engines (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: times are UTC and timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def create_engine(settings: DatabaseSettings) -> AsyncEngine:
    url = make_url(settings.url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=settings.echo, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
            # take over BEGIN from the driver so that SAVEPOINT works and writers queue politely
            dbapi_connection.isolation_level = None
            cur = dbapi_connection.cursor()
            for pragma in ("journal_mode=WAL", "busy_timeout=30000", "foreign_keys=ON", "synchronous=NORMAL"):
                cur.execute(f"PRAGMA {pragma}")
            cur.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_async_engine(
        url,
        echo=settings.echo,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_pre_ping=settings.pre_ping,
        pool_recycle=settings.pool_recycle_s,
        # reuse the most recent connection: its prepared statements are warm, idle ones age out
        pool_use_lifo=True,
    )


def dialect_insert(table: Any, dialect_name: str) -> Any:
    """``INSERT`` of the engine in use, with its ``ON CONFLICT`` clauses (both engines have them)."""
    if dialect_name == "postgresql":
        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


def insert_ignore(table: Any, dialect_name: str) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` for the engine in use."""
    return dialect_insert(table, dialect_name).on_conflict_do_nothing()


class Database:
    """A service's database: engine, sessions, units of work, and commit listeners (the relay)."""

    def __init__(self, engine: AsyncEngine, clock: Clock, service: str) -> None:
        self.engine = engine
        self.clock = clock
        self.service = service
        self.sessionmaker = async_sessionmaker(engine, expire_on_commit=False, autoflush=True)
        # reads on PostgreSQL need no transaction: under READ COMMITTED each statement takes its own
        # snapshot inside one anyway, and without it a read is one round trip, not BEGIN, it, ROLLBACK
        # (SQLite keeps transactions: its BEGIN is the kit's own, see `create_engine`)
        self._read_sessionmaker = (
            async_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False, autoflush=False)
            if engine.dialect.name == "postgresql"
            else self.sessionmaker
        )
        self.dialect = engine.dialect.name
        #: PostgreSQL NOTIFY channel the relay LISTENs on
        self.notify_channel = f"ten99_outbox_{service}"
        #: a stable 32-bit key for the relay's advisory lock
        self.relay_lock_key = zlib.crc32(f"ten99-relay-{service}".encode())
        self._commit_listeners: list[Callable[[], None]] = []
        self.outbox_table: Any = None  # set by `attach_outbox`

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    def on_commit_with_messages(self, listener: Callable[[], None]) -> None:
        self._commit_listeners.append(listener)

    def notify_committed(self) -> None:
        for listener in self._commit_listeners:
            listener()

    def uow(self) -> UnitOfWork:
        from .uow import UnitOfWork

        return UnitOfWork(self)

    def session(self) -> AsyncSession:
        """A plain session for reads (no outbox)."""
        return self.sessionmaker()

    def reads(self) -> AsyncSession:
        """A session for reads only: on PostgreSQL its statements run without a transaction (no
        ``BEGIN``/``ROLLBACK`` round trips), each seeing what was committed when it started, as
        under READ COMMITTED. Never write through it (a write would commit at once, outside any unit
        of work): write with `uow` or `session`."""
        return self._read_sessionmaker()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def create_all(self, metadata: MetaData) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)

    async def dispose(self) -> None:
        await self.engine.dispose()
