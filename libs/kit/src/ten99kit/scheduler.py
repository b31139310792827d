"""Clock-driven jobs (reminders, expiry, due dates). A job asks the clock what is due and acts;
it runs on a timer in the worker and at once on ``POST /_ops/tick``. Jobs must be idempotent:
several workers may run them, and a tick may repeat."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .clock import Clock
from .logging import actor, get_logger
from .workers import PollingWorker

__all__ = ["ScheduledJob", "Scheduler"]

log = get_logger(__name__)


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    #: called with the current time; returns how much it did (for logs and tests)
    run: Callable[[datetime], Awaitable[int]]


class Scheduler:
    def __init__(self, jobs: list[ScheduledJob], clock: Clock, interval_s: float) -> None:
        self.jobs = jobs
        self.clock = clock
        self.interval_s = interval_s
        self._lock = asyncio.Lock()

    async def run_due(self) -> dict[str, Any]:
        """Run every job once, now. One tick at a time per process."""
        results: dict[str, Any] = {}
        async with self._lock:
            requester = actor.set("system")  # what the clock does, nobody asked for
            now = self.clock.now()
            try:
                for job in self.jobs:
                    try:
                        results[job.name] = await job.run(now)
                    except Exception as e:
                        log.exception("scheduler.job_failed", job=job.name, error=repr(e))
                        results[job.name] = f"error: {e!r}"
            finally:
                actor.reset(requester)
        return results

    async def run(self, stop: asyncio.Event) -> None:
        if not self.jobs:
            return

        async def step() -> None:
            await self.run_due()  # each job's failure is caught and logged by run_due

        await PollingWorker("scheduler", step, idle_s=self.interval_s).run(stop)
