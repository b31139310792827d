"""The kit's guarantees, proven against a real PostgreSQL and a real NATS JetStream server."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC
from typing import Any

import msgspec
import nats
import pytest
from demo import Behaviour, applied, definition, notes, write_note
from prometheus_client import REGISTRY
from sqlalchemy import func, select, update
from ten99_contracts import Envelope
from ten99_contracts.gateway_v1 import CompanyCreatedV1
from ten99_testing import WaitTimeout, quiescent, wait_until
from ten99_testing.service import build_settings, running_service
from ten99kit import Subscription
from ten99kit.migrations import schema_drift, upgrade
from ten99kit.runtime import Runtime

pytestmark = pytest.mark.integration

SUBJECT = CompanyCreatedV1.SUBJECT


@pytest.fixture(autouse=True)
def reset_behaviour() -> None:
    Behaviour.fail_names.clear()
    Behaviour.seen.clear()


async def count(db: Any, table: Any) -> int:
    async with db.session() as s:
        return (await s.execute(select(func.count()).select_from(table))).scalar_one()


async def stream_subjects_and_ids(nats_url: str, stream: str = "TEN99_GATEWAY") -> list[str]:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        out = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(stream, seq)
            out.append(msgspec.json.decode(msg.data)["data"]["name"])
        return out
    finally:
        await nc.close()


async def test_migrations_match_the_models(database_url: str) -> None:
    await asyncio.to_thread(upgrade, definition.migrations, database_url)
    assert await schema_drift(database_url, definition.metadata) == []


async def test_outbox_row_commits_with_the_state_change_and_a_rollback_leaves_neither(
    database_url: str, jetstream_url: str
) -> None:
    async with running_service(definition, database_url=database_url, nats_url=jetstream_url, relay=False, consume=False) as svc:
        outbox = svc.db.outbox_table
        await write_note(svc.db, "co_1", "n1", "kept")
        assert await count(svc.db, notes) == 1 and await count(svc.db, outbox) == 1
        with pytest.raises(RuntimeError):
            await write_note(svc.db, "co_1", "n2", "lost", fail_after_emit=True)
        assert await count(svc.db, notes) == 1 and await count(svc.db, outbox) == 1


async def test_relay_publishes_in_order_and_a_republish_is_deduplicated(database_url: str, jetstream_url: str) -> None:
    async with running_service(definition, database_url=database_url, nats_url=jetstream_url, relay=False, consume=False) as svc:
        names = [f"n{i:03d}" for i in range(120)]
        for name in names:
            await write_note(svc.db, "co_1", name, name)
        assert await svc.runtime.relay.drain() == 120
        assert await stream_subjects_and_ids(jetstream_url) == names
        # as if the relay had never marked them sent: everything goes out again
        async with svc.db.engine.begin() as conn:
            await conn.execute(update(svc.db.outbox_table).values(sent_at=None))
        assert await svc.runtime.relay.drain() == 120
        assert await stream_subjects_and_ids(jetstream_url) == names  # JetStream dropped the copies


async def test_a_relay_killed_between_publish_and_mark_sent_still_has_one_effect(database_url: str, jetstream_url: str) -> None:
    async with running_service(definition, database_url=database_url, nats_url=jetstream_url, relay=False) as svc:
        for i in range(10):
            await write_note(svc.db, "co_1", f"k{i}", f"k{i}")

        relay = svc.runtime.relay
        assert await relay.publish_batch() == 10
        # the process dies before the marks go out with its next read: its session ends
        await relay._resign()
        async with svc.db.session() as s:
            unsent = select(func.count()).select_from(svc.db.outbox_table).where(svc.db.outbox_table.c.sent_at.is_(None))
            assert (await s.execute(unsent)).scalar_one() == 10
        # nothing was marked, so the restarted relay publishes all ten again
        assert await relay.drain() == 10
        async with svc.db.session() as s:
            assert (await s.execute(unsent)).scalar_one() == 0  # drain's last read marked them
        await quiescent(svc)
        assert await count(svc.db, applied) == 10
        assert len(await stream_subjects_and_ids(jetstream_url)) == 10


async def unsent(svc: Any) -> int:
    outbox = svc.db.outbox_table
    return await count_where(svc.db, outbox, outbox.c.sent_at.is_(None))


async def count_where(db: Any, table: Any, condition: Any) -> int:
    async with db.session() as s:
        return (await s.execute(select(func.count()).select_from(table).where(condition))).scalar_one()


async def publish_raw(nats_url: str, payload: bytes, msg_id: str | None = None) -> None:
    nc = await nats.connect(nats_url)
    try:
        headers = {"Nats-Msg-Id": msg_id} if msg_id else None
        await nc.jetstream().publish(SUBJECT, payload, headers=headers)
    finally:
        await nc.close()


def envelope(name: str) -> bytes:
    from datetime import datetime

    env = Envelope(
        id=str(uuid.uuid4()),
        subject=SUBJECT,
        occurred_at=datetime.now(UTC),
        tenant_id="co_1",
        aggregate_id=name,
        data=CompanyCreatedV1(company_id=name, name=name, owner_email="o@example.com"),
    )
    return msgspec.json.encode(env)


async def test_a_redelivered_message_is_applied_once(database_url: str, jetstream_url: str) -> None:
    async with running_service(definition, database_url=database_url, nats_url=jetstream_url) as svc:
        raw = envelope("twice")
        # beyond JetStream's duplicate window a copy reaches the stream; the inbox drops it
        await publish_raw(jetstream_url, raw, msg_id="a")
        await wait_until(lambda: count(svc.db, applied), satisfies=lambda n: n >= 1)
        await publish_raw(jetstream_url, raw, msg_id="b")
        await wait_until(lambda: _acked(jetstream_url, svc.runtime.consumer.durable(svc.runtime.consumer.subscriptions[0]), 2))
        assert await count(svc.db, applied) == 1
        assert Behaviour.seen == ["twice"]


class _FakeMsg:
    """What the consumer uses of a JetStream message, for driving ``process`` directly."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.headers = None
        self.acked = 0

    async def ack(self) -> None:
        self.acked += 1


async def test_a_batch_mixing_seen_and_new_messages_applies_each_new_one_once(database_url: str, jetstream_url: str) -> None:
    async with running_service(definition, database_url=database_url, nats_url=jetstream_url, relay=False) as svc:
        consumer = svc.runtime.consumer
        sub = consumer.subscriptions[0]
        first = [envelope(f"b{i}") for i in range(3)]
        await consumer.process(sub, [_FakeMsg(raw) for raw in first])
        assert await count(svc.db, applied) == 3
        # the same three again (one twice in the batch) and two new ones, in one batch
        again = [_FakeMsg(raw) for raw in [*first, first[0], envelope("b3"), envelope("b4")]]
        await consumer.process(sub, again)
        assert await count(svc.db, applied) == 5
        assert sorted(Behaviour.seen) == ["b0", "b1", "b2", "b3", "b4"]
        assert all(m.acked == 1 for m in again)


async def test_a_lingering_subscription_gathers_messages_into_one_transaction(database_url: str, jetstream_url: str) -> None:
    async with running_service(definition, database_url=database_url, nats_url=jetstream_url, relay=False, consume=False) as svc:
        consumer = svc.runtime.consumer
        base = consumer.subscriptions[0]
        batches: list[list[str]] = []
        process = consumer.process

        async def recording(sub: Any, msgs: Any) -> None:
            batches.append([msgspec.json.decode(m.data)["data"]["name"] for m in msgs])
            await process(sub, msgs)

        consumer.process = recording  # type: ignore[method-assign]
        gather_more = consumer._gather_more
        lingering_since = asyncio.Event()

        async def noting_the_linger(psub: Any, sub: Subscription, room: int) -> list[Any]:
            lingering_since.set()
            return await gather_more(psub, sub, room)

        consumer._gather_more = noting_the_linger  # type: ignore[method-assign]
        stop = asyncio.Event()
        lingering = Subscription(base.subject, base.handler, linger_s=1.0)
        task = asyncio.create_task(consumer._run_one(lingering, stop))
        # the loop creates its durable consumer: until then JetStream does not know it
        await quiescent(svc, outboxes=False)
        nc = await nats.connect(jetstream_url)
        try:
            js = nc.jetstream()
            await js.publish(SUBJECT, envelope("linger0"))
            await wait_until(lingering_since.is_set, what="the first message fetched and lingering")
            for i in range(1, 5):
                await js.publish(SUBJECT, envelope(f"linger{i}"))
        finally:
            await nc.close()
        await wait_until(lambda: len(Behaviour.seen), satisfies=lambda n: n >= 5)
        stop.set()
        await task
        # the four published while the first lingered are applied with it, in one transaction
        assert batches == [[f"linger{i}" for i in range(5)]]
        assert await count(svc.db, applied) == 5


async def test_a_named_subscription_reacts_to_the_same_subject_at_its_own_pace(database_url: str, jetstream_url: str) -> None:
    """Two reactions of one service to one subject: each its own durable consumer and inbox
    entries, each applies every message once, and one that is stuck holds up nothing of the other."""
    async with running_service(definition, database_url=database_url, nats_url=jetstream_url, relay=False, consume=False) as svc:
        consumer = svc.runtime.consumer
        first = consumer.subscriptions[0]
        released = asyncio.Event()
        second_saw: list[str] = []

        async def slow_second(uow: Any, env: Any) -> None:
            await released.wait()
            second_saw.append(env.data.name)

        second = Subscription(first.subject, slow_second, name="second")
        labels = {"service": svc.db.service, "subject": SUBJECT, "consumer": consumer.durable(second)}
        applied_before = REGISTRY.get_sample_value("ten99_inbox_applied_total", labels) or 0.0
        assert consumer.durable(second) == f"{consumer.durable(first).split('__')[0]}__second__{SUBJECT.replace('.', '_')}"
        stop = asyncio.Event()
        tasks = [asyncio.create_task(consumer._run_one(sub, stop)) for sub in (first, second)]
        await quiescent(svc, outboxes=False)  # both durable consumers exist
        nc = await nats.connect(jetstream_url)
        try:
            for i in range(3):
                await nc.jetstream().publish(SUBJECT, envelope(f"named{i}"))
        finally:
            await nc.close()
        # the first reaction applies all three while the second is stuck on its first message
        await wait_until(lambda: sorted(Behaviour.seen), satisfies=lambda seen: seen == ["named0", "named1", "named2"])
        assert second_saw == []
        released.set()
        await wait_until(lambda: sorted(second_saw), satisfies=lambda seen: seen == ["named0", "named1", "named2"])
        stop.set()
        await asyncio.gather(*tasks)
        assert await count(svc.db, applied) == 3  # the first reaction's writes, once each
        async with svc.db.session() as s:
            keys = (await s.execute(select(consumer.inbox.c.consumer, func.count()).group_by(consumer.inbox.c.consumer))).all()
        assert dict(keys) == {consumer.durable(first): 3, consumer.durable(second): 3}
        assert REGISTRY.get_sample_value("ten99_inbox_applied_total", labels) == applied_before + 3  # counted per consumer


async def _acked(nats_url: str, durable: str, stream_seq: int) -> bool:
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().consumer_info("TEN99_GATEWAY", durable)
        return info.ack_floor.stream_seq >= stream_seq
    finally:
        await nc.close()


async def test_a_failing_reaction_is_retried_with_backoff_then_applied(database_url: str, jetstream_url: str) -> None:
    Behaviour.fail_names["flaky"] = 2
    async with running_service(definition, database_url=database_url, nats_url=jetstream_url) as svc:
        await write_note(svc.db, "co_1", "f1", "flaky")
        await wait_until(lambda: count(svc.db, applied), satisfies=lambda n: n >= 1)
        assert Behaviour.seen.count("flaky") == 3
        assert svc.runtime.consumer.dead_letters and await svc.runtime.consumer.dead_letters() == []


async def test_a_message_that_keeps_failing_is_dead_lettered_and_a_replay_applies_it(
    database_url: str, jetstream_url: str
) -> None:
    Behaviour.fail_names["bad"] = -1
    async with running_service(definition, database_url=database_url, nats_url=jetstream_url, nats={"max_deliver": 3}) as svc:
        for name in ("good1", "bad", "good2"):
            await write_note(svc.db, "co_1", name, name)

        async def dead() -> bool:
            return len(await svc.runtime.consumer.dead_letters()) == 1

        await wait_until(dead)
        [letter] = await svc.runtime.consumer.dead_letters()
        assert letter.deliveries == 3 and "refusing bad" in letter.error
        assert Behaviour.seen.count("bad") >= 3  # once more when its first batch was isolated
        async with svc.db.session() as s:
            assert set((await s.execute(select(applied.c.name))).scalars()) == {"good1", "good2"}
        # the operator fixes the cause and replays: applied once, and a second replay changes nothing
        Behaviour.fail_names.clear()
        r = await svc.ops.post(f"/_ops/dead-letters/{letter.id}/replay")
        assert r.status_code == 200 and r.json()["applied"] is True
        assert await svc.runtime.consumer.replay(letter.id) is False
        assert await count(svc.db, applied) == 3
        assert await svc.runtime.consumer.dead_letters() == []


async def test_a_poison_message_is_dead_lettered_at_once(database_url: str, jetstream_url: str) -> None:
    async with running_service(definition, database_url=database_url, nats_url=jetstream_url) as svc:
        await publish_raw(jetstream_url, b"{definitely not an envelope", msg_id="poison")
        await write_note(svc.db, "co_1", "after", "after")

        async def dead() -> bool:
            return len(await svc.runtime.consumer.dead_letters()) == 1

        await wait_until(dead)
        [letter] = await svc.runtime.consumer.dead_letters()
        assert letter.deliveries == 1 and letter.error.startswith("undecodable")
        await wait_until(lambda: count(svc.db, applied), satisfies=lambda n: n >= 1)


async def test_one_failing_message_does_not_hold_up_its_batch(database_url: str, jetstream_url: str) -> None:
    Behaviour.fail_names["m25"] = -1
    async with running_service(
        definition, database_url=database_url, nats_url=jetstream_url, relay=False, nats={"max_deliver": 2}
    ) as svc:
        for i in range(50):
            await write_note(svc.db, "co_1", f"m{i}", f"m{i}")
        await svc.runtime.relay.drain()
        await wait_until(lambda: count(svc.db, applied), satisfies=lambda n: n >= 49)

        async def dead() -> bool:
            return len(await svc.runtime.consumer.dead_letters()) == 1

        await wait_until(dead)
        assert await count(svc.db, applied) == 49


async def _diagnosis(svc: Any, nats_url: str) -> str:
    async with svc.db.session() as s:
        unsent = (
            await s.execute(select(func.count()).select_from(svc.db.outbox_table).where(svc.db.outbox_table.c.sent_at.is_(None)))
        ).scalar_one()
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        info = await js.stream_info("TEN99_GATEWAY")
        consumers = [(c.name, c.num_pending, c.num_ack_pending, c.num_waiting) for c in await js.consumers_info("TEN99_GATEWAY")]
    finally:
        await nc.close()
    return (
        f"applied {await count(svc.db, applied)}, outbox unsent {unsent}, stream messages {info.state.messages}, "
        f"consumers (name, pending, ack pending, waiting pulls) {consumers}"
    )


async def test_relay_and_consumer_recover_when_nats_restarts(database_url: str, private_nats: Any) -> None:
    async with running_service(definition, database_url=database_url, nats_url=private_nats.url) as svc:
        for i in range(100):
            await write_note(svc.db, "co_1", f"a{i}", f"a{i}")
        await wait_until(lambda: count(svc.db, applied), satisfies=lambda n: n >= 100)
        private_nats.stop()
        await wait_until(lambda: not svc.runtime.bus.is_connected, what="the service to see NATS gone")
        # written while NATS is down: kept in the outbox
        for i in range(100):
            await write_note(svc.db, "co_1", f"b{i}", f"b{i}")
        assert await unsent(svc) == 100
        private_nats.start()
        # messages the server handed to a pull request that died with the connection are redelivered
        # once their ack wait (30 s) runs out: recovery takes up to that long, never loses anything
        try:
            await wait_until(
                lambda: count(svc.db, applied), satisfies=lambda n: n >= 200, timeout=svc.runtime.settings.nats.ack_wait_s + 15
            )
        except WaitTimeout as e:
            raise AssertionError(f"{e}\n{await _diagnosis(svc, private_nats.url)}") from None
        for i in range(100):
            await write_note(svc.db, "co_1", f"c{i}", f"c{i}")
        await wait_until(lambda: count(svc.db, applied), satisfies=lambda n: n >= 300, timeout=30)
        await quiescent(svc)
        assert await count(svc.db, applied) == 300
        assert await unsent(svc) == 0


async def test_several_relays_on_postgres_publish_each_row_once_and_in_order(database_url: str, jetstream_url: str) -> None:
    async with running_service(definition, database_url=database_url, nats_url=jetstream_url, relay=False, consume=False) as svc:
        others = [Runtime(definition, build_settings(definition, database_url, jetstream_url)) for _ in range(2)]
        for r in others:
            await r.start()
        stop = asyncio.Event()
        relays = [asyncio.create_task(r.relay.run(stop)) for r in others]
        names = [f"r{i:03d}" for i in range(300)]
        for name in names:
            await write_note(svc.db, "co_1", name, name)

        await wait_until(lambda: unsent(svc), satisfies=lambda n: n == 0, what="every row sent")
        stop.set()
        await asyncio.gather(*relays)
        for r in others:
            await r.close()
        assert await stream_subjects_and_ids(jetstream_url) == names


async def test_a_message_too_large_for_nats_fails_its_own_transaction(database_url: str, jetstream_url: str) -> None:
    from ten99kit.uow import MessageTooLarge

    async with running_service(definition, database_url=database_url, nats_url=jetstream_url, consume=False) as svc:
        with pytest.raises(MessageTooLarge):
            async with svc.db.uow() as uow:
                await uow.session.execute(notes.insert().values(id="big", tenant_id="co_1", text="big"))
                uow.emit(
                    CompanyCreatedV1(company_id="c", name="x" * 1024 * 1024, owner_email="o@e.com"),
                    tenant_id="co_1",
                    aggregate_id="c",
                )
                await uow.commit()
        assert await count(svc.db, notes) == 0 and await count(svc.db, svc.db.outbox_table) == 0
        # and the relay is not blocked for what follows
        await write_note(svc.db, "co_1", "small", "small")
        await wait_until(lambda: unsent(svc), satisfies=lambda n: n == 0, what="the relay to publish the small one")
        assert await stream_subjects_and_ids(jetstream_url) == ["small"]


async def test_a_table_filled_in_seconds_is_analysed_without_waiting_for_autovacuum(
    database_url: str, jetstream_url: str
) -> None:
    from sqlalchemy import text
    from ten99kit.settings import DatabaseSettings
    from ten99kit.statistics import StatisticsKeeper

    async with running_service(definition, database_url=database_url, nats_url=jetstream_url, relay=False, consume=False) as svc:
        keeper = StatisticsKeeper(svc.db.engine, DatabaseSettings(analyze_min_changes=200, analyze_fraction=0.2))
        assert keeper.enabled
        async with svc.db.engine.begin() as conn:
            await conn.execute(notes.insert(), [{"id": f"s{i}", "tenant_id": "co_1", "text": "x"} for i in range(1000)])

        async def analysed() -> bool:
            return "notes" in await keeper.analyze_stale()

        await wait_until(analysed)  # the server publishes its change counters within a second or so
        async with svc.db.engine.connect() as conn:
            reltuples = (await conn.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'notes'"))).scalar_one()
        assert reltuples == 1000
        assert "notes" not in await keeper.analyze_stale()  # nothing changed since
