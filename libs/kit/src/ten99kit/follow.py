"""Following the bus in every process: `Follower` hears each message of some subjects published
while it runs, in this process, whatever other processes of the service hear.

A consumer (`InboxConsumer`) shares its durable consumer among a service's processes, so that each
message is handled once, and never loses one. State kept in each process (the gateway's cache of
public API answers) needs the opposite: every process hears every message, and only what is
published from now on. A follower holds a plain NATS subscription per subject (the messages the
outbox relay publishes into JetStream reach plain subscribers too): nothing is kept on the server,
and the NATS user needs only to subscribe to those subjects.

Plain subscriptions may lose messages: while the connection is down, or when the process cannot
keep up (NATS drops what overflows a subscription's pending limit: a "slow consumer"). So a
follower is `live` only while subscribed and connected, and calls ``on_break`` whenever a message
could have passed unheard: when it (re)subscribes, when the connection is lost and again when it is
back, on a slow-consumer error of its subscriptions, and for a message its handler did not
understand. A cache drops everything there, and keeps nothing while not live. A subscription the
server refuses (the NATS user may not subscribe to the subject) leaves it never live, and says so
in the log. A connection that died silently counts as lost after the kit's ping timeout
(`NatsSettings.ping_interval_s`); a message lost between the servers of a cluster is not noticed at
all: what keeps a follower's state correct in the end must not rest on the follower alone (the
gateway's answers also expire).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from nats.errors import SlowConsumerError

from .bus import Bus
from .logging import get_logger
from .workers import Backoff, wait_first

__all__ = ["Follower"]

log = get_logger(__name__)

#: messages waiting for the handler before NATS drops the next (nats-py's default is 512 Ki)
PENDING_LIMIT = 65_536


class Follower:
    def __init__(
        self,
        bus: Bus,
        subjects: Sequence[str],
        handle: Callable[[str, bytes], None],
        on_break: Callable[[], None],
        *,
        pending_limit: int = PENDING_LIMIT,
        backoff: Backoff | None = None,
    ) -> None:
        self.bus = bus
        self.subjects = tuple(subjects)
        self.handle = handle
        self.on_break = on_break
        self.pending_limit = pending_limit
        self.backoff = backoff or Backoff(0.25, 10.0)
        self._subscriptions: list[Any] = []
        #: between a lost connection and nats-py's reconnected callback (it counts as connected a
        #: moment before that): what was published meanwhile is gone
        self._away = False
        #: the server refused a subscription (the NATS user may not subscribe): never live
        self._refused = False
        bus.on_disconnect(self._disconnected)
        bus.on_reconnect(self._reconnected)
        bus.on_error(self._errored)

    @property
    def refused(self) -> bool:
        """The server refused one of the subscriptions: this follower is never live."""
        return self._refused

    @property
    def live(self) -> bool:
        return bool(self._subscriptions) and not self._away and not self._refused and self.bus.is_connected

    def _disconnected(self) -> None:
        self._away = True
        self.on_break()

    def _reconnected(self) -> None:
        # nats-py subscribes again by itself; what was published while away is gone
        self.on_break()
        self._away = False

    def _errored(self, error: Exception) -> None:
        if isinstance(error, SlowConsumerError) and any(error.sub is s for s in self._subscriptions):
            self.on_break()
        elif "permissions violation" in str(error).lower() and any(s in str(error) for s in self.subjects):
            self._refused = True
            self.on_break()
            log.error("follower.subscription_refused", error=str(error), subjects=list(self.subjects))

    async def _on_message(self, msg: Any) -> None:
        try:
            self.handle(msg.subject, msg.data)
        except Exception as e:  # a message not understood: nothing kept can be trusted
            log.warning("follower.message_not_understood", subject=msg.subject, error=repr(e))
            self.on_break()

    async def run(self, stop: asyncio.Event) -> None:
        """Follow until ``stop``; a failed subscription is tried again with a capped backoff."""
        while not stop.is_set():
            try:
                await self._subscribe()
            except Exception as e:
                log.warning("follower.subscribe_failed", error=f"{type(e).__name__}: {e}")
                await wait_first(stop, timeout=self.backoff.next())
                continue
            log.info("follower.live", subjects=list(self.subjects))
            try:
                await stop.wait()
            finally:
                await self._unsubscribe(self._subscriptions)

    async def _subscribe(self) -> None:
        nc = self.bus.nc
        if nc is None or not nc.is_connected:
            raise ConnectionError("not connected to NATS")
        made: list[Any] = []
        try:
            for subject in self.subjects:
                made.append(
                    await nc.subscribe(subject, cb=self._on_message, pending_msgs_limit=self.pending_limit, pending_bytes_limit=0)
                )
            await nc.flush()  # the server has the subscriptions: what is published from now on is heard
        except BaseException:
            await self._unsubscribe(made)  # never live on a part of them
            raise
        self.on_break()
        self._subscriptions = made
        self.backoff.reset()

    async def _unsubscribe(self, subscriptions: list[Any]) -> None:
        self._subscriptions = []
        self.on_break()
        for sub in subscriptions:
            try:
                await sub.unsubscribe()
            except Exception as e:  # the connection may be gone
                log.info("follower.unsubscribe_failed", error=repr(e))
