"""Idempotency keys kept by the service that acts: what a keyed create made, recorded in the
transaction that made it.

The gateway answers a retried public POST from its own record of the first response, but it
cannot write that record in the service's transaction. A crash, or a database restart, between
the service's commit and the gateway's record leaves the key with no response, and the client's
retry (the only thing a client without an answer can do) would create the thing a second time.
So the gateway passes the key on (`IDEMPOTENCY_KEY_HEADER`), and a service records
(tenant, key) -> the id it creates, in the same transaction as the row: a retry finds that id
and answers with the resource it names instead of creating another. Two requests with one key at
the same moment serialise on the key's primary key: the second waits for the first's commit and
then finds its id (or goes ahead, if the first rolled back).

    async with ctx.db.uow() as uow:
        earlier = await claim_request_key(uow, request_keys, tenant_id, key, row["id"])
        if earlier is None:
            ...insert the row, emit...
            await uow.commit()
    return await reload(earlier or row["id"])
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Column, Index, MetaData, String, Table, delete, select

from .db import Database, UtcDateTime, insert_ignore
from .errors import ApiError
from .uow import UnitOfWork

__all__ = ["IDEMPOTENCY_KEY_HEADER", "claim_request_key", "purge_request_keys", "request_key_of", "request_keys_table"]

#: the public request's idempotency key, as the gateway passes it to the service that acts
IDEMPOTENCY_KEY_HEADER = "x-ten99-idempotency-key"
MAX_KEY_LENGTH = 255


def request_keys_table(metadata: MetaData) -> Table:
    return Table(
        "request_keys",
        metadata,
        Column("tenant_id", String(64), primary_key=True),
        Column("key", String(MAX_KEY_LENGTH), primary_key=True),
        #: the prefixed id of what the first request with this key created
        Column("resource_id", String(64), nullable=False),
        Column("created_at", UtcDateTime, nullable=False),
        Index("ix_request_keys_created_at", "created_at"),
    )


def request_key_of(headers: Any) -> str | None:
    """The key the gateway passed on, if any (a malformed one is ignored: the gateway checks keys)."""
    key = headers.get(IDEMPOTENCY_KEY_HEADER)
    if not key or len(key) > MAX_KEY_LENGTH:
        return None
    return str(key)


async def claim_request_key(uow: UnitOfWork, table: Table, tenant_id: str, key: str | None, resource_id: str) -> str | None:
    """Record, in ``uow``'s transaction, that ``key`` creates ``resource_id``. None: go ahead (or
    no key); else the id that an earlier request with this key created (answer with it). A key
    that created another kind of resource (another prefix) is refused with a 409."""
    if not key:
        return None
    inserted = await uow.session.execute(
        insert_ignore(table, uow.db.dialect).values(
            tenant_id=tenant_id, key=key, resource_id=resource_id, created_at=uow.clock.now()
        )
    )
    if inserted.rowcount:  # type: ignore[attr-defined]
        return None
    earlier = (
        await uow.session.execute(select(table.c.resource_id).where(table.c.tenant_id == tenant_id, table.c.key == key))
    ).scalar_one()
    if earlier.split("_", 1)[0] != resource_id.split("_", 1)[0]:
        raise ApiError(
            "This idempotency key was already used with a different request",
            error_code="idempotency_key_reused",
            status_code=409,
        )
    return str(earlier)


async def purge_request_keys(db: Database, table: Table, *, older_than: timedelta = timedelta(days=2)) -> int:
    """Forget keys older than ``older_than`` (the gateway replays a key's response for 24 h)."""
    cutoff = db.clock.now() - older_than
    async with db.engine.begin() as conn:
        result = await conn.execute(delete(table).where(table.c.created_at < cutoff))
    return int(result.rowcount or 0)
