"""API keys of a company: created (the key is shown once), listed, revoked, and checked on every
public-API request. Only the key's sha256 is stored.

A checked key is remembered in this process for `KEY_CACHE_TTL_S` (`KeyCache`, bounded), because
a database round trip per request was a tenth of the gateway's CPU on the public API's hot path.
A revocation takes effect at once on the replica that revokes (it drops the key from its cache)
and within `KEY_CACHE_TTL_S` on the others. Unknown keys are never remembered (a caller cycling
random keys cannot fill the cache or evict the good ones)."""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from ten99_contracts.gateway_v1 import ApiKeyCreatedV1, ApiKeyRevokedV1
from ten99kit import Database, new_id

from ..adapters.db import api_keys
from ..domain.accounts import AccountError, hash_secret, new_api_key
from .expiring import Expiring

__all__ = [
    "KEY_CACHE_TTL_S",
    "KeyCache",
    "NewApiKey",
    "authenticate_api_key",
    "create_api_key",
    "identify_api_key",
    "key_cache_of",
    "list_api_keys",
    "revoke_api_key",
]

#: how often last_used_at is written
_TOUCH_EVERY = timedelta(minutes=5)
#: how long a checked key is trusted without asking the database (a revocation elsewhere waits this long)
KEY_CACHE_TTL_S = 10.0
#: keys remembered at most (least recently used first out)
KEY_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class _Known:
    tenant_id: str
    key_id: str


class KeyCache:
    """Key hash -> company, for `ttl_s` seconds of ``now`` (monotonic), at most `size` entries."""

    def __init__(
        self, ttl_s: float = KEY_CACHE_TTL_S, size: int = KEY_CACHE_SIZE, now: Callable[[], float] = time.monotonic
    ) -> None:
        self._entries: Expiring[str, _Known] = Expiring(ttl_s, size, now)
        #: bumped by every `forget`: a lookup that began before a revocation does not `put` its answer
        self.generation = 0

    @property
    def ttl_s(self) -> float:
        return self._entries.ttl_s

    @property
    def now(self) -> Callable[[], float]:
        return self._entries.now

    @now.setter
    def now(self, now: Callable[[], float]) -> None:
        self._entries.now = now

    def get(self, key_hash: str) -> str | None:
        known = self.known(key_hash)
        return known.tenant_id if known else None

    def known(self, key_hash: str) -> _Known | None:
        """The company and key id of a remembered key (`get`, with the key id)."""
        return self._entries.get(key_hash)

    def put(self, key_hash: str, tenant_id: str, key_id: str, generation: int) -> None:
        if generation == self.generation:
            self._entries.put(key_hash, _Known(tenant_id, key_id))

    def forget(self, key_id: str) -> None:
        self.generation += 1
        for key_hash in [h for h, known in self._entries.items() if known.key_id == key_id]:
            self._entries.pop(key_hash)

    def __len__(self) -> int:
        return len(self._entries)


#: one cache per database (in practice one per gateway process; tests make several)
_caches: weakref.WeakKeyDictionary[Database, KeyCache] = weakref.WeakKeyDictionary()


def key_cache_of(db: Database) -> KeyCache:
    cache = _caches.get(db)
    if cache is None:
        cache = _caches[db] = KeyCache()
    return cache


@dataclass(frozen=True)
class NewApiKey:
    id: str
    key: str
    display: str


async def create_api_key(db: Database, *, company_id: str, name: str, created_by: str | None, prefix: str) -> NewApiKey:
    name = (name or "").strip() or "API key"
    if len(name) > 100:
        raise AccountError("The name may have at most 100 characters", "name")
    key, display = new_api_key(prefix)
    key_id = new_id("ak")
    async with db.uow() as uow:
        await uow.session.execute(
            api_keys.insert().values(
                id=key_id,
                tenant_id=company_id,
                name=name,
                key_hash=hash_secret(key),
                display=display,
                created_by=created_by,
                created_at=db.clock.now(),
            )
        )
        uow.emit(
            ApiKeyCreatedV1(key_id=key_id, name=name, display=display, created_by=created_by),
            tenant_id=company_id,
            aggregate_id=key_id,
        )
        await uow.commit()
    return NewApiKey(id=key_id, key=key, display=display)


async def list_api_keys(db: Database, company_id: str) -> list[dict[str, object]]:
    async with db.reads() as s:
        rows = await s.execute(
            select(
                api_keys.c.id,
                api_keys.c.name,
                api_keys.c.display,
                api_keys.c.created_by,
                api_keys.c.created_at,
                api_keys.c.last_used_at,
                api_keys.c.revoked_at,
            )
            .where(api_keys.c.tenant_id == company_id)
            .order_by(api_keys.c.created_at.desc())
        )
        return [dict(r) for r in rows.mappings()]


async def revoke_api_key(db: Database, *, company_id: str, key_id: str) -> bool:
    """Revoke one of the company's keys; False if it has no such live key."""
    async with db.uow() as uow:
        result = await uow.session.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.tenant_id == company_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=db.clock.now())
        )
        if result.rowcount:  # type: ignore[attr-defined]
            uow.emit(ApiKeyRevokedV1(key_id=key_id), tenant_id=company_id, aggregate_id=key_id)
        await uow.commit()
    key_cache_of(db).forget(key_id)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def authenticate_api_key(db: Database, key: str) -> str | None:
    """The company a live key belongs to, or None."""
    found = await identify_api_key(db, key)
    return found[0] if found else None


async def identify_api_key(db: Database, key: str) -> tuple[str, str] | None:
    """The company and the id of a live key, or None."""
    if not key or len(key) > 200:
        return None
    key_hash = hash_secret(key)
    cache = key_cache_of(db)
    cached = cache.known(key_hash)
    if cached is not None:
        return cached.tenant_id, cached.key_id
    generation = cache.generation
    now = db.clock.now()
    async with db.session() as s:
        row = (
            await s.execute(
                select(api_keys.c.id, api_keys.c.tenant_id, api_keys.c.last_used_at).where(
                    api_keys.c.key_hash == key_hash, api_keys.c.revoked_at.is_(None)
                )
            )
        ).first()
        if row is None:
            return None
        if row.last_used_at is None or now - row.last_used_at >= _TOUCH_EVERY:
            await s.execute(update(api_keys).where(api_keys.c.key_hash == key_hash).values(last_used_at=now))
            await s.commit()
    cache.put(key_hash, str(row.tenant_id), str(row.id), generation)
    return str(row.tenant_id), str(row.id)
