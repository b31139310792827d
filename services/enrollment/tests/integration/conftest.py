"""The enrollment service running on the test's PostgreSQL database and the shared JetStream, its
clock frozen at ``NOW``."""

from collections.abc import AsyncIterator

import pytest
from enrollment.bootstrap import definition
from enrollment_support import NOW, SECRET
from ten99_testing.service import RunningService, running_service
from ten99kit.clock import SettableClock


@pytest.fixture
async def svc(database_url: str, jetstream_url: str) -> AsyncIterator[RunningService]:
    async with running_service(
        definition,
        database_url=database_url,
        nats_url=jetstream_url,
        clock=SettableClock(frozen_at=NOW),
        token_secret=SECRET,
        opt_in_base_url="http://gw.test/",
    ) as s:
        s.nats_url = jetstream_url  # type: ignore[attr-defined]
        yield s
