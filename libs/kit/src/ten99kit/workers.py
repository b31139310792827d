"""The one background loop: run a step, then wait until woken, until the step's own deadline or
until stopped; on an error, wait a capped exponential backoff (``Backoff``, also the one retry
delay for anything else) and try again. The outbox relay, the inbox consumer's reconnects and
each service's workers (imports, invoice issuing, email sending) run on it.

A step returns how long the loop may sleep before the next run at the latest: ``0`` when there
is more to do at once, ``None`` for the worker's idle interval. ``wake()`` (from a request
handler or an after-commit hook) cuts any wait short; a wake during a step runs the next step
at once::

    worker = PollingWorker("imports", step=imports.run_once_step, idle_s=settings.poll_interval_s)
    ...
    await worker.run(stop)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from .logging import actor, get_logger

__all__ = ["Backoff", "PollingWorker", "wait_first"]

log = get_logger(__name__)


class Backoff:
    """Capped exponential delays: ``first``, ``2*first``, ... up to ``cap``; ``reset()`` after a success."""

    def __init__(self, first: float, cap: float, factor: float = 2.0) -> None:
        if not 0 < first <= cap:
            raise ValueError("a backoff needs 0 < first <= cap")
        self.first, self.cap, self.factor = first, cap, factor
        self._next = first

    def next(self) -> float:
        """The delay to wait now; the one after it is longer, up to the cap."""
        delay = self._next
        self._next = min(self._next * self.factor, self.cap)
        return delay

    def reset(self) -> None:
        self._next = self.first


async def wait_first(*events: asyncio.Event | None, timeout: float | None) -> bool:
    """Wait until any of ``events`` is set or ``timeout`` seconds pass (None: no limit).
    True if an event was set."""
    present = [e for e in events if e is not None]
    if any(e.is_set() for e in present):
        return True
    if not present:
        if timeout is not None:
            await asyncio.sleep(timeout)
        return False
    waiters = [asyncio.ensure_future(e.wait()) for e in present]
    try:
        done, _ = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
    return bool(done)


class PollingWorker:
    """Runs ``step`` until ``stop`` is set (see the module's docstring)."""

    def __init__(
        self,
        name: str,
        step: Callable[[], Awaitable[float | None]],
        *,
        idle_s: float,
        backoff: Backoff | None = None,
        wake: asyncio.Event | None = None,
        retry_wake: Callable[[], asyncio.Event | None] | None = None,
    ) -> None:
        self.name = name
        self.step = step
        self.idle_s = idle_s
        self.backoff = backoff or Backoff(0.1, 5.0)
        self.wake_event = wake or asyncio.Event()
        #: after a failure, the event that may end the backoff early instead of a wake (e.g. a
        #: reconnect, so that a burst of wakes while a server is away does not retry each time);
        #: the worker clears it after the wait
        self.retry_wake = retry_wake
        self.runs = 0
        self.failures = 0

    def wake(self) -> None:
        self.wake_event.set()

    async def run(self, stop: asyncio.Event) -> None:
        # what a worker does on its own (an invoice issued, a reminder sent), nobody asked for; a
        # step acting for a requester binds them itself (an import acts as its uploader)
        requester = actor.set("system")
        try:
            await self._loop(stop)
        finally:
            actor.reset(requester)

    async def _loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.wake_event.clear()
            try:
                delay = await self.step()
                self.runs += 1
                self.backoff.reset()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self.failures += 1
                retry_in = self.backoff.next()
                log.warning("worker.step_failed", worker=self.name, error=repr(e), retry_in_s=retry_in, exc_info=True)
                retry_event = self.retry_wake() if self.retry_wake is not None else None
                await wait_first(stop, retry_event or self.wake_event, timeout=retry_in)
                if retry_event is not None and retry_event is not self.wake_event:
                    retry_event.clear()
                continue
            wait_s = self.idle_s if delay is None else min(delay, self.idle_s)
            if wait_s > 0:
                await wait_first(stop, self.wake_event, timeout=wait_s)
