"""The public API: API keys (Bearer and Basic), pass-through, tenant isolation, idempotency keys."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest
from gateway.application.api_keys import create_api_key, revoke_api_key
from gateway_fakes import FakeServices, make_company
from litestar import Response

pytestmark = pytest.mark.integration


@pytest.fixture
async def keys(gateway: Any) -> dict[str, Any]:
    a = await make_company(gateway, "A", "a@a.test")
    b = await make_company(gateway, "B", "b@b.test")
    ka = await create_api_key(gateway.db, company_id=a, name="a", created_by=None, prefix="t9sk_test_")
    kb = await create_api_key(gateway.db, company_id=b, name="b", created_by=None, prefix="t9sk_test_")
    return {"a": a, "b": b, "ka": ka, "kb": kb}


def bearer(key: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {key.key}"}


async def test_api_keys_authenticate_and_decide_the_tenant(
    gateway: Any, fake_services: FakeServices, keys: dict[str, Any]
) -> None:
    client = gateway.client
    r = await client.get("/api/v1/entities?limit=5", headers={**bearer(keys["ka"]), "X-Tenant-Id": keys["b"]})
    assert r.status_code == 200
    body = r.json()
    assert body["data"][0]["name"] == f"Nike for {keys['a']}" and body["url"] == "/api/v1/entities"
    assert r.headers["request-id"]
    sent = fake_services.calls("contractor", "GET", "/v1/entities")[0]
    assert sent.headers["x-tenant-id"] == keys["a"] and sent.query == "limit=5"

    basic = base64.b64encode(f"{keys['kb'].key}:".encode()).decode()
    r = await client.get("/api/v1/entities", headers={"Authorization": f"Basic {basic}"})
    assert r.json()["data"][0]["name"] == f"Nike for {keys['b']}"

    for headers in ({}, {"Authorization": "Bearer t9sk_test_wrong"}, {"Authorization": "Basic !!!"}):
        r = await client.get("/api/v1/entities", headers=headers)
        assert r.status_code == 401 and r.json()["error_code"] == "invalid_api_key"
    await revoke_api_key(gateway.db, company_id=keys["a"], key_id=keys["ka"].id)
    assert (await client.get("/api/v1/entities", headers=bearer(keys["ka"]))).status_code == 401
    assert len(fake_services.calls("contractor", "GET", "/v1/entities")) == 2


async def test_resources_pass_through_with_errors_and_subresources(
    gateway: Any, fake_services: FakeServices, keys: dict[str, Any]
) -> None:
    client = gateway.client
    r = await client.post("/api/v1/entities", json={}, headers=bearer(keys["ka"]))
    assert r.status_code == 400 and r.json() == {"error_code": "invalid_input", "message": {"name": "required"}}
    r = await client.get("/api/v1/nothing", headers=bearer(keys["ka"]))
    assert r.status_code == 404 and r.json()["error_code"] == "resource_not_found"
    r = await client.get("/api/v1/contractors/cn_1/policies", headers=bearer(keys["ka"]))
    assert r.status_code == 200 and r.json()["url"] == "/api/v1/policies"
    assert fake_services.calls("policy", "GET", "/v1/policies")[0].query == "contractor=cn_1"
    # 1099Policy's cancel is keyed by job
    r = await client.post(
        "/api/v1/assignments/cancel", json={"job_id": "jb_9", "reason": "client_request"}, headers=bearer(keys["ka"])
    )
    assert r.status_code == 200 and r.json()["id"] == "an_9" and r.json()["status"] == "cancelled"
    assert (
        json.loads(fake_services.calls("contractor", "POST", "/v1/assignments/an_9/cancel")[0].body)["reason"] == "client_request"
    )
    fake_services.on(
        "contractor", "GET", "/v1/entities", lambda s: Response({"error_code": "general_error", "message": "x"}, status_code=500)
    )
    assert (await client.get("/api/v1/entities", headers=bearer(keys["ka"]))).status_code == 500


async def test_idempotency_keys_replay_the_first_response(
    gateway: Any, fake_services: FakeServices, keys: dict[str, Any]
) -> None:
    client = gateway.client
    headers = {**bearer(keys["ka"]), "Ten99Policy-Idempotent-Key": "k-1"}
    first = await client.post("/api/v1/entities", json={"name": "Nike"}, headers=headers)
    again = await client.post("/api/v1/entities", json={"name": "Nike"}, headers=headers)
    assert first.status_code == 201 and again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true" and again.headers["ten99policy-idempotent-key"] == "k-1"
    assert len(fake_services.calls("contractor", "POST", "/v1/entities")) == 1

    other = await client.post("/api/v1/entities", json={"name": "Adidas"}, headers=headers)
    assert other.status_code == 409 and other.json()["error_code"] == "idempotency_key_reused"
    # the same key belongs to each company separately
    b = await client.post("/api/v1/entities", json={"name": "Adidas"}, headers={**bearer(keys["kb"]), "Idempotency-Key": "k-1"})
    assert b.status_code == 201 and b.json()["tenant"] == keys["b"]
    assert len(fake_services.calls("contractor", "POST", "/v1/entities")) == 2

    # a refused request is not remembered: fixing it and retrying with the same key works
    bad = await client.post("/api/v1/entities", json={}, headers={**bearer(keys["ka"]), "Idempotency-Key": "k-2"})
    assert bad.status_code == 400
    good = await client.post("/api/v1/entities", json={"name": "Puma"}, headers={**bearer(keys["ka"]), "Idempotency-Key": "k-2"})
    assert good.status_code == 201 and good.json()["name"] == "Puma"

    # after 24 hours the key is free again
    gateway.clock.advance(timedelta(hours=24, seconds=1))
    later = await client.post("/api/v1/entities", json={"name": "Adidas"}, headers=headers)
    assert later.status_code == 201 and later.json()["name"] == "Adidas"
    # the clock-driven purge deletes what expired (B's k-1 and A's k-2), not the fresh record
    assert await gateway.runtime.scheduler.run_due() == {"purge_expired_sessions_and_idempotency_keys": 2}
    assert (await client.post("/api/v1/entities", json={"name": "Adidas"}, headers=headers)).headers[
        "idempotent-replayed"
    ] == "true"


async def test_an_unreachable_service_frees_the_idempotency_key(
    gateway: Any, fake_services: FakeServices, keys: dict[str, Any]
) -> None:
    from gateway.adapters.services import ServiceClient

    services = gateway.runtime.gateway.services
    real = services.contractor
    services.contractor = ServiceClient("contractor", "http://127.0.0.1:9", "t", 2.0)
    headers = {**bearer(keys["ka"]), "Idempotency-Key": "k-3"}
    r = await gateway.client.post("/api/v1/entities", json={"name": "Nike"}, headers=headers)
    assert r.status_code == 503 and r.json()["error_code"] == "general_error"
    services.contractor = real
    r = await gateway.client.post("/api/v1/entities", json={"name": "Nike"}, headers=headers)
    assert r.status_code == 201
