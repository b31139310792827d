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
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession
from ten99_contracts import Envelope, Message

from .ids import new_message_id
from .logging import causation_id, correlation_id

if TYPE_CHECKING:
    from .db import Database

__all__ = ["MAX_MESSAGE_BYTES", "MessageTooLarge", "UnitOfWork"]

_encoder = msgspec.json.Encoder()

#: NATS's default max_payload is 1 MiB; leave room for headers
MAX_MESSAGE_BYTES = 1024 * 1024 - 8 * 1024


class MessageTooLarge(ValueError):
    """A message that NATS would refuse. Raised by `commit`, so nothing of the transaction is kept."""


@functools.cache
def _pg_insert_and_notify(table: str) -> Any:
    return text(
        f"WITH ins AS (INSERT INTO {table} (message_id, subject, payload, correlation_id, created_at) "
        "SELECT * FROM unnest(CAST(:ids AS varchar[]), CAST(:subjects AS varchar[]), CAST(:payloads AS bytea[]), "
        "CAST(:cids AS varchar[]), CAST(:created AS timestamptz[]))) SELECT pg_notify(:ch, '')"
    )


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
        table = self.db.outbox_table
        if table is None:
            raise RuntimeError(f"{self.db.service}: no outbox table attached; cannot emit messages")
        now = self.db.clock.now()
        encoded = [_encoder.encode(env) for env in self.pending]
        too_big = [env.subject for env, raw in zip(self.pending, encoded, strict=True) if len(raw) > MAX_MESSAGE_BYTES]
        if too_big:
            # fail the transaction that made it: an unpublishable row would block the relay forever
            raise MessageTooLarge(f"message over {MAX_MESSAGE_BYTES} bytes: {too_big[0]}")
        rows = [
            {
                "message_id": env.id,
                "subject": env.subject,
                "payload": raw,
                "correlation_id": env.correlation_id,
                "created_at": now,
            }
            for env, raw in zip(self.pending, encoded, strict=True)
        ]
        if self.db.is_postgres:
            # one round trip for every row and the NOTIFY that wakes relays in other processes
            await self.session.execute(
                _pg_insert_and_notify(table.name),
                {
                    "ids": [r["message_id"] for r in rows],
                    "subjects": [r["subject"] for r in rows],
                    "payloads": [r["payload"] for r in rows],
                    "cids": [r["correlation_id"] for r in rows],
                    "created": [r["created_at"] for r in rows],
                    "ch": self.db.notify_channel,
                },
            )
        else:
            await self.session.execute(insert(table), rows)
        self.pending.clear()
        self._wrote_messages = True

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
