"""API keys of a company: created (the key is shown once), listed, revoked, and checked on every
public-API request. Only the key's sha256 is stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from ten99kit import Database, new_id

from ..adapters.db import api_keys
from ..domain.accounts import AccountError, hash_secret, new_api_key

__all__ = ["NewApiKey", "authenticate_api_key", "create_api_key", "list_api_keys", "revoke_api_key"]

#: how often last_used_at is written
_TOUCH_EVERY = timedelta(minutes=5)


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
        await uow.commit()
    return NewApiKey(id=key_id, key=key, display=display)


async def list_api_keys(db: Database, company_id: str) -> list[dict[str, object]]:
    async with db.session() as s:
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
        await uow.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def authenticate_api_key(db: Database, key: str) -> str | None:
    """The company a live key belongs to, or None."""
    if not key or len(key) > 200:
        return None
    key_hash = hash_secret(key)
    now = db.clock.now()
    async with db.session() as s:
        row = (
            await s.execute(
                select(api_keys.c.tenant_id, api_keys.c.last_used_at).where(
                    api_keys.c.key_hash == key_hash, api_keys.c.revoked_at.is_(None)
                )
            )
        ).first()
        if row is None:
            return None
        if row.last_used_at is None or now - row.last_used_at >= _TOUCH_EVERY:
            await s.execute(update(api_keys).where(api_keys.c.key_hash == key_hash).values(last_used_at=now))
            await s.commit()
    return str(row.tenant_id)
