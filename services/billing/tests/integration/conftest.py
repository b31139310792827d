"""Fixtures of billing's integration tests; the driver itself is in ``billing_testkit``."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

sys.path.insert(0, str(Path(__file__).parent))

from billing_testkit import Driver, make_driver


@pytest_asyncio.fixture
async def driver(database_url: str, jetstream_url: str) -> AsyncIterator[Driver]:
    """Billing with a short settle window (tests of behaviour, not of timing)."""
    async with make_driver(database_url, jetstream_url, settle_s=0.2) as d:
        yield d
