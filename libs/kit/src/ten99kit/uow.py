"""The unit of work: one database transaction, and the messages it causes, written to the
outbox in that same transaction (never published after commit, which would be a dual write).

    async with db.uow() as uow:
        contractor = await repo(uow).get(...)
        ...
        uow.emit(ContractorUpdatedV1(...), tenant_id=t, aggregate_id=contractor.id)
        await uow.commit()

Leaving the block without `commit()` rolls back, messages included.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import column, insert, text
from sqlalchemy.ext.asyncio import AsyncSession
from ten99_contracts import Envelope, Message

from .ids import new_message_id
from .logging import actor, causation_id, correlation_id

if TYPE_CHECKING:
    from .db import Database

__all__ = ["MAX_MESSAGE_BYTES", "MessageTooLarge", "UnitOfWork"]

_encoder = msgspec.json.Encoder()

#: NATS's default max_payload is 1 MiB; leave room for headers
MAX_MESSAGE_BYTES = 1024 * 1024 - 8 * 1024


class MessageTooLarge(ValueError):
    """A message that NATS would refuse. Raised by `commit`, so nothing of the transaction is kept."""


#: the pending messages' outbox rows, one array per column (`UnitOfWork._outbox_arrays`)
_OUTBOX_ROWS = (
    "SELECT rows.* FROM unnest(CAST(:ten99_outbox_ids AS varchar[]), CAST(:ten99_outbox_subjects AS varchar[]), "
    "CAST(:ten99_outbox_payloads AS bytea[]), CAST(:ten99_outbox_cids AS varchar[]), "
    "CAST(:ten99_outbox_created AS timestamptz[])) AS rows"
)
_OUTBOX_COLUMNS = "(message_id, subject, payload, correlation_id, created_at)"
#: outbox column -> its array's name (``ten99_outbox_<name>``)
_OUTBOX_ARRAYS = {
    "message_id": "ids",
    "subject": "subjects",
    "payload": "payloads",
    "correlation_id": "cids",
    "created_at": "created",
}


@functools.cache
def _pg_insert_and_notify(table: str) -> Any:
    return text(f"WITH ins AS (INSERT INTO {table} {_OUTBOX_COLUMNS} {_OUTBOX_ROWS}) SELECT pg_notify(:ten99_outbox_channel, '')")


@functools.lru_cache(maxsize=256)
def _with_outbox(statement: Any, table: str) -> Any:
    """``statement`` writing the outbox rows and sending the NOTIFY too, as a CTE (kept per
    statement object: building and keying it again would cost what the saved round trip saves)."""
    rows = text(
        f"INSERT INTO {table} {_OUTBOX_COLUMNS} {_OUTBOX_ROWS} "
        "CROSS JOIN (SELECT pg_notify(:ten99_outbox_channel, '')) AS notified RETURNING 1"
    )
    return statement.add_cte(rows.columns(column("one")).cte("ten99_outbox"))


class UnitOfWork:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.session: AsyncSession = db.sessionmaker()
        self.pending: list[Envelope[Any]] = []
        self._wrote_messages = False
        self._before_commit: list[Callable[[], Awaitable[None]]] = []

    @property
    def clock(self) -> Any:
        return self.db.clock

    async def __aenter__(self) -> UnitOfWork:
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if self.session.in_transaction():  # not committed: undo writes and messages
                self.pending.clear()
                self._before_commit.clear()
                await self.session.rollback()
        finally:
            await self.session.close()

    def emit(
        self,
        message: Message,
        *,
        tenant_id: str,
        aggregate_id: str,
        aggregate_version: int = 0,
    ) -> Envelope[Any]:
        """Record ``message``; it is written to the outbox when this unit commits."""
        if not tenant_id:
            raise ValueError("every message carries its tenant")
        envelope = Envelope(
            id=new_message_id(),
            subject=message.SUBJECT,
            occurred_at=self.db.clock.now(),
            tenant_id=tenant_id,
            aggregate_id=aggregate_id,
            aggregate_version=aggregate_version,
            correlation_id=correlation_id.get(),
            causation_id=causation_id.get(),
            data=message,
            actor=actor.get(),
        )
        self.pending.append(envelope)
        return envelope

    def before_commit(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run ``hook`` once when `commit` starts, before the outbox is written. A handler that
        the consumer applies to a whole batch of messages in this unit of work can buffer its
        work and do it here in bulk (a few statements per batch instead of several per message);
        whatever the hook writes and emits commits with the rest, or not at all."""
        self._before_commit.append(hook)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A nested transaction: on error, its writes and its messages are both undone."""
        mark = len(self.pending)
        nested = await self.session.begin_nested()
        try:
            yield
        except BaseException:
            await nested.rollback()
            del self.pending[mark:]
            raise
        await nested.commit()

    async def flush_messages(self) -> None:
        """Write pending messages to the outbox now (normally done by `commit`)."""
        if not self.pending:
            return
        table = self._outbox_table()
        arrays = self._outbox_arrays()
        if self.db.is_postgres:
            # one round trip for every row and the NOTIFY that wakes relays in other processes
            await self.session.execute(_pg_insert_and_notify(table.name), arrays)
        else:
            columns = zip(*(arrays[f"ten99_outbox_{name}"] for name in _OUTBOX_ARRAYS.values()), strict=True)
            await self.session.execute(insert(table), [dict(zip(_OUTBOX_ARRAYS, row, strict=True)) for row in columns])
        self.pending.clear()
        self._wrote_messages = True

    async def execute_with_messages(self, statement: Any, params: dict[str, Any]) -> Any:
        """Execute ``statement`` (an INSERT, UPDATE or DELETE, built once and reused) and write the
        messages emitted so far to the outbox in the same round trip: on PostgreSQL they ride on it
        as a data-modifying CTE (in this transaction: they still commit with it or not at all).
        Elsewhere the statement runs, then the messages are written as by `flush_messages`."""
        if not self.pending or not self.db.is_postgres:
            result = await self.session.execute(statement, params)
            await self.flush_messages()
            return result
        with_rows = _with_outbox(statement, self._outbox_table().name)
        result = await self.session.execute(with_rows, {**params, **self._outbox_arrays()})
        self.pending.clear()
        self._wrote_messages = True
        return result

    def _outbox_table(self) -> Any:
        if self.db.outbox_table is None:
            raise RuntimeError(f"{self.db.service}: no outbox table attached; cannot emit messages")
        return self.db.outbox_table

    def _outbox_arrays(self) -> dict[str, Any]:
        """The pending messages' outbox rows as one array per column (``_OUTBOX_ROWS``'s
        parameters), each message checked for size."""
        encoded = [_encoder.encode(env) for env in self.pending]
        too_big = [env.subject for env, raw in zip(self.pending, encoded, strict=True) if len(raw) > MAX_MESSAGE_BYTES]
        if too_big:
            # fail the transaction that made it: an unpublishable row would block the relay forever
            raise MessageTooLarge(f"message over {MAX_MESSAGE_BYTES} bytes: {too_big[0]}")
        return {
            "ten99_outbox_ids": [env.id for env in self.pending],
            "ten99_outbox_subjects": [env.subject for env in self.pending],
            "ten99_outbox_payloads": encoded,
            "ten99_outbox_cids": [env.correlation_id for env in self.pending],
            "ten99_outbox_created": [self.db.clock.now()] * len(encoded),
            "ten99_outbox_channel": self.db.notify_channel,
        }

    async def commit(self) -> None:
        while self._before_commit:
            await self._before_commit.pop(0)()
        await self.flush_messages()
        await self.session.commit()
        if self._wrote_messages:
            self._wrote_messages = False
            self.db.notify_committed()

    async def rollback(self) -> None:
        self.pending.clear()
        self._before_commit.clear()
        await self.session.rollback()
