"""The gateway remembers a checked API key for a short while (`KeyCache`): a revocation on this
replica refuses the key at once, one made elsewhere (another replica, straight in the database)
within the cache's lifetime, and unknown keys are never remembered."""

from __future__ import annotations

from typing import Any

import pytest
from gateway.adapters.db import api_keys
from gateway.application.api_keys import KeyCache, create_api_key, key_cache_of, revoke_api_key
from gateway_fakes import FakeServices, make_company
from sqlalchemy import update

pytestmark = pytest.mark.integration


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def company_key(gateway: Any) -> tuple[str, Any]:
    company = await make_company(gateway, "Cached", "cached@a.test")
    key = await create_api_key(gateway.db, company_id=company, name="k", created_by=None, prefix="t9sk_test_")
    return company, key


def bearer(key: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {key.key}"}


async def test_a_key_revoked_elsewhere_is_refused_once_the_cache_forgets_it(
    gateway: Any, fake_services: FakeServices, company_key: tuple[str, Any]
) -> None:
    company, key = company_key
    clock = FakeTime()
    cache = key_cache_of(gateway.db)
    cache.now = clock
    assert (await gateway.client.get("/api/v1/entities", headers=bearer(key))).status_code == 200
    assert len(cache) == 1
    # another replica revokes: this one does not hear of it, and trusts its cache for the TTL
    async with gateway.db.uow() as uow:
        await uow.session.execute(update(api_keys).where(api_keys.c.id == key.id).values(revoked_at=gateway.db.clock.now()))
        await uow.commit()
    clock.now += cache.ttl_s - 1
    assert (await gateway.client.get("/api/v1/entities", headers=bearer(key))).status_code == 200
    clock.now += 1
    r = await gateway.client.get("/api/v1/entities", headers=bearer(key))
    assert r.status_code == 401 and r.json()["error_code"] == "invalid_api_key"
    assert len(cache) == 0
    assert all(c.headers["x-tenant-id"] == company for c in fake_services.calls("contractor", "GET", "/v1/entities"))


async def test_a_key_revoked_on_this_replica_is_refused_at_once(gateway: Any, company_key: tuple[str, Any]) -> None:
    company, key = company_key
    assert (await gateway.client.get("/api/v1/entities", headers=bearer(key))).status_code == 200
    assert await revoke_api_key(gateway.db, company_id=company, key_id=key.id)
    assert (await gateway.client.get("/api/v1/entities", headers=bearer(key))).status_code == 401
    # and stays refused: the refusal is not remembered as a company
    assert (await gateway.client.get("/api/v1/entities", headers=bearer(key))).status_code == 401


async def test_unknown_keys_are_not_remembered(gateway: Any, company_key: tuple[str, Any]) -> None:
    for i in range(20):
        headers = {"Authorization": f"Bearer t9sk_test_unknown{i}"}
        assert (await gateway.client.get("/api/v1/entities", headers=headers)).status_code == 401
    assert len(key_cache_of(gateway.db)) == 0


def test_the_cache_is_bounded_and_drops_the_least_recently_used() -> None:
    cache = KeyCache(ttl_s=10, size=3, now=FakeTime())
    for i in range(3):
        cache.put(f"h{i}", f"t{i}", f"k{i}", cache.generation)
    assert cache.get("h0") == "t0"  # h1 is now the least recently used
    cache.put("h3", "t3", "k3", cache.generation)
    assert len(cache) == 3 and cache.get("h1") is None
    assert [cache.get(h) for h in ("h0", "h2", "h3")] == ["t0", "t2", "t3"]


def test_a_lookup_that_began_before_a_revocation_is_not_remembered() -> None:
    cache = KeyCache(ttl_s=10, size=3, now=FakeTime())
    began = cache.generation
    cache.forget("k1")  # revoked while the lookup was reading the (then live) row
    cache.put("h1", "t1", "k1", began)
    assert cache.get("h1") is None
    cache.put("h1", "t1", "k1", cache.generation)
    assert cache.get("h1") == "t1"
