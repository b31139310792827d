"""Fixtures for the contractor service's integration tests: the service running in-process on a
fresh PostgreSQL database and the test NATS, a clock set to a known day, and a JetStream reader
and publisher for the messages that cross the boundary (helpers in contractor_testkit.py)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from contractor.bootstrap import definition
from ten99_testing.service import RunningService, running_service
from ten99kit.clock import SettableClock

sys.path.insert(0, str(Path(__file__).parent))

from contractor_testkit import NOW, TENANT, Stream


@pytest.fixture
def clock() -> SettableClock:
    c = SettableClock()
    c.set(NOW)
    return c


@pytest_asyncio.fixture
async def svc(database_url: str, jetstream_url: str, clock: SettableClock) -> AsyncIterator[RunningService]:
    async with running_service(
        definition,
        database_url=database_url,
        nats_url=jetstream_url,
        clock=clock,
        imports={"poll_interval_s": 0.1, "chunk_rows": 3},
    ) as service:
        service.client.headers["x-tenant-id"] = TENANT
        yield service


@pytest_asyncio.fixture
async def svc_by_hand(database_url: str, jetstream_url: str, clock: SettableClock) -> AsyncIterator[RunningService]:
    """The service with nothing running in the background: the test drives the import worker
    and the relay itself."""
    async with running_service(
        definition,
        database_url=database_url,
        nats_url=jetstream_url,
        clock=clock,
        consume=False,
        relay=False,
        imports={"chunk_rows": 3},
    ) as service:
        service.client.headers["x-tenant-id"] = TENANT
        yield service


@pytest.fixture
def stream(jetstream_url: str) -> Stream:
    return Stream(jetstream_url)
