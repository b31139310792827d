"""The actor (who asked for a change) travels like the correlation id: bound from the gateway's
header, written into every envelope, re-bound by a consumer, "system" for the clock and the background workers."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from demo import definition
from sqlalchemy import select
from ten99_contracts import actor_of, decode_envelope, valid_actor
from ten99_contracts.gateway_v1 import CompanyCreatedV1
from ten99kit.clock import SettableClock
from ten99kit.db import Database, create_engine
from ten99kit.http import correlation_middleware
from ten99kit.logging import actor, bind_actor
from ten99kit.migrations import upgrade
from ten99kit.scheduler import ScheduledJob, Scheduler
from ten99kit.settings import DatabaseSettings
from ten99kit.workers import PollingWorker


def test_only_well_formed_actors_are_bound() -> None:
    assert valid_actor("user:us_abc123") and valid_actor("api_key:ak_X9") and valid_actor("contractor:cn_1")
    assert valid_actor("operator") and valid_actor("system")
    for bad in ("", "user:", "user:cn_1", "root", "user:us_a b", "system\n", "user:us_" + "a" * 41, None):
        assert not valid_actor(bad), bad
        assert bind_actor(bad) is None and actor.get() is None
    assert bind_actor("user:us_abc") == "user:us_abc"
    actor.set(None)


async def _seen_actor(headers: list[tuple[bytes, bytes]]) -> str | None:
    seen: list[str | None] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(actor.get())
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(_: Any) -> None:
        return None

    scope = {"type": "http", "method": "GET", "path": "/v1/x", "headers": headers}
    await asyncio.create_task(correlation_middleware(app)(scope, receive, send))
    return seen[0]


async def test_the_http_middleware_binds_a_valid_actor_header_and_ignores_anything_else() -> None:
    assert await _seen_actor([(b"x-ten99-actor", b"api_key:ak_123")]) == "api_key:ak_123"
    assert await _seen_actor([(b"x-ten99-actor", b"api_key:ak_1; drop")]) is None
    assert await _seen_actor([]) is None


async def test_clock_jobs_run_as_system_and_the_actor_is_restored() -> None:
    seen: list[str | None] = []

    async def job(_: datetime) -> int:
        seen.append(actor.get())
        return 1

    token = actor.set("user:us_1")
    try:
        await Scheduler([ScheduledJob("j", job)], SettableClock(), 1.0).run_due()
        assert seen == ["system"] and actor.get() == "user:us_1"
    finally:
        actor.reset(token)


async def test_a_background_worker_runs_as_system_and_the_actor_is_restored() -> None:
    seen: list[str | None] = []
    stop = asyncio.Event()

    async def step() -> float | None:
        seen.append(actor.get())
        stop.set()
        return None

    token = actor.set("user:us_1")
    try:
        await PollingWorker("w", step, idle_s=1.0).run(stop)
        assert seen == ["system"] and actor.get() == "user:us_1"
    finally:
        actor.reset(token)


async def test_an_emitted_envelope_carries_the_bound_actor(sqlite_url: str) -> None:
    await asyncio.to_thread(upgrade, definition.migrations, sqlite_url)
    db = Database(create_engine(DatabaseSettings(url=sqlite_url)), SettableClock(), "demo")
    outbox = db.outbox_table = definition.metadata.tables["outbox"]
    token = actor.set(actor_of("user", "us_abc"))
    try:
        async with db.uow() as uow:
            uow.emit(CompanyCreatedV1(company_id="co_1", name="n", owner_email="o@x.test"), tenant_id="co_1", aggregate_id="a")
            await uow.commit()
        async with db.session() as s:
            payload = (await s.execute(select(outbox.c.payload))).scalar_one()
        assert decode_envelope(payload, CompanyCreatedV1.SUBJECT).actor == "user:us_abc"
    finally:
        actor.reset(token)
        await db.dispose()
