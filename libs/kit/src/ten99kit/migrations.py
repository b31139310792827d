"""Alembic, driven from code: each service keeps ``migrations/env.py`` (three lines calling
`run_env`) and ``migrations/versions/``; ``python -m <service> migrate`` upgrades to head."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import async_engine_from_config, create_async_engine

__all__ = ["alembic_config", "revision", "run_env", "schema_drift", "upgrade"]


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
