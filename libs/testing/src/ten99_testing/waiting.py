"""Waiting in tests without sleeping: on a condition, or on a barrier that proves the system idle.

A timeout is an upper bound for a machine shared with other work (30 s by default), never a
measure: a wait returns as soon as its condition holds. Timing targets live in ``bench/``.

- ``wait_until`` / ``wait_until_sync``: poll a condition until it holds and return its value; on
  timeout fail with what was waited for and the last value seen (or the last error, for the
  exception types the caller said to retry on).
- ``quiescent``: in-process services (`RunningService` or `Runtime`) are idle: every durable
  consumer of theirs has caught up with its subject in its stream and applied all it was given, and
  every outbox is drained. What has not happened by then will not happen without a new input or the
  clock, so a test asserts "nothing happened" after it, never after a sleep.
- ``quiescent_processes``: the same for services running as processes (end-to-end tests), from
  the NATS server (every durable consumer on it) and the services' databases.

Idle is observed, not assumed: the consumers' and outboxes' state is read repeatedly until two
reads in a row find everything caught up *and* nothing moved in between (stream and consumer
positions, unsent rows). A message published by a relay between two reads moves a stream's last
sequence; a reaction committed between them moved its consumer's ack floor first.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

__all__ = ["WaitTimeout", "quiescent", "quiescent_processes", "wait_until", "wait_until_sync"]

T = TypeVar("T")

_MISSING = object()


class WaitTimeout(AssertionError):
    """A condition did not hold in time (an assertion about the system: the test fails)."""


def _describe(condition: Callable[..., Any], what: str | None) -> str:
    if what:
        return what
    name = getattr(condition, "__qualname__", None) or repr(condition)
    if name.endswith("<lambda>"):
        try:
            return inspect.getsource(condition).strip()
        except (OSError, TypeError):
            pass
    return name


def _failure(what: str, timeout: float, last: Any) -> WaitTimeout:
    if last is _MISSING:
        shown = "(never evaluated)"
    elif isinstance(last, BaseException):
        shown = f"raised {last!r}"
    else:
        shown = repr(last)
    if len(shown) > 2000:
        shown = shown[:2000] + " ..."
    return WaitTimeout(f"waited {timeout:g} s for {what}; last value: {shown}")


def _met(value: Any, satisfies: Callable[[Any], bool] | None) -> bool:
    return bool(satisfies(value)) if satisfies is not None else bool(value)


@overload
async def wait_until(
    condition: Callable[[], Awaitable[T]],
    *,
    satisfies: Callable[[T], bool] | None = None,
    timeout: float = 30.0,
    interval: float = 0.05,
    what: str | None = None,
    retry_on: tuple[type[BaseException], ...] = (),
) -> T: ...


@overload
async def wait_until(
    condition: Callable[[], T],
    *,
    satisfies: Callable[[T], bool] | None = None,
    timeout: float = 30.0,
    interval: float = 0.05,
    what: str | None = None,
    retry_on: tuple[type[BaseException], ...] = (),
) -> T: ...


async def wait_until(
    condition: Callable[[], Any],
    *,
    satisfies: Callable[[Any], bool] | None = None,
    timeout: float = 30.0,
    interval: float = 0.05,
    what: str | None = None,
    retry_on: tuple[type[BaseException], ...] = (),
) -> Any:
    """Call ``condition`` (sync or async) until its value is truthy, or ``satisfies(value)``
    when given; return that value. Exceptions of the ``retry_on`` types count as "not yet"."""
    deadline = time.monotonic() + timeout
    last: Any = _MISSING
    while True:
        try:
            value = condition()
            if inspect.isawaitable(value):
                value = await value
        except retry_on as e:
            last = e
        else:
            if _met(value, satisfies):
                return value
            last = value
        if time.monotonic() >= deadline:
            raise _failure(_describe(condition, what), timeout, last)
        await asyncio.sleep(interval)


def wait_until_sync(
    condition: Callable[[], T],
    *,
    satisfies: Callable[[T], bool] | None = None,
    timeout: float = 30.0,
    interval: float = 0.1,
    what: str | None = None,
    retry_on: tuple[type[BaseException], ...] = (),
) -> T:
    """`wait_until` for code without an event loop (end-to-end tests driving processes)."""
    deadline = time.monotonic() + timeout
    last: Any = _MISSING
    while True:
        try:
            value = condition()
        except retry_on as e:
            last = e
        else:
            if _met(value, satisfies):
                return value
            last = value
        if time.monotonic() >= deadline:
            raise _failure(_describe(condition, what), timeout, last)
        time.sleep(interval)


# -- barriers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Consumer:
    stream: str
    durable: str
    #: the consumer's filter subject (None: the whole stream)
    subject: str | None


@dataclass
class _Observation:
    """One read of everything the barrier watches."""

    #: (stream, durable) -> (delivered stream seq, ack floor stream seq, pending, ack pending)
    positions: dict[tuple[str, str], tuple[int, int, int, int]] = field(default_factory=dict)
    #: stream -> last sequence
    streams: dict[str, int] = field(default_factory=dict)
    #: database -> unsent outbox rows
    unsent: dict[str, int] = field(default_factory=dict)
    #: what is not idle yet, in words
    busy: list[str] = field(default_factory=list)

    @property
    def idle(self) -> bool:
        return not self.busy

    def same_as(self, other: _Observation | None) -> bool:
        return other is not None and (self.positions, self.streams, self.unsent) == (
            other.positions,
            other.streams,
            other.unsent,
        )

    def __repr__(self) -> str:
        return "idle" if self.idle else "; ".join(self.busy)


async def _observe_consumers(js: Any, consumers: Sequence[_Consumer], seen: _Observation) -> None:
    from nats.js.errors import NotFoundError

    for stream in sorted({c.stream for c in consumers}):
        try:
            seen.streams[stream] = int((await js.stream_info(stream)).state.last_seq)
        except NotFoundError:
            seen.busy.append(f"stream {stream} does not exist yet")
    for c in consumers:
        try:
            info = await js.consumer_info(c.stream, c.durable)
        except NotFoundError:
            seen.busy.append(f"consumer {c.durable} does not exist yet")
            continue
        delivered = int(info.delivered.stream_seq or 0) if info.delivered else 0
        acked = int(info.ack_floor.stream_seq or 0) if info.ack_floor else 0
        pending, ack_pending = int(info.num_pending or 0), int(info.num_ack_pending or 0)
        seen.positions[(c.stream, c.durable)] = (delivered, acked, pending, ack_pending)
        if pending or ack_pending:
            seen.busy.append(f"consumer {c.durable}: {pending} not delivered, {ack_pending} not acknowledged")
            continue
        last = await _last_seq(js, c)
        if delivered < last:
            seen.busy.append(f"consumer {c.durable} delivered up to {delivered}, its subject is at {last}")


async def _last_seq(js: Any, c: _Consumer) -> int:
    """The stream sequence of the last message the consumer should get (0 if none)."""
    from nats.js.errors import NotFoundError

    if c.subject is None:
        return int((await js.stream_info(c.stream)).state.last_seq)
    try:
        return int((await js.get_last_msg(c.stream, c.subject)).seq or 0)
    except NotFoundError:
        return 0


async def _barrier(observe: Callable[[], Awaitable[_Observation]], timeout: float, interval: float, what: str) -> None:
    previous: _Observation | None = None

    async def settled() -> _Observation | None:
        nonlocal previous
        seen = await observe()
        steady = seen.idle and previous is not None and previous.idle and seen.same_as(previous)
        previous = seen
        return seen if steady else None

    try:
        await wait_until(settled, timeout=timeout, interval=interval, what=what)
    except WaitTimeout:
        raise WaitTimeout(f"waited {timeout:g} s for {what}; last seen: {previous!r}") from None


def _runtime(service: Any) -> Any:
    return getattr(service, "runtime", service)


async def quiescent(*services: Any, timeout: float = 30.0, outboxes: bool = True, interval: float = 0.05) -> None:
    """Wait until the in-process services (each a `RunningService` or a `Runtime`) are idle:
    every durable consumer of theirs has applied and acknowledged everything of its subject in its
    stream, and (unless ``outboxes=False``, for services whose relay the test drives by hand) no
    outbox row is left unsent. Clock-driven work (jobs, retries, billing's issuer) is not covered:
    it waits for the clock, which the test controls."""
    from sqlalchemy import func, select
    from ten99_contracts import stream_for_subject

    runtimes = [_runtime(s) for s in services]

    async def observe() -> _Observation:
        seen = _Observation()
        for rt in runtimes:
            inbox = rt.consumer
            consumers = [
                _Consumer(stream_for_subject(sub.subject).name, inbox.durable(sub), sub.subject) for sub in inbox.subscriptions
            ]
            await _observe_consumers(rt.bus.js, consumers, seen)
            outbox = rt.db.outbox_table
            if outboxes and outbox is not None:
                async with rt.db.session() as s:
                    unsent = int((await s.execute(select(func.count()).where(outbox.c.sent_at.is_(None)))).scalar_one())
                seen.unsent[rt.name] = unsent
                if unsent:
                    seen.busy.append(f"{rt.name}: {unsent} outbox rows unsent")
        return seen

    names = ", ".join(rt.name for rt in runtimes)
    await _barrier(observe, timeout, interval, f"{names} to be idle (consumers caught up, outboxes drained)")


def quiescent_processes(nats_url: str, database_urls: Iterable[str], *, timeout: float = 60.0, interval: float = 0.2) -> None:
    """`quiescent` for services running as processes: every durable consumer on the NATS server
    at ``nats_url`` caught up, and no unsent row in the ``outbox`` of each database."""
    urls = list(database_urls)

    async def run() -> None:
        import nats
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import create_async_engine

        nc = await nats.connect(nats_url)
        engines = {url: create_async_engine(url, pool_size=1) for url in urls}
        try:
            js = nc.jetstream()

            async def observe() -> _Observation:
                seen = _Observation()
                consumers = []
                for stream in await js.streams_info():
                    name = stream.config.name or ""
                    for info in await js.consumers_info(name):
                        if info.config.durable_name:
                            consumers.append(_Consumer(name, info.name, info.config.filter_subject or None))
                await _observe_consumers(js, consumers, seen)
                for url, engine in engines.items():
                    async with engine.connect() as conn:
                        unsent = int((await conn.execute(text("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))).scalar_one())
                    name = engine.url.database or url
                    seen.unsent[name] = unsent
                    if unsent:
                        seen.busy.append(f"{name}: {unsent} outbox rows unsent")
                return seen

            await _barrier(observe, timeout, interval, "every service to be idle (consumers caught up, outboxes drained)")
        finally:
            await nc.close()
            for engine in engines.values():
                await engine.dispose()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(run())
        return
    # called (blocking) from a coroutine, as the end-to-end tests call their steps: a loop of its own
    with ThreadPoolExecutor(1) as pool:
        pool.submit(lambda: asyncio.run(run())).result()
