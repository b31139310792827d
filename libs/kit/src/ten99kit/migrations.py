"""Alembic, driven from code: each service keeps ``migrations/env.py`` (three lines calling
`run_env`) and ``migrations/versions/``.

``python -m <service> migrate`` upgrades to head under a PostgreSQL advisory lock (one per service),
so that migrators started together (an initContainer in each of several pods) run one after the
other; the later ones find the database at head and do nothing. SQLite needs no lock (one writer).
``migrate --check`` compares the database's revision with the head of the scripts, ``migrate
--wait`` waits for it, ``migrate --downgrade <revision>`` rolls the schema back
(docs/operations/upgrade-and-rollback.md)."""

from __future__ import annotations

import asyncio
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, inspect, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, async_engine_from_config, create_async_engine

__all__ = [
    "SchemaState",
    "Scripts",
    "alembic_config",
    "check",
    "current_revisions",
    "downgrade",
    "head_revisions",
    "lock_key",
    "read_scripts",
    "revision",
    "run_env",
    "schema_drift",
    "schema_state",
    "upgrade",
    "wait_for_head",
]


def alembic_config(migrations: Path, url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations))
    cfg.set_main_option("version_locations", str(migrations / "versions"))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(migrations: Path, url: str, revision_id: str = "head") -> None:
    """Blocking; run it in a thread from async code (alembic's env runs its own event loop)."""
    if url.startswith("sqlite"):
        from sqlalchemy.engine import make_url

        db = make_url(url).database
        if db and db != ":memory:":
            Path(db).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(migrations, url), revision_id)


def downgrade(migrations: Path, url: str, revision_id: str) -> None:
    """Roll the schema back to ``revision_id`` (``-1``: one step; ``base``: nothing), under the same
    lock as `upgrade`. Blocking."""
    command.downgrade(alembic_config(migrations, url), revision_id)


def head_revisions(migrations: Path) -> frozenset[str]:
    """The head revision(s) of a service's scripts, read from the files (no database)."""
    return read_scripts(migrations).heads


@dataclass(frozen=True)
class Scripts:
    """What a release's migration scripts know: their head(s) and every revision id."""

    heads: frozenset[str]
    known: frozenset[str]


def read_scripts(migrations: Path) -> Scripts:
    script = ScriptDirectory.from_config(alembic_config(migrations, ""))
    return Scripts(frozenset(script.get_heads()), frozenset(s.revision for s in script.walk_revisions()))


def lock_key(migrations: Path) -> int:
    """The advisory lock a service's migrators take: a stable 31-bit number from the service's name."""
    return zlib.crc32(f"ten99 migrate {Path(migrations).parent.name}".encode()) & 0x7FFFFFFF


@dataclass(frozen=True)
class SchemaState:
    """Where a database's schema stands against one release's scripts."""

    current: frozenset[str]
    scripts: Scripts
    #: False when the database has no ``alembic_version`` table (never migrated)
    versioned: bool = True

    @property
    def heads(self) -> frozenset[str]:
        return self.scripts.heads

    @property
    def at_head(self) -> bool:
        return self.versioned and self.current == self.heads

    @property
    def ahead(self) -> bool:
        """Migrated by a later release (a revision these scripts do not know): under the
        expand/contract rule this release still runs on it (a rolling update, a code rollback)."""
        return self.versioned and bool(self.current - self.scripts.known)

    @property
    def usable(self) -> bool:
        """This release's code may serve on this schema: at its head, or ahead of it."""
        return self.at_head or self.ahead

    def describe(self) -> str:
        head = ", ".join(sorted(self.heads)) or "(no scripts)"
        if not self.versioned:
            return f"schema not migrated (no alembic_version table); head is {head}"
        if self.at_head:
            return f"schema at head {head}"
        now = ", ".join(sorted(self.current)) or "(empty)"
        if self.ahead:
            return f"schema at {now}, newer than this release's head {head} (migrated by a later release)"
        return f"schema at {now}, head is {head}"


async def current_revisions(conn: AsyncConnection) -> frozenset[str] | None:
    """The revision(s) recorded in ``alembic_version``; None when the table does not exist."""

    def read(sync: Connection) -> frozenset[str] | None:
        if not inspect(sync).has_table("alembic_version"):  # one catalogue query, then one SELECT
            return None
        return frozenset(MigrationContext.configure(sync).get_current_heads())

    return await conn.run_sync(read)


async def schema_state(url: str, scripts: Scripts) -> SchemaState:
    """Open a connection to ``url`` and read its revision (raises if the database does not answer)."""
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as conn:
            current = await current_revisions(conn)
    finally:
        await engine.dispose()
    return SchemaState(current or frozenset(), scripts, versioned=current is not None)


def check(migrations: Path, url: str) -> SchemaState:
    """Blocking: the database's schema state against the scripts."""
    return asyncio.run(schema_state(url, read_scripts(migrations)))


def wait_for_head(migrations: Path, url: str, timeout: float, interval: float = 1.0) -> SchemaState:
    """Blocking: poll until the database is at head, or ahead of it (an unreachable database
    counts as not yet); raise `TimeoutError` with the last state after ``timeout`` seconds."""
    scripts = read_scripts(migrations)
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while True:
        try:
            state = asyncio.run(schema_state(url, scripts))
            if state.usable:
                return state
            last = state.describe()
        except Exception as e:  # the database may not be up yet
            last = f"database not reachable: {e!r}"
        if time.monotonic() + interval > deadline:
            raise TimeoutError(f"not at head after {timeout:g} s: {last}")
        time.sleep(interval)


def revision(migrations: Path, url: str, message: str) -> None:
    """Autogenerate a migration against the database at ``url`` (upgraded to head first)."""
    (migrations / "versions").mkdir(parents=True, exist_ok=True)
    template = migrations / "script.py.mako"
    template.write_text((Path(__file__).parent / "alembic_script.py.mako").read_text())
    try:
        upgrade(migrations, url)
        command.revision(alembic_config(migrations, url), message=message, autogenerate=True)
    finally:
        template.unlink()


def _configure(connection: Connection, metadata: MetaData) -> Any:
    from alembic import context

    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_env(metadata: MetaData) -> None:
    """The body of every service's ``migrations/env.py``."""
    from alembic import context

    config = context.config
    if context.is_offline_mode():
        context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return

    async def online() -> None:
        engine = async_engine_from_config(
            config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
        )
        async with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                # held by this session until it closes: concurrent migrators of one service queue here
                script_location = config.get_main_option("script_location") or "migrations"
                await conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": lock_key(Path(script_location))})
                await conn.commit()  # the lock outlives the transaction; alembic starts its own
            await conn.run_sync(_configure, metadata)
        await engine.dispose()

    asyncio.run(online())


async def schema_drift(url: str, metadata: MetaData) -> list[Any]:
    """Differences between the migrated database at ``url`` and the models (empty when in step)."""
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c, opts={"compare_type": True}), metadata)
            )
    finally:
        await engine.dispose()
