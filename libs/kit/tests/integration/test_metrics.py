"""The kit's backlog gauges on a real PostgreSQL and NATS: consumer lag from JetStream, waiting dead
letters, unsent outbox rows and the age of the oldest, as a scrape of ``/metrics`` shows them."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import nats
import pytest
from demo import Behaviour, definition, write_note
from prometheus_client import REGISTRY
from ten99_contracts.gateway_v1 import CompanyCreatedV1
from ten99_testing import wait_until
from ten99_testing.service import running_service
from ten99kit.clock import SettableClock

pytestmark = pytest.mark.integration

SUBJECT = CompanyCreatedV1.SUBJECT


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


@pytest.fixture(autouse=True)
def reset_behaviour() -> None:
    Behaviour.fail_names.clear()
    Behaviour.seen.clear()


async def test_consumer_lag_is_what_jetstream_holds_for_the_durable_consumer(database_url: str, jetstream_url: str) -> None:
    async with running_service(definition, database_url=database_url, nats_url=jetstream_url, relay=False, consume=False) as svc:
        consumer = svc.runtime.consumer
        [sub] = [s for s in consumer.subscriptions if s.subject == SUBJECT]
        durable = consumer.durable(sub)
        psub = await consumer._subscribe(sub)  # the durable consumer exists; nothing is fetched
        try:
            for i in range(3):
                await write_note(svc.db, "co_1", f"lag{i}", f"lag{i}")
            await svc.runtime.relay.drain()
            await consumer.refresh_gauges()
            assert sample("ten99_consumer_pending", service="demo", consumer=durable) == 3
            assert sample("ten99_consumer_ack_pending", service="demo", consumer=durable) == 0

            [delivered] = await psub.fetch(1, timeout=5)  # delivered, not acked
            await consumer.refresh_gauges()
            assert sample("ten99_consumer_pending", service="demo", consumer=durable) == 2
            assert sample("ten99_consumer_ack_pending", service="demo", consumer=durable) == 1
            await delivered.ack_sync()
        finally:
            await psub.unsubscribe()


async def test_the_lag_gauges_keep_their_values_and_the_dead_letter_gauge_refreshes_while_nats_is_away(
    database_url: str, jetstream_url: str
) -> None:
    async with running_service(definition, database_url=database_url, nats_url=jetstream_url, consume=False) as svc:
        await svc.runtime.bus.close()
        await svc.runtime.consumer.refresh_gauges()  # no error: the table is still read
        assert sample("ten99_dead_letters_waiting", service="demo") == 0


async def test_a_worker_process_reports_waiting_dead_letters_until_they_are_replayed(
    database_url: str, jetstream_url: str
) -> None:
    Behaviour.fail_names["poison"] = 6  # fails every delivery, then would succeed on a replay
    async with running_service(definition, database_url=database_url, nats_url=jetstream_url, relay=False, consume=False) as svc:
        consumer = svc.runtime.consumer
        consumer.gauge_interval_s = 0.05  # the worker's own refresh loop, only faster
        await consumer.refresh_gauges()
        assert sample("ten99_dead_letters_waiting", service="demo") == 0
        running = svc.runtime.stop
        task = asyncio.create_task(consumer.run(running))
        try:
            await write_note(svc.db, "co_1", "poison", "poison")
            await svc.runtime.relay.drain()
            await wait_until(lambda: sample("ten99_dead_letters_waiting", service="demo") == 1, what="one dead letter reported")
            [letter] = await consumer.dead_letters()
            assert await consumer.replay(letter.id)
            await wait_until(lambda: sample("ten99_dead_letters_waiting", service="demo") == 0, what="none after the replay")
        finally:
            running.set()
            await asyncio.gather(task, return_exceptions=True)


async def test_outbox_backlog_and_the_age_of_the_oldest_unsent_row(database_url: str, jetstream_url: str) -> None:
    clock = SettableClock()
    async with running_service(
        definition, database_url=database_url, nats_url=jetstream_url, clock=clock, relay=False, consume=False
    ) as svc:
        relay = svc.runtime.relay
        await relay.refresh_gauges()
        assert sample("ten99_outbox_backlog", service="demo") == 0
        assert sample("ten99_outbox_oldest_unsent_age_seconds", service="demo") == 0

        await write_note(svc.db, "co_1", "old", "old")
        clock.advance(timedelta(seconds=90))
        await write_note(svc.db, "co_1", "new", "new")
        await relay.refresh_gauges()
        assert sample("ten99_outbox_backlog", service="demo") == 2
        assert sample("ten99_outbox_oldest_unsent_age_seconds", service="demo") == pytest.approx(90, abs=5)

        # the relay's own loop refreshes them: once everything is out, both are back at zero
        relay.gauge_interval_s = 0.05
        stop = svc.runtime.stop
        task = asyncio.create_task(relay.run(stop))
        try:
            await wait_until(
                lambda: (
                    sample("ten99_outbox_backlog", service="demo"),
                    sample("ten99_outbox_oldest_unsent_age_seconds", service="demo"),
                ),
                satisfies=lambda values: values == (0, 0),
                what="an empty backlog reported",
            )
        finally:
            stop.set()
            await asyncio.gather(task, return_exceptions=True)
        async with await nats.connect(jetstream_url) as nc:
            assert (await nc.jetstream().stream_info("TEN99_GATEWAY")).state.messages == 2
