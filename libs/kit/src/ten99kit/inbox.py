"""The idempotent inbox: durable pull consumers that apply each message once.

For each (service, subject) there is one durable JetStream consumer (and one more for each named
`Subscription`: a second reaction at its own pace, such as notification's audit ledger). A fetched
batch is applied in one transaction: the envelope ids go into the ``inbox`` table (the primary key
drops a redelivered copy) together with whatever the handlers write and emit; messages are acked only
after that transaction commits. If anything in a batch fails, the batch is rolled back and
applied again one message per transaction, so that one bad message cannot hold up the rest:
the failing one is nak'ed with a growing delay, and after the last delivery it moves to the
``dead_letters`` table, from where an operator lists and replays it. A message that cannot be
decoded is dead-lettered at once.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import msgspec
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from prometheus_client import Counter
from sqlalchemy import Column, Integer, LargeBinary, MetaData, String, Table, Text, func, select, update
from ten99_contracts import Envelope, decode_envelope, stream_for_subject

from .bus import Bus
from .db import BigIntPK, Database, JSONDoc, UtcDateTime, insert_ignore
from .logging import actor, bind_correlation, causation_id, get_logger
from .metrics import CONSUMER_ACK_PENDING, CONSUMER_PENDING, DEAD_LETTERS_WAITING, REFRESH_INTERVAL_S, gauge_worker
from .settings import NatsSettings
from .uow import UnitOfWork
from .workers import Backoff, wait_first

__all__ = ["DeadLetter", "Handler", "InboxConsumer", "Subscription", "durable_name", "inbox_tables"]

log = get_logger(__name__)

#: ``consumer`` is the durable name: a named `Subscription` counts apart from the first of its subject
APPLIED = Counter("ten99_inbox_applied_total", "Messages applied by a consumer", ["service", "subject", "consumer"])
DUPLICATES = Counter(
    "ten99_inbox_duplicates_total", "Redelivered messages dropped by the inbox", ["service", "subject", "consumer"]
)
FAILED = Counter(
    "ten99_inbox_failures_total", "Handler failures (each is retried or dead-lettered)", ["service", "subject", "consumer"]
)
DEAD = Counter("ten99_dead_letters_total", "Messages moved to the dead-letter table", ["service", "subject", "consumer"])

Handler = Callable[[UnitOfWork, Envelope[Any]], Awaitable[None]]


@dataclass(frozen=True)
class Subscription:
    """React to ``subject`` with ``handler(uow, envelope)``. The handler writes through ``uow``
    and must not commit: the consumer commits, then acks."""

    subject: str
    handler: Handler
    #: messages applied per transaction; 1 for handlers that must not share a transaction
    batch: int | None = None
    #: seconds to let more messages gather when a fetch did not fill the batch: fewer, larger
    #: transactions (each has a fixed cost) for consumers no one waits on, such as read models
    linger_s: float = 0.0
    #: a second reaction of the service to the same subject at its own pace: its own durable
    #: consumer (``<service>__<name>__<subject>``), inbox entries and retries, so that it neither
    #: waits for nor holds up the service's other reaction to the subject ("" for the first)
    name: str = ""


def durable_name(service: str, subject: str, name: str = "") -> str:
    """The durable consumer of ``service`` for ``subject``: ``<service>__<subject>``, or
    ``<service>__<name>__<subject>`` for a named `Subscription` (dots become underscores)."""
    return f"{service}__{name + '__' if name else ''}{subject.replace('.', '_')}"


def inbox_tables(metadata: MetaData) -> tuple[Table, Table]:
    inbox = Table(
        "inbox",
        metadata,
        Column("consumer", String(200), primary_key=True),
        Column("message_id", String(64), primary_key=True),
        Column("received_at", UtcDateTime, nullable=False),
    )
    dead = Table(
        "dead_letters",
        metadata,
        Column("id", BigIntPK, primary_key=True, autoincrement=True),
        Column("consumer", String(200), nullable=False),
        Column("subject", String(200), nullable=False),
        Column("message_id", String(64), nullable=True),
        Column("payload", LargeBinary, nullable=False),
        Column("headers", JSONDoc, nullable=True),
        Column("error", Text, nullable=False),
        Column("deliveries", Integer, nullable=False),
        Column("created_at", UtcDateTime, nullable=False),
        Column("replayed_at", UtcDateTime, nullable=True),
    )
    return inbox, dead


@dataclass
class DeadLetter:
    id: int
    consumer: str
    subject: str
    message_id: str | None
    error: str
    deliveries: int
    created_at: Any
    replayed_at: Any
    payload: bytes = field(repr=False)


@dataclass
class _Decoded:
    msg: Any
    envelope: Envelope[Any]


class InboxConsumer:
    def __init__(
        self,
        db: Database,
        bus: Bus,
        settings: NatsSettings,
        subscriptions: Sequence[Subscription],
        inbox: Table,
        dead_letters: Table,
    ) -> None:
        self.db = db
        self.bus = bus
        self.settings = settings
        self.subscriptions = list(subscriptions)
        self.inbox = inbox
        self.dead = dead_letters
        self._by_durable = {self.durable(s): s for s in self.subscriptions}
        self._resubscribe: set[str] = set()
        #: seconds between refreshes of this part's gauges (`ten99kit.metrics`)
        self.gauge_interval_s = REFRESH_INTERVAL_S
        bus.on_reconnect(self._on_reconnect)

    def durable(self, sub: Subscription) -> str:
        """The JetStream durable consumer (and inbox consumer key) of ``sub``."""
        return durable_name(self.db.service, sub.subject, sub.name)

    def _on_reconnect(self) -> None:
        # pull subscriptions may not resume after a server restart: make every loop renew its own
        self._resubscribe.update(self._by_durable)

    def consumer_config(self, sub: Subscription) -> ConsumerConfig:
        durable = self.durable(sub)
        return ConsumerConfig(
            name=durable,
            durable_name=durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            filter_subject=sub.subject,
            ack_wait=self.settings.ack_wait_s,
            # the consumer dead-letters at `max_deliver`; the server's limit is a safety margin above it
            max_deliver=self.settings.max_deliver + 2,
            max_ack_pending=max(1000, self.settings.fetch_batch * 4),
        )

    async def _subscribe(self, sub: Subscription) -> Any:
        stream = stream_for_subject(sub.subject).name
        config = self.consumer_config(sub)
        await self.bus.js.add_consumer(stream, config=config)  # create or update
        return await self.bus.js.pull_subscribe_bind(durable=config.durable_name, stream=stream)

    # -- running ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        tasks = [asyncio.create_task(self._run_one(s, stop), name=f"consume {self.durable(s)}") for s in self.subscriptions]
        if self.subscriptions:
            gauges = gauge_worker("inbox.gauges", self.refresh_gauges, self.gauge_interval_s)
            tasks.append(asyncio.create_task(gauges.run(stop), name="inbox gauges"))
        try:
            await stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _run_one(self, sub: Subscription, stop: asyncio.Event) -> None:
        backoff = Backoff(0.1, 2.0)
        batch = sub.batch or self.settings.fetch_batch
        durable = self.durable(sub)
        while not stop.is_set():
            psub = None
            try:
                psub = await self._subscribe(sub)
                self._resubscribe.discard(durable)
                backoff.reset()
                idle = 0
                while not stop.is_set() and durable not in self._resubscribe:
                    try:
                        msgs = await psub.fetch(batch, timeout=self.settings.fetch_timeout_s)
                    except TimeoutError:
                        msgs = []
                    if not msgs:
                        idle += 1
                        if idle % 30 == 0 and await self._stalled(sub):
                            break
                        continue
                    idle = 0
                    if sub.linger_s and len(msgs) < batch:
                        msgs = [*msgs, *await self._gather_more(psub, sub, batch - len(msgs))]
                    await self.process(sub, msgs)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                retry_in = backoff.next()
                log.warning("inbox.consumer_error", consumer=durable, error=repr(e), retry_in_s=retry_in)
                await wait_first(stop, timeout=retry_in)
            finally:
                if psub is not None:
                    try:
                        await psub.unsubscribe()
                    except Exception:
                        pass

    async def _gather_more(self, psub: Any, sub: Subscription, room: int) -> list[Any]:
        """What arrived during ``sub.linger_s``. JetStream says how many wait; exactly that many are
        fetched, and the fetch returns as soon as they are in. (A blind fetch waits out its timeout
        when fewer than ``room`` came, so it had to be short, and on a busy machine a 10 ms fetch
        left most of what the server had already sent for the next batch.)"""
        await asyncio.sleep(sub.linger_s)
        try:
            info = await self.bus.js.consumer_info(stream_for_subject(sub.subject).name, self.durable(sub))
        except Exception:
            return []
        waiting = min(room, int(info.num_pending or 0))
        if not waiting:
            return []
        try:
            return list(await psub.fetch(waiting, timeout=self.settings.fetch_timeout_s))
        except TimeoutError:
            return []

    async def _stalled(self, sub: Subscription) -> bool:
        """True if the server holds messages for us that our subscription does not deliver."""
        try:
            info = await self.bus.js.consumer_info(stream_for_subject(sub.subject).name, self.durable(sub))
        except Exception:
            return True
        return bool(info.num_pending) and not info.num_ack_pending

    # -- gauges ----------------------------------------------------------------------------

    async def refresh_gauges(self) -> None:
        """Set the dead-letter gauge from the table and the lag gauges from JetStream's consumer
        info (`ten99kit.metrics`). While NATS is away the lag gauges keep their last values."""
        async with self.db.session() as s:
            waiting = (
                await s.execute(select(func.count()).select_from(self.dead).where(self.dead.c.replayed_at.is_(None)))
            ).scalar_one()
        DEAD_LETTERS_WAITING.labels(self.db.service).set(waiting)
        if not self.bus.is_connected:
            return
        for sub in self.subscriptions:
            durable = self.durable(sub)
            try:
                info = await self.bus.js.consumer_info(stream_for_subject(sub.subject).name, durable)
            except NotFoundError:  # not subscribed yet
                continue
            CONSUMER_PENDING.labels(self.db.service, durable).set(info.num_pending or 0)
            CONSUMER_ACK_PENDING.labels(self.db.service, durable).set(info.num_ack_pending or 0)

    # -- applying --------------------------------------------------------------------------

    async def process(self, sub: Subscription, msgs: Sequence[Any]) -> None:
        consumer = self.durable(sub)
        decoded: list[_Decoded] = []
        for msg in msgs:
            try:
                decoded.append(_Decoded(msg, decode_envelope(msg.data, sub.subject)))
            except (msgspec.DecodeError, msgspec.ValidationError, KeyError) as e:
                await self._dead_letter(consumer, sub.subject, msg, f"undecodable: {e}")
                await msg.ack()
        if not decoded:
            return
        if len(decoded) > 1:
            try:
                await self._apply_batch(sub, consumer, decoded)
            except Exception as e:
                log.info("inbox.batch_failed_isolating", subject=sub.subject, size=len(decoded), error=repr(e))
            else:
                for d in decoded:
                    await d.msg.ack()
                return
        for d in decoded:
            await self._apply_one(sub, consumer, d)

    async def _apply_batch(self, sub: Subscription, consumer: str, decoded: list[_Decoded]) -> None:
        unique: dict[str, _Decoded] = {}
        for d in decoded:
            unique.setdefault(d.envelope.id, d)
        async with self.db.uow() as uow:
            now = self.db.clock.now()
            # one statement records the batch in the inbox and tells which ids are new (an
            # executemany with RETURNING: SQLAlchemy sends it as one INSERT, compiled once per
            # process; a multi-row VALUES would be compiled again for every batch)
            inserted = set(
                (
                    await uow.session.execute(
                        self._record_batch,
                        [{"consumer": consumer, "message_id": i, "received_at": now} for i in unique],
                    )
                ).scalars()
            )
            fresh = {i: d for i, d in unique.items() if i in inserted}
            for d in fresh.values():
                await self._call(sub, uow, d.envelope)
            await uow.commit()
        APPLIED.labels(self.db.service, sub.subject, consumer).inc(len(fresh))
        DUPLICATES.labels(self.db.service, sub.subject, consumer).inc(len(decoded) - len(fresh))

    @cached_property
    def _record_one(self) -> Any:
        """Records a message in the inbox unless it is there (built once per consumer)."""
        return insert_ignore(self.inbox, self.db.dialect)

    @cached_property
    def _record_batch(self) -> Any:
        """`_record_one` for many, telling which were new."""
        return insert_ignore(self.inbox, self.db.dialect).returning(self.inbox.c.message_id)

    async def _call(self, sub: Subscription, uow: UnitOfWork, envelope: Envelope[Any]) -> None:
        bind_correlation(envelope.correlation_id)
        token = causation_id.set(envelope.id)
        requester = actor.set(envelope.actor)  # a reaction acts for whoever asked for the change
        try:
            await sub.handler(uow, envelope)
        finally:
            actor.reset(requester)
            causation_id.reset(token)

    async def apply(self, sub: Subscription, consumer: str, envelope: Envelope[Any]) -> bool:
        """Apply one envelope in its own transaction. False if the inbox already had it."""
        async with self.db.uow() as uow:
            inserted = await uow.session.execute(
                self._record_one, {"consumer": consumer, "message_id": envelope.id, "received_at": self.db.clock.now()}
            )
            if not inserted.rowcount:  # type: ignore[attr-defined]
                return False
            await self._call(sub, uow, envelope)
            await uow.commit()
        return True

    async def _apply_one(self, sub: Subscription, consumer: str, d: _Decoded) -> None:
        try:
            applied = await self.apply(sub, consumer, d.envelope)
        except Exception as e:
            FAILED.labels(self.db.service, sub.subject, consumer).inc()
            deliveries = d.msg.metadata.num_delivered
            if deliveries >= self.settings.max_deliver:
                await self._dead_letter(consumer, sub.subject, d.msg, _describe(e))
                await d.msg.ack()
                return
            steps = self.settings.backoff_s
            delay = steps[min(deliveries - 1, len(steps) - 1)]
            log.warning(
                "inbox.handler_failed",
                subject=sub.subject,
                message_id=d.envelope.id,
                delivery=deliveries,
                retry_in_s=delay,
                error=repr(e),
            )
            await d.msg.nak(delay=delay)
            return
        (APPLIED if applied else DUPLICATES).labels(self.db.service, sub.subject, consumer).inc()
        await d.msg.ack()

    async def _dead_letter(self, consumer: str, subject: str, msg: Any, error: str) -> None:
        headers = dict(msg.headers or {})
        try:
            deliveries = msg.metadata.num_delivered
        except Exception:
            deliveries = 1
        async with self.db.uow() as uow:
            await uow.session.execute(
                self.dead.insert().values(
                    consumer=consumer,
                    subject=subject,
                    message_id=headers.get("Nats-Msg-Id"),
                    payload=msg.data,
                    headers=headers,
                    error=error[:4000],
                    deliveries=deliveries,
                    created_at=self.db.clock.now(),
                )
            )
            await uow.commit()
        DEAD.labels(self.db.service, subject, consumer).inc()
        log.error("inbox.dead_lettered", subject=subject, message_id=headers.get("Nats-Msg-Id"), error=error[:500])

    # -- operators -------------------------------------------------------------------------

    async def dead_letters(self, include_replayed: bool = False) -> list[DeadLetter]:
        q = select(self.dead).order_by(self.dead.c.id)
        if not include_replayed:
            q = q.where(self.dead.c.replayed_at.is_(None))
        async with self.db.session() as s:
            rows = (await s.execute(q)).mappings().all()
        return [DeadLetter(**{k: r[k] for k in DeadLetter.__dataclass_fields__}) for r in rows]

    async def replay(self, dead_letter_id: int) -> bool:
        """Apply a dead letter again (after the cause was fixed). True if it took effect now."""
        async with self.db.session() as s:
            row = (await s.execute(select(self.dead).where(self.dead.c.id == dead_letter_id))).mappings().first()
        if row is None:
            raise LookupError(f"no dead letter {dead_letter_id}")
        if row["replayed_at"] is not None:
            return False
        sub = self._by_durable.get(row["consumer"])
        if sub is None:
            raise LookupError(f"this service no longer consumes {row['subject']}")
        envelope = decode_envelope(row["payload"], row["subject"])
        applied = await self.apply(sub, row["consumer"], envelope)
        async with self.db.uow() as uow:
            await uow.session.execute(
                update(self.dead).where(self.dead.c.id == dead_letter_id).values(replayed_at=self.db.clock.now())
            )
            await uow.commit()
        log.info("inbox.replayed", dead_letter_id=dead_letter_id, subject=row["subject"], applied=applied)
        return applied


def _describe(e: BaseException) -> str:
    return (
        "".join(traceback.format_exception_only(type(e), e)).strip() + "\n" + "".join(traceback.format_tb(e.__traceback__)[-3:])
    )
