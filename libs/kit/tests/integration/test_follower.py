"""`Follower`: every process following a subject hears every message published while it follows
(where a consumer's processes share them), is live only while subscribed and connected, and says
so (``on_break``) whenever a message could have passed unheard: a NATS restart, a message not
understood, messages dropped because the process could not keep up."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from ten99_testing.nats_server import NatsServerProcess
from ten99_testing.ports import free_port
from ten99_testing.waiting import wait_until
from ten99kit.bus import Bus, ensure_streams
from ten99kit.follow import Follower
from ten99kit.settings import NatsSettings
from ten99kit.workers import Backoff

pytestmark = pytest.mark.integration

SUBJECT = "ten99.contractor.contractor_updated.v1"
OTHER = "ten99.contractor.contractor_deleted.v1"


class Heard:
    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.breaks = 0

    def handle(self, subject: str, data: bytes) -> None:
        if data == b"not understood":
            raise ValueError(data)
        self.messages.append((subject, data))

    def on_break(self) -> None:
        self.breaks += 1


async def test_each_follower_hears_every_message_and_says_when_it_may_have_missed_one(tmp_path: Path) -> None:
    server = NatsServerProcess(tmp_path / "nats", port=free_port())
    await asyncio.to_thread(server.start)
    bus = Bus(NatsSettings(url=server.url), name="follower-test")
    publisher = Bus(NatsSettings(url=server.url), name="follower-test-publisher")
    stop = asyncio.Event()
    heard = [Heard(), Heard()]
    followers = [Follower(bus, [SUBJECT, OTHER], h.handle, h.on_break, backoff=Backoff(0.05, 0.5)) for h in heard]
    tasks: list[asyncio.Task[None]] = []
    try:
        await bus.connect()
        await publisher.connect()
        await ensure_streams(bus.js)
        await publisher.js.publish(SUBJECT, b"before")  # published before following: not heard
        assert not followers[0].live
        tasks = [asyncio.create_task(f.run(stop)) for f in followers]
        await wait_until(lambda: all(f.live for f in followers), what="both followers live")
        assert all(h.breaks >= 1 for h in heard)  # nothing learnt before being live is trusted

        await publisher.js.publish(SUBJECT, b"one")
        await publisher.js.publish(OTHER, b"two")
        for h in heard:  # both hear both (a consumer's processes would share them)
            await wait_until(lambda h=h: len(h.messages) == 2, what="both messages heard")
            assert h.messages == [(SUBJECT, b"one"), (OTHER, b"two")]

        breaks = heard[0].breaks
        await publisher.js.publish(SUBJECT, b"not understood")
        await wait_until(lambda: heard[0].breaks > breaks, what="a message not understood is a break")

        # NATS goes away: not live; back: a break (what was published meanwhile may come late), then live
        await asyncio.to_thread(server.stop)
        await wait_until(lambda: not any(f.live for f in followers), timeout=30, what="not live without NATS")
        breaks = heard[1].breaks
        await asyncio.to_thread(server.start)
        await wait_until(lambda: heard[1].breaks > breaks, timeout=30, what="a break on reconnect")
        await wait_until(lambda: all(f.live for f in followers), timeout=30, what="live again")
        await publisher.js.publish(SUBJECT, b"after")
        for h in heard:
            await wait_until(lambda h=h: (SUBJECT, b"after") in h.messages, timeout=30, what="heard after the restart")

        assert (SUBJECT, b"before") not in heard[0].messages
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await bus.close()
        await publisher.close()
        await asyncio.to_thread(server.stop)


async def test_messages_dropped_for_a_slow_follower_are_a_break(tmp_path: Path) -> None:
    """NATS drops what overflows a subscription's pending limit: whenever fewer messages are heard
    than were published, a break was reported (here the limit is one message, so it happens)."""
    server = NatsServerProcess(tmp_path / "nats", port=free_port())
    await asyncio.to_thread(server.start)
    bus = Bus(NatsSettings(url=server.url), name="follower-slow")
    publisher = Bus(NatsSettings(url=server.url), name="follower-slow-publisher")
    stop = asyncio.Event()
    heard = Heard()
    follower = Follower(bus, [SUBJECT], heard.handle, heard.on_break, pending_limit=1)
    task: asyncio.Task[None] | None = None
    try:
        await bus.connect()
        await publisher.connect()
        task = asyncio.create_task(follower.run(stop))
        await wait_until(lambda: follower.live, what="following")
        breaks = heard.breaks
        for i in range(2000):
            await publisher.nc.publish(SUBJECT, str(i).encode())  # type: ignore[union-attr]
        await publisher.nc.flush()  # type: ignore[union-attr]
        await wait_until(lambda: len(heard.messages) == 2000 or heard.breaks > breaks, what="every message heard, or a break")
        assert heard.breaks > breaks and len(heard.messages) < 2000
        assert follower.live  # a break is not the end: it goes on following
    finally:
        stop.set()
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
        await bus.close()
        await publisher.close()
        await asyncio.to_thread(server.stop)
