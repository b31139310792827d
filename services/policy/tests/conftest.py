"""Puts this folder on ``sys.path`` (for ``policy_world``) and provides the integration fixtures."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

sys.path.insert(0, str(Path(__file__).parent))

from policy.bootstrap import definition
from policy_world import NOW, World
from ten99_testing.service import RunningService, running_service
from ten99kit.clock import SettableClock


@pytest_asyncio.fixture
async def world(jetstream_url: str) -> AsyncIterator[World]:
    w = World(jetstream_url)
    try:
        yield w
    finally:
        await w.close()


@pytest.fixture
def start_policy(database_url: str, jetstream_url: str) -> Callable[..., Any]:
    """``async with start_policy() as svc``: the policy service in-process, its clock frozen at NOW."""

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[RunningService]:
        clock = SettableClock(frozen_at=overrides.pop("now", NOW))
        async with running_service(
            definition, database_url=database_url, nats_url=jetstream_url, clock=clock, **overrides
        ) as svc:
            yield svc

    return start
