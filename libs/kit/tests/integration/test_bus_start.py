"""A process that starts before NATS: it connects once NATS comes (retrying with backoff), and a
connection made with one first attempt still reconnects by itself after a NATS restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from demo import DemoSettings, definition
from ten99_testing.nats_server import NatsServerProcess
from ten99_testing.ports import free_port
from ten99_testing.waiting import wait_until
from ten99kit.migrations import upgrade
from ten99kit.runtime import Runtime
from ten99kit.workers import Backoff

pytestmark = pytest.mark.integration


async def test_the_bus_connects_when_nats_comes_and_reconnects_after_a_restart(tmp_path: Path, sqlite_url: str) -> None:
    await asyncio.to_thread(upgrade, definition.migrations, sqlite_url)
    server = NatsServerProcess(tmp_path / "nats", port=free_port())
    rt = Runtime(definition, DemoSettings(db={"url": sqlite_url}, nats={"url": server.url}, development=True))
    rt.mode = "worker"
    stop = asyncio.Event()
    connecting = asyncio.create_task(rt.connect_bus(stop, Backoff(0.05, 0.5)))
    try:
        ok, body = await rt.readiness()
        assert not ok and body["checks"]["nats"] == "failing: not connected to NATS"
        assert not connecting.done()
        await asyncio.to_thread(server.start)
        assert await asyncio.wait_for(connecting, timeout=30) is True
        ok, body = await rt.readiness()
        assert ok, body

        await asyncio.to_thread(server.stop)
        await wait_until(lambda: not rt.bus.is_connected, timeout=30, what="the bus notices NATS is gone")
        ok, body = await rt.readiness()
        assert not ok and body["checks"]["nats"] == "failing: not connected to NATS"
        await asyncio.to_thread(server.start)
        await wait_until(lambda: rt.bus.is_connected, timeout=30, what="the bus reconnects by itself")
        assert (await rt.readiness())[0]
    finally:
        stop.set()
        connecting.cancel()
        await rt.close()
        await asyncio.to_thread(server.stop)
