"""Idempotency keys of the public API (``Ten99Policy-Idempotent-Key`` or ``Idempotency-Key`` on a POST).

The first request with a key claims it (a row with no response yet), runs, and stores its response;
a retry with the same key and the same request replays that response for ``ttl``; the same key with
a different request is refused. As in 1099Policy, nothing is kept for a request that was refused
as invalid (400/422) or conflicted (409), nor for one whose service could not be reached, so those
can be retried safely. A claim whose request never finished (a crash) is taken over after
``stale_after``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from ten99kit import Database, insert_ignore

from ..adapters.db import idempotency_records

__all__ = ["Claim", "abandon", "claim", "purge_expired_keys", "record_response", "request_fingerprint"]

#: statuses that are not remembered: the request changed nothing and may be retried
NOT_STORED = frozenset({400, 401, 403, 404, 409, 422, 429})


@dataclass(frozen=True)
class Claim:
    #: new (go ahead), replay (answer with the stored response), mismatch, in_progress
    outcome: str
    status_code: int | None = None
    content_type: str | None = None
    body: bytes | None = None


def request_fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    h = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), query.encode(), body):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


async def claim(
    db: Database,
    *,
    tenant_id: str,
    key: str,
    fingerprint: str,
    method: str,
    path: str,
    ttl: timedelta,
    stale_after: timedelta = timedelta(minutes=2),
) -> Claim:
    now = db.clock.now()
    table = idempotency_records
    where = (table.c.tenant_id == tenant_id) & (table.c.key == key)
    async with db.session() as s:
        # a finished record past its lifetime, or a claim abandoned by a crash, frees the key
        await s.execute(
            delete(table).where(
                where,
                (table.c.expires_at <= now) | (table.c.status_code.is_(None) & (table.c.created_at <= now - stale_after)),
            )
        )
        stmt = insert_ignore(table, db.dialect).values(
            tenant_id=tenant_id,
            key=key,
            request_hash=fingerprint,
            method=method,
            path=path,
            created_at=now,
            expires_at=now + ttl,
        )
        result = await s.execute(stmt)
        await s.commit()
        if result.rowcount == 1:  # type: ignore[attr-defined]
            return Claim("new")
        row = (await s.execute(select(table).where(where))).mappings().first()
    if row is None:  # freed meanwhile: let the client retry
        return Claim("in_progress")
    if row["request_hash"] != fingerprint:
        return Claim("mismatch")
    if row["status_code"] is None:
        return Claim("in_progress")
    return Claim("replay", row["status_code"], row["content_type"], row["body"])


async def record_response(db: Database, *, tenant_id: str, key: str, status_code: int, content_type: str, body: bytes) -> None:
    table = idempotency_records
    async with db.session() as s:
        if status_code in NOT_STORED:
            await s.execute(
                delete(table).where(table.c.tenant_id == tenant_id, table.c.key == key, table.c.status_code.is_(None))
            )
        else:
            await s.execute(
                update(table)
                .where(table.c.tenant_id == tenant_id, table.c.key == key, table.c.status_code.is_(None))
                .values(status_code=status_code, content_type=content_type, body=body)
            )
        await s.commit()


async def abandon(db: Database, *, tenant_id: str, key: str) -> None:
    """Free a claim whose request got no answer from the service."""
    table = idempotency_records
    async with db.session() as s:
        await s.execute(delete(table).where(table.c.tenant_id == tenant_id, table.c.key == key, table.c.status_code.is_(None)))
        await s.commit()


async def purge_expired_keys(db: Database, now: datetime) -> int:
    async with db.session() as s:
        result = await s.execute(delete(idempotency_records).where(idempotency_records.c.expires_at <= now))
        await s.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
