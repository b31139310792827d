"""Planner statistics kept fresh on PostgreSQL.

autovacuum analyses a changed table at most once per ``autovacuum_naptime`` (a minute by
default). A table that grows from nothing to thousands of rows in seconds (a bulk import and the
events it sets off) is planned without statistics until then, and PostgreSQL then picks a
tenant-wide index for a primary-key lookup: measured here, a 250-key lookup took 120-280 ms instead
of 2 ms and each opt-in read every assignment of its company. The PostgreSQL manual's advice for
bulk loads is to run ANALYZE afterwards; this task does so for every table whose changes since
the last analysis pass a threshold, every couple of seconds. It is one catalog query per interval
when nothing changed. Several processes of one service may run it: a table being analysed is
skipped by the others (``SKIP_LOCKED``).
"""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from .logging import get_logger
from .settings import DatabaseSettings
from .workers import Backoff, PollingWorker

__all__ = ["StatisticsKeeper"]

log = get_logger("statistics")

_STALE = text(
    """
    SELECT s.relname
    FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
    WHERE s.schemaname = current_schema()
      AND s.n_mod_since_analyze >= :min_changes + :fraction * greatest(c.reltuples, 0)
    ORDER BY s.n_mod_since_analyze DESC
    """
)


class StatisticsKeeper:
    def __init__(self, engine: AsyncEngine, settings: DatabaseSettings) -> None:
        self.engine = engine
        self.settings = settings

    @property
    def enabled(self) -> bool:
        return self.engine.dialect.name == "postgresql" and self.settings.analyze_min_changes > 0

    async def analyze_stale(self) -> list[str]:
        """ANALYZE each table past the threshold; the names of those analysed."""
        done: list[str] = []
        async with self.engine.connect() as conn:
            params = {"min_changes": self.settings.analyze_min_changes, "fraction": self.settings.analyze_fraction}
            names = [r[0] for r in await conn.execute(_STALE, params)]
            await conn.commit()
            for name in names:
                quoted = conn.dialect.identifier_preparer.quote(name)
                await conn.execute(text(f"ANALYZE (SKIP_LOCKED) {quoted}"))
                await conn.commit()
                done.append(name)
        if done:
            log.debug("statistics.analyzed", tables=done)
        return done

    async def run(self, stop: asyncio.Event) -> None:
        if not self.enabled:
            return

        async def step() -> None:
            await self.analyze_stale()  # a failure (the database away for a while) is retried

        interval = self.settings.analyze_interval_s
        await PollingWorker("statistics", step, idle_s=interval, backoff=Backoff(min(5.0, interval), interval)).run(stop)
