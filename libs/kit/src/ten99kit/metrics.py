"""Gauges of backlogs that only a query can tell: how far each durable consumer is behind its
stream, how many dead letters wait for an operator, how many outbox rows are unsent and for how
long. The process that owns the thing refreshes its gauge in the background, every
``REFRESH_INTERVAL_S`` (a scrape sees a value at most that old): the inbox consumer (worker
processes) the consumer and dead-letter gauges, the outbox relay (relay processes) the outbox ones.

Counters of events (messages applied, emails sent, rows imported) live beside the code that counts
them. Every ``ten99_*`` metric is listed in docs/operations/metrics.md (a test keeps it complete).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from prometheus_client import Gauge

from .workers import Backoff, PollingWorker

__all__ = [
    "CONSUMER_ACK_PENDING",
    "CONSUMER_PENDING",
    "DEAD_LETTERS_WAITING",
    "OUTBOX_OLDEST_UNSENT_AGE",
    "REFRESH_INTERVAL_S",
    "gauge_worker",
]

#: seconds between two refreshes of a gauge (Prometheus scrapes every 15-30 s)
REFRESH_INTERVAL_S = 15.0

CONSUMER_PENDING = Gauge(
    "ten99_consumer_pending",
    "Messages in the stream not yet delivered to this durable consumer (JetStream num_pending)",
    ["service", "consumer"],
)
CONSUMER_ACK_PENDING = Gauge(
    "ten99_consumer_ack_pending",
    "Messages delivered to this durable consumer and not yet acknowledged (JetStream num_ack_pending)",
    ["service", "consumer"],
)
DEAD_LETTERS_WAITING = Gauge("ten99_dead_letters_waiting", "Dead letters in the service's table not yet replayed", ["service"])
OUTBOX_OLDEST_UNSENT_AGE = Gauge(
    "ten99_outbox_oldest_unsent_age_seconds", "Age of the oldest unsent outbox row (0 when none)", ["service"]
)


def gauge_worker(name: str, refresh: Callable[[], Awaitable[None]], interval_s: float = REFRESH_INTERVAL_S) -> PollingWorker:
    """A worker that runs ``refresh`` every ``interval_s``; a failed refresh is logged and tried
    again after a backoff of at most the interval (the gauge keeps its last value meanwhile)."""

    async def step() -> None:
        await refresh()

    return PollingWorker(name, step, idle_s=interval_s, backoff=Backoff(min(1.0, interval_s), interval_s))
