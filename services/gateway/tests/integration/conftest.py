"""Fixtures for the gateway's integration tests: the gateway in-process on a real PostgreSQL (and
NATS, for its outbox) and the five services faked by one small Litestar app on a free port
(see ``gateway_fakes.py``)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from gateway.bootstrap import definition
from ten99_testing import free_port, wait_until
from ten99_testing.service import running_service

sys.path.insert(0, str(Path(__file__).parent))

from gateway_fakes import FakeServices, fake_app


@pytest.fixture
async def fake_services() -> AsyncIterator[FakeServices]:
    fake = FakeServices()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(fake_app(fake), host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    # a server that could not start (its port taken since free_port) ends its task: fail, do not spin
    await wait_until(lambda: server.started or task.done(), what="the fake services listening")
    if not server.started:
        raise RuntimeError(f"the fake services did not start on port {port}") from task.exception()
    fake.url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def gateway(database_url: str, jetstream_url: str, fake_services: FakeServices) -> AsyncIterator[Any]:
    async with running_service(
        definition,
        database_url=database_url,
        nats_url=jetstream_url,
        services=fake_services.base_urls(),
        dev_mailbox=True,
        password_hash={"time_cost": 1, "memory_kib": 8192, "parallelism": 1},  # fast; production keeps the defaults
    ) as svc:
        svc.client.headers.pop("x-ten99-internal-token", None)  # a browser has no such header
        yield svc
