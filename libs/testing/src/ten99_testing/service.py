"""An in-process service for integration tests: migrated database, JetStream streams, relay and
consumers running as tasks, and HTTP clients against its app: ``client`` as the gateway calls it
(the internal token), ``ops`` as an operator does (the operator token: ``/_ops``, ``/schema``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from ten99kit.clock import SettableClock
from ten99kit.migrations import upgrade
from ten99kit.runtime import Runtime, ServiceDefinition

__all__ = ["INTERNAL_TOKEN", "OPERATOR_TOKEN", "RunningService", "build_settings", "running_service"]

INTERNAL_TOKEN = "test-internal-token"  # noqa: S105 (tests only)
OPERATOR_TOKEN = "test-operator-token"  # noqa: S105 (tests only)


@dataclass
class RunningService:
    runtime: Runtime
    #: as the gateway calls the service: the internal token
    client: httpx.AsyncClient
    #: as an operator calls it: the operator token (``/_ops``, ``/schema``)
    ops: httpx.AsyncClient

    @property
    def db(self) -> Any:
        return self.runtime.db

    @property
    def clock(self) -> SettableClock:
        return self.runtime.clock

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait until the outbox is empty (everything this service wrote is published)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while await self.runtime.relay.publish_batch() != 0:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("outbox did not drain")


def build_settings(definition: ServiceDefinition, database_url: str, nats_url: str, **overrides: Any) -> Any:
    nats = {"url": nats_url, "fetch_timeout_s": 0.2, "backoff_s": [0.05, 0.1, 0.2], **overrides.pop("nats", {})}
    relay = {"poll_interval_s": 0.2, **overrides.pop("relay", {})}
    db = {"url": database_url, **overrides.pop("db", {})}
    overrides.setdefault("internal_token", INTERNAL_TOKEN)
    overrides.setdefault("operator_token", OPERATOR_TOKEN)
    overrides.setdefault("development", True)
    return definition.settings_type.model_validate({"db": db, "nats": nats, "relay": relay, **overrides})


@asynccontextmanager
async def running_service(
    definition: ServiceDefinition,
    *,
    database_url: str,
    nats_url: str,
    clock: SettableClock | None = None,
    consume: bool = True,
    relay: bool = True,
    **overrides: Any,
) -> AsyncIterator[RunningService]:
    settings = build_settings(definition, database_url, nats_url, **overrides)
    await asyncio.to_thread(upgrade, definition.migrations, settings.db.url)
    runtime = Runtime(definition, settings, clock=clock)
    await runtime.start()
    tasks: list[asyncio.Task[Any]] = []
    if relay:
        tasks.append(asyncio.create_task(runtime.relay.run(runtime.stop)))
    if consume:
        tasks.append(asyncio.create_task(runtime.consumer.run(runtime.stop)))
        tasks.extend(asyncio.create_task(b(runtime.stop)) for b in runtime.parts.background)
    tasks.extend(asyncio.create_task(f.run(runtime.stop)) for f in runtime.parts.followers)
    try:
        # in this event loop (litestar's AsyncTestClient runs the app on another one)
        transport = httpx.ASGITransport(app=runtime.app())
        async with (
            httpx.AsyncClient(
                transport=transport, base_url="http://testserver", headers={"x-ten99-internal-token": INTERNAL_TOKEN}
            ) as client,
            httpx.AsyncClient(
                transport=transport, base_url="http://testserver", headers={"x-ten99-operator-token": OPERATOR_TOKEN}
            ) as ops,
        ):
            yield RunningService(runtime, client, ops)
    finally:
        runtime.stop.set()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await runtime.close()
