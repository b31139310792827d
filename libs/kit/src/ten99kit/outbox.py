"""The transactional outbox: a table written in the same transaction as the state change, and
the relay that publishes its rows to JetStream.

Guarantees (see docs/guarantees.md):
- a row exists if and only if its transaction committed;
- the relay publishes rows in id order with ``Nats-Msg-Id`` = envelope id, and marks them sent
  only after JetStream acknowledged them; a crash in between republishes them, and JetStream's
  duplicate window (plus each consumer's inbox) drops the copy. On PostgreSQL the marks ride on
  the relay's next read (one statement per batch instead of two), at most ``MARK_WITHIN_S`` later;
- on PostgreSQL several relays may run: the leader holds a session-level advisory lock on a
  connection of its own (autocommit: a batch is one statement, its read carrying the previous
  batch's marks); the others stand by and take over when the leader's session ends;
- the relay wakes on commit (in-process listener, and LISTEN/NOTIFY on PostgreSQL), polls as a
  fallback, and backs off while NATS is unreachable;
- a row whose message carries a bearer secret (the contract's ``SECRET_FIELDS``, an opt-in link)
  keeps a redacted copy once marked sent (`ten99kit.redaction`): the same statement marks it and
  replaces its payload, so no sent row keeps the secret. A sent row is therefore not for
  republishing by hand (nothing does: consumers would get the redacted link).
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from functools import cached_property
from typing import Any

from prometheus_client import Counter, Gauge
from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    LargeBinary,
    MetaData,
    String,
    Table,
    Update,
    all_,
    any_,
    bindparam,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.expression import Grouping

from .bus import Bus
from .db import BigIntPK, Database, UtcDateTime
from .logging import get_logger
from .metrics import OUTBOX_OLDEST_UNSENT_AGE, REFRESH_INTERVAL_S, gauge_worker
from .redaction import redacted_payload, secret_fields
from .settings import RelaySettings
from .workers import Backoff, PollingWorker

__all__ = ["OutboxRelay", "PublishFailed", "outbox_table"]

log = get_logger(__name__)

PUBLISHED = Counter("ten99_outbox_published_total", "Outbox rows published to JetStream", ["service"])
BACKLOG = Gauge("ten99_outbox_backlog", "Unsent outbox rows (refreshed by every relay process)", ["service"])

#: PostgreSQL: rows published but not yet marked sent are marked by the next read, or after this
#: long without one
MARK_WITHIN_S = 0.2


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        Column("id", BigIntPK, primary_key=True, autoincrement=True),
        Column("message_id", String(36), nullable=False, unique=True),
        Column("subject", String(200), nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("correlation_id", String(64), nullable=True),
        Column("created_at", UtcDateTime, nullable=False),
        Column("sent_at", UtcDateTime, nullable=True),
        Index("ix_outbox_unsent", "id", postgresql_where=text("sent_at IS NULL"), sqlite_where=text("sent_at IS NULL")),
    )


class PublishFailed(Exception):
    pass


class OutboxRelay:
    def __init__(self, db: Database, bus: Bus, settings: RelaySettings) -> None:
        if db.outbox_table is None:
            raise RuntimeError("attach an outbox table to the database first")
        self.db = db
        self.table: Table = db.outbox_table
        self.bus = bus
        self.settings = settings
        self._wake = asyncio.Event()
        db.on_commit_with_messages(self.wake)
        bus.on_reconnect(self.wake)
        self._leader: Any = None
        self._last_purge = 0.0
        #: seconds between refreshes of this part's gauges (`ten99kit.metrics`)
        self.gauge_interval_s = REFRESH_INTERVAL_S
        #: PostgreSQL: ids JetStream acknowledged, to be marked sent by the next read
        self._pending: list[int] = []
        #: of those, the ones whose payload is replaced by a copy without its secrets when marked
        self._redacted: dict[int, bytes] = {}

    def wake(self) -> None:
        self._wake.set()

    async def publish_batch(self) -> int:
        """Publish up to one batch. Returns rows published, or -1 if another relay is the leader."""
        if not self.db.is_postgres:
            # SQLite: one process, one writer; the batch runs in a transaction of its own
            async with self.db.engine.connect() as conn, conn.begin():
                return await self._publish_from(conn)
        conn = await self._leadership()
        if conn is None:
            return -1
        try:
            return await self._publish_from(conn)
        except PublishFailed:
            raise
        except BaseException:
            # the connection may be broken: give up leadership, a relay (maybe this one) takes over
            await self._resign()
            raise

    async def _leadership(self) -> Any:
        """The leader's connection, or None while another relay leads. On PostgreSQL the leader
        holds a session-level advisory lock on a connection of its own, in autocommit: a batch is
        then one statement (the read, carrying the previous batch's marks) and the lock is released
        if the process dies."""
        if self._leader is not None:
            return self._leader
        conn = await self.db.engine.connect()
        try:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            got = (await conn.execute(select(func.pg_try_advisory_lock(self.db.relay_lock_key)))).scalar()
            if not got:
                await conn.close()
                return None
            raw = await conn.get_raw_connection()
            await raw.driver_connection.add_listener(self.db.notify_channel, lambda *_: self.wake())  # type: ignore[union-attr]
        except BaseException:
            await conn.close()
            raise
        self._leader = conn
        log.info("outbox.relay_leading")
        return conn

    async def _resign(self) -> None:
        # unmarked rows are published again by the next leader (maybe this relay): copies are dropped
        self._pending = []
        self._redacted = {}
        conn, self._leader = self._leader, None
        if conn is not None:
            try:
                await conn.invalidate()  # drop it: ending the session releases its advisory lock
                await conn.close()
            except Exception:
                pass

    @cached_property
    def _unsent(self) -> Any:
        """The next batch to publish (statements built once per relay: building and keying one
        costs about as much Python time as executing it)."""
        t = self.table
        return (
            select(t.c.id, t.c.message_id, t.c.subject, t.c.payload, t.c.correlation_id)
            .where(t.c.sent_at.is_(None))
            .order_by(t.c.id)
            .limit(bindparam("batch_size"))
        )

    @cached_property
    def _mark_sent(self) -> Any:
        t = self.table
        return update(t).where(t.c.id.in_(bindparam("ids", expanding=True))).values(sent_at=bindparam("now"))

    @cached_property
    def _redact(self) -> Any:
        """SQLite: replace the payloads of rows just marked sent (executemany, same transaction)."""
        t = self.table
        return update(t).where(t.c.id == bindparam("b_id")).values(payload=bindparam("b_payload"))

    def _pg_mark(self, *, redacting: bool) -> Update:
        """PostgreSQL: mark ``pending`` sent; ``redacting``: and give the rows among ``redact_ids``
        the payload at the same position of ``redacted`` (one statement, so no sent row keeps a
        secret, whatever fails next)."""
        t = self.table
        pending = bindparam("pending", type_=ARRAY(BigInteger))
        mark = update(t).where(t.c.id == any_(pending))
        if not redacting:
            return mark.values(sent_at=bindparam("now"))
        position = func.array_position(bindparam("redact_ids", type_=ARRAY(BigInteger)), t.c.id)
        # parenthesised: PostgreSQL reads ``$1::bytea[][i]`` as a type, not as an element
        redacted = Grouping(bindparam("redacted", type_=ARRAY(LargeBinary)))[position]
        return mark.values(sent_at=bindparam("now"), payload=func.coalesce(redacted, t.c.payload))

    def _pg_mark_then_unsent(self, *, redacting: bool) -> Any:
        """PostgreSQL: mark the ids published last time and read the next batch, in one statement.
        Both parts see the same snapshot, so the read leaves out the ids being marked."""
        t = self.table
        marked = self._pg_mark(redacting=redacting).cte("marked")
        return (
            select(t.c.id, t.c.message_id, t.c.subject, t.c.payload, t.c.correlation_id)
            .add_cte(marked)
            .where(t.c.sent_at.is_(None), t.c.id != all_(bindparam("pending", type_=ARRAY(BigInteger))))
            .order_by(t.c.id)
            .limit(bindparam("batch_size"))
        )

    @cached_property
    def _mark_then_unsent(self) -> Any:
        return self._pg_mark_then_unsent(redacting=False)

    @cached_property
    def _mark_redacting_then_unsent(self) -> Any:
        return self._pg_mark_then_unsent(redacting=True)

    def _pending_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"pending": self._pending, "now": self.db.clock.now()}
        if self._redacted:
            params["redact_ids"] = list(self._redacted)
            params["redacted"] = list(self._redacted.values())
        return params

    async def _read(self, conn: Any) -> list[Any]:
        batch_size = self.settings.batch_size
        if not self._pending:
            return list((await conn.execute(self._unsent, {"batch_size": batch_size})).all())
        statement = self._mark_redacting_then_unsent if self._redacted else self._mark_then_unsent
        rows = list((await conn.execute(statement, {**self._pending_params(), "batch_size": batch_size})).all())
        self._pending = []
        self._redacted = {}
        return rows

    def _redactions(self, rows: list[Any]) -> dict[int, bytes]:
        """Copies without their secrets of the rows that carry one (rare: opt-in links), by id."""
        out: dict[int, bytes] = {}
        for row in rows:
            fields = secret_fields(row.subject)
            if not fields:
                continue
            try:
                redacted = redacted_payload(row.payload, fields)
            except Exception as e:  # not an envelope the kit wrote: keep it, and say so
                log.error("outbox.redaction_failed", message_id=row.message_id, error=repr(e))
                continue
            if redacted is not None:
                out[row.id] = redacted
        return out

    async def _publish_from(self, conn: Any) -> int:
        rows = await self._read(conn)
        if not rows:
            return 0
        if not self.bus.is_connected:
            raise PublishFailed("NATS is not connected")
        js = self.bus.js
        futures = []
        for row in rows:
            headers = {"Nats-Msg-Id": row.message_id}
            if row.correlation_id:
                headers["Ten99-Correlation-Id"] = row.correlation_id
            futures.append(await js.publish_async(row.subject, row.payload, headers=headers))
        try:
            results = await asyncio.wait_for(
                asyncio.gather(*futures, return_exceptions=True), timeout=self.settings.publish_timeout_s
            )
        except TimeoutError:
            for f in futures:
                f.cancel()
            raise PublishFailed("JetStream did not acknowledge in time") from None
        # mark the acknowledged prefix only: what follows a failure is republished, in order
        sent: list[int] = []
        failure: BaseException | None = None
        for row, result in zip(rows, results, strict=True):
            if isinstance(result, BaseException):
                failure = result
                break
            sent.append(row.id)
        redacted = self._redactions(rows[: len(sent)]) if sent else {}
        if sent and self.db.is_postgres:
            # marked by the next read (see `_pg_mark_then_unsent`)
            self._pending = sent
            self._redacted = redacted
        elif sent:
            await conn.execute(self._mark_sent, {"ids": sent, "now": self.db.clock.now()})
            if redacted:
                await conn.execute(self._redact, [{"b_id": i, "b_payload": p} for i, p in redacted.items()])
        PUBLISHED.labels(self.db.service).inc(len(sent))
        if failure is not None:
            raise PublishFailed(str(failure)) from failure
        return len(sent)

    async def purge_sent(self, older_than: timedelta = timedelta(days=7)) -> int:
        cutoff = self.db.clock.now() - older_than
        async with self.db.engine.begin() as conn:
            result = await conn.execute(delete(self.table).where(self.table.c.sent_at < cutoff))
        return int(result.rowcount or 0)

    async def drain(self) -> int:
        """Publish until the outbox is empty (tests, shutdown)."""
        total = 0
        while True:
            n = await self.publish_batch()
            if n <= 0:
                return total
            total += n

    async def step(self) -> float | None:
        """One run of the relay's loop: a batch published; at once again if the batch was full;
        soon if what it sent is still to be marked (even if nothing else is written meanwhile)."""
        n = await self.publish_batch()
        if n >= self.settings.batch_size:
            return 0.0
        if time.monotonic() - self._last_purge > 3600:
            self._last_purge = time.monotonic()
            try:
                await self.purge_sent()
            except Exception as e:
                log.warning("outbox.purge_failed", error=str(e))
        return MARK_WITHIN_S if self._pending else None

    async def refresh_gauges(self) -> None:
        """Set the backlog gauges: unsent rows and the age of the oldest (`ten99kit.metrics`).
        Rows published in the last fraction of a second and not yet marked count as unsent."""
        t = self.table
        async with self.db.session() as s:
            unsent, oldest = (await s.execute(select(func.count(), func.min(t.c.created_at)).where(t.c.sent_at.is_(None)))).one()
        BACKLOG.labels(self.db.service).set(unsent)
        age = 0.0 if oldest is None else max(0.0, (self.db.clock.now() - oldest).total_seconds())
        OUTBOX_OLDEST_UNSENT_AGE.labels(self.db.service).set(age)

    async def run(self, stop: asyncio.Event) -> None:
        gauges = asyncio.create_task(
            gauge_worker("outbox.gauges", self.refresh_gauges, self.gauge_interval_s).run(stop), name="outbox gauges"
        )
        worker = PollingWorker(
            "outbox",
            self.step,
            idle_s=self.settings.poll_interval_s,
            backoff=Backoff(0.05, 2.0),
            wake=self._wake,
            # while NATS is away, new writes do not make it retry: its reconnection does
            retry_wake=lambda: self._wake if self.bus.is_connected else self.bus.reconnected,
        )
        try:
            await worker.run(stop)
        finally:
            gauges.cancel()
            await asyncio.gather(gauges, return_exceptions=True)
        await self.close()

    async def close(self) -> None:
        if self._pending and self._leader is not None:
            try:  # mark what was published, so that a restart does not publish it again
                await self._leader.execute(self._pg_mark(redacting=bool(self._redacted)), self._pending_params())
            except Exception as e:
                log.warning("outbox.mark_on_close_failed", error=repr(e))
        await self._resign()
