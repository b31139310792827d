"""The browser tier's Chromium: Debian's (``/usr/bin/chromium``), headless, driven by Playwright."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright
from ten99_testing import free_port
from ten99_testing.system import SERVICES, System

from tests.conftest import ROOT, Company, create_company

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]  # fmt: skip


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    if not shutil.which("chromium") and not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed (make test installs it with apt-get)")
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        await b.close()


@pytest_asyncio.fixture
async def with_mailbox(database_factory: Any, jetstream_url: str, tmp_path: Path) -> AsyncIterator[tuple[System, Company]]:
    """Every service, notification sending to its own development catcher (the Mailbox is on)."""
    dbs = {s: await database_factory(s[:5]) for s in SERVICES}
    system = System(
        nats_url=jetstream_url,
        database_urls=dbs,
        smtp_host="127.0.0.1",
        smtp_port=free_port(),
        workdir=tmp_path / "system",
        cwd=ROOT,
        catcher=True,
        extra_env={"NOTIFICATION_DELIVERY__BACKOFF_BASE_S": "0.2"},
    )
    company = create_company(system, "Acme Talent", "ops@acme.test", "correct horse battery")
    for service in system.services.values():
        service.start()
    try:
        for service in system.services.values():
            service.wait_ready(timeout=240)  # six processes starting on a shared, busy machine
        yield system, company
    except BaseException:
        print(system.logs(80))
        raise
    finally:
        system.stop()
