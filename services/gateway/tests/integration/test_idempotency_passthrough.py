"""Idempotency keys reach the service that acts (found by the chaos harness, bench/chaos.py).

The gateway records a key's response after the service committed. When it died, or lost its
database, in between (or the service committed and then failed to answer), the key stayed claimed
with no response: retries got 409 ``request_in_progress`` for two minutes, then ran again and
created a second contractor ("duplicate_email" for the client whose create had worked). Now the key
goes to the service, which deduplicates the creates in its own transaction, so the gateway asks it
again instead of refusing or remembering a failure."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from gateway.api import public_api
from gateway.application.api_keys import create_api_key
from gateway.application.idempotency import claim, request_fingerprint
from gateway_fakes import FakeServices, make_company
from litestar import Response
from ten99kit.request_keys import IDEMPOTENCY_KEY_HEADER

pytestmark = pytest.mark.integration


@pytest.fixture
async def api(gateway: Any) -> dict[str, Any]:
    company = await make_company(gateway, "A", "a@a.test")
    key = await create_api_key(gateway.db, company_id=company, name="a", created_by=None, prefix="t9sk_test_")
    return {"company": company, "headers": {"Authorization": f"Bearer {key.key}"}}


def forwarded_keys(fake: FakeServices, path: str = "/v1/entities") -> list[str | None]:
    return [s.headers.get(IDEMPOTENCY_KEY_HEADER) for s in fake.calls("contractor", "POST", path)]


async def test_the_key_is_passed_on_bound_to_the_request(gateway: Any, fake_services: FakeServices, api: dict[str, Any]) -> None:
    c = gateway.client
    await c.post("/api/v1/entities", json={"name": "Nike"}, headers={**api["headers"], "Idempotency-Key": "k-1"})
    await c.post("/api/v1/entities", json={"name": "Nike"}, headers={**api["headers"], "Idempotency-Key": "k-2"})
    await c.post("/api/v1/entities", json={"name": "Nike"}, headers=api["headers"])
    first, second, none = forwarded_keys(fake_services)
    assert first and second and len(first) == 64 and first != second and "k-1" not in first
    assert none is None
    # once the gateway forgot the key (24 h), the same key with another request is another key at the service
    gateway.clock.advance(timedelta(hours=25))
    await c.post("/api/v1/entities", json={"name": "Adidas"}, headers={**api["headers"], "Idempotency-Key": "k-1"})
    assert forwarded_keys(fake_services)[-1] not in (first, second)


async def test_a_service_failure_on_a_create_is_not_remembered(
    gateway: Any, fake_services: FakeServices, api: dict[str, Any]
) -> None:
    failures = [1]

    def flaky(_: Any) -> Any:
        if failures:
            failures.pop()
            return Response({"error_code": "general_error", "message": "database restarting"}, status_code=500)
        return Response({"id": "en_1", "object": "entity", "name": "Nike"}, status_code=200)

    fake_services.on("contractor", "POST", "/v1/entities", flaky)
    headers = {**api["headers"], "Idempotency-Key": "k-flaky"}
    assert (await gateway.client.post("/api/v1/entities", json={"name": "Nike"}, headers=headers)).status_code == 500
    again = await gateway.client.post("/api/v1/entities", json={"name": "Nike"}, headers=headers)
    assert again.status_code == 200 and again.json()["id"] == "en_1"
    assert "idempotent-replayed" not in again.headers
    keys = forwarded_keys(fake_services)
    assert len(keys) == 2 and keys[0] == keys[1]  # the service sees one key: it answers with what it made


async def test_a_lost_record_does_not_block_or_fail_the_create(
    gateway: Any, fake_services: FakeServices, api: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = public_api.record_response

    async def database_gone(*_: Any, **__: Any) -> None:
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(public_api, "record_response", database_gone)
    headers = {**api["headers"], "Idempotency-Key": "k-lost"}
    first = await gateway.client.post("/api/v1/entities", json={"name": "Nike"}, headers=headers)
    assert first.status_code == 201  # the service made it: the client hears so, not a 500
    monkeypatch.setattr(public_api, "record_response", real)
    # the key is still claimed with no response: a create's retry is asked of the service again
    again = await gateway.client.post("/api/v1/entities", json={"name": "Nike"}, headers=headers)
    assert again.status_code == 201
    keys = forwarded_keys(fake_services)
    assert len(keys) == 2 and keys[0] == keys[1]
    # and from now on it is replayed by the gateway
    third = await gateway.client.post("/api/v1/entities", json={"name": "Nike"}, headers=headers)
    assert third.headers["idempotent-replayed"] == "true" and third.json() == again.json()


async def test_a_claim_without_response_blocks_what_the_service_does_not_deduplicate(
    gateway: Any, fake_services: FakeServices, api: dict[str, Any]
) -> None:
    body = b'{"contractor": "cn_0000000000000000000001", "job": "jb_0000000000000000000001"}'
    for path in ("/quotes", "/entities", "/invoices"):
        got = await claim(
            gateway.db,
            tenant_id=api["company"],
            key=f"k-stuck{path}",
            fingerprint=request_fingerprint("POST", path, "", body),
            method="POST",
            path=f"/api/v1{path}",
            ttl=timedelta(hours=24),
        )
        assert got.outcome == "new"  # as a gateway that died after claiming left it
    headers = {**api["headers"], "Content-Type": "application/json"}
    quote = await gateway.client.post("/api/v1/quotes", content=body, headers={**headers, "Idempotency-Key": "k-stuck/quotes"})
    assert quote.status_code == 409 and quote.json()["error_code"] == "request_in_progress"
    entity = await gateway.client.post(
        "/api/v1/entities", content=body, headers={**headers, "Idempotency-Key": "k-stuck/entities"}
    )
    assert entity.status_code != 409 and len(fake_services.calls("contractor", "POST", "/v1/entities")) == 1
    # billing deduplicates usage invoices by the key too: the call goes on
    invoice = await gateway.client.post(
        "/api/v1/invoices", content=body, headers={**headers, "Idempotency-Key": "k-stuck/invoices"}
    )
    assert invoice.status_code != 409 and len(fake_services.calls("billing", "POST", "/v1/invoices")) == 1
