"""The HTTP app factory on SQLite: health, errors in 1099Policy's shape, OpenAPI, metrics, ops."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from demo import DemoSettings, definition
from ten99kit.migrations import upgrade
from ten99kit.runtime import Runtime

OPERATOR = {"x-ten99-operator-token": "op"}


@pytest.fixture
async def client(sqlite_url: str) -> Any:
    settings = DemoSettings(db={"url": sqlite_url}, internal_token="tok", operator_token="op", clock={"controllable": True})
    await asyncio.to_thread(upgrade, definition.migrations, sqlite_url)
    runtime = Runtime(definition, settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=runtime.app()), base_url="http://t", headers={"x-ten99-internal-token": "tok"}
    ) as c:
        yield c
    await runtime.db.dispose()


async def test_livez_and_readyz(client: Any) -> None:
    assert (await client.get("/livez")).json() == {"status": "ok"}
    r = await client.get("/readyz")
    assert r.status_code == 503  # the bus is not connected in this test
    assert r.json()["checks"]["database"] == "ok"


async def test_errors_have_error_code_and_message(client: Any) -> None:
    r = await client.post("/notes", json={"id": "n1", "text": ""}, headers={"x-tenant-id": "co_1"})
    assert r.status_code == 400
    assert r.json() == {"error_code": "invalid_input", "message": "text is required"}
    r = await client.get("/nope")
    assert r.status_code == 404 and r.json()["error_code"] == "resource_not_found"
    r = await client.get("/notes/count")
    assert r.status_code == 400 and r.json()["error_code"] == "no_tenant_found"
    r = await client.post("/notes", content=b"{not json", headers={"x-tenant-id": "co_1", "content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error_code"] in ("invalid_input", "bad_request")


async def test_internal_token_is_required(client: Any) -> None:
    r = await client.get("/notes/count", headers={"x-tenant-id": "co_1", "x-ten99-internal-token": "wrong"})
    assert r.status_code == 401 and r.json()["error_code"] == "invalid_api_key"


async def test_openapi_metrics_and_correlation_id(client: Any) -> None:
    r = await client.get("/schema/openapi.json", headers=OPERATOR)
    assert r.status_code == 200 and "/notes" in r.json()["paths"]
    r = await client.get("/livez", headers={"x-correlation-id": "abc123"})
    assert r.headers["request-id"] == "abc123"
    served = 'requests_total{app_name="ten99_demo",method="GET",path="/notes/count",status_code="200"} '

    async def count() -> float:  # the registry is the process's: other tests' requests count too
        lines = [line for line in (await client.get("/metrics")).text.splitlines() if served in line]
        return float(lines[0].rsplit(" ", 1)[1]) if lines else 0.0

    before = await count()
    await client.get("/notes/count", headers={"x-tenant-id": "co_1"})
    assert await count() == before + 1


async def test_clock_can_be_moved_and_jobs_ticked(client: Any) -> None:
    r = await client.put("/_ops/clock", json={"now": "2030-01-01T00:00:00Z"}, headers=OPERATOR)
    assert r.json()["now"].startswith("2030-01-01T00:00:0")
    r = await client.post("/_ops/tick", headers=OPERATOR)
    assert r.json()["jobs"] == {"demo": 1}
