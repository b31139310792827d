"""Two credentials that never stand in for each other, on a service run as in production
(``development`` false): the operator token opens ``/_ops`` and ``/schema``, the internal token
(the gateway's) opens the service's own API, and neither opens the other's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from billing.bootstrap import definition as billing
from demo import definition as demo
from ten99_testing.service import INTERNAL_TOKEN, OPERATOR_TOKEN, RunningService, running_service

pytestmark = pytest.mark.integration

INTERNAL = {"x-ten99-internal-token": INTERNAL_TOKEN}
OPERATOR_ENDPOINTS = [
    ("GET", "/_ops/clock"),
    ("GET", "/_ops/dead-letters"),
    ("GET", "/schema/openapi.json"),
    ("POST", "/_ops/tick"),
]


@pytest.fixture(params=["demo", "billing"])
async def service(request: pytest.FixtureRequest, database_factory: Any, jetstream_url: str) -> AsyncIterator[RunningService]:
    definition = {"demo": demo, "billing": billing}[request.param]
    async with running_service(
        definition, database_url=await database_factory(request.param[:4]), nats_url=jetstream_url, development=False
    ) as svc:
        svc.client.headers.clear()  # each request below says which credential it carries
        yield svc


@pytest.mark.parametrize(("method", "path"), OPERATOR_ENDPOINTS)
async def test_operator_endpoints_answer_the_operator_token_only(service: RunningService, method: str, path: str) -> None:
    for headers in ({}, INTERNAL, {"x-ten99-operator-token": "wrong"}, {"authorization": f"Bearer {INTERNAL_TOKEN}"}):
        r = await service.client.request(method, path, headers=headers)
        assert r.status_code == 401, (headers, r.text)
        assert r.json()["error_code"] == "invalid_api_key" and r.json()["message"]
    for headers in ({"x-ten99-operator-token": OPERATOR_TOKEN}, {"authorization": f"Bearer {OPERATOR_TOKEN}"}):
        r = await service.client.request(method, path, headers=headers)
        assert r.status_code == 200, (headers, r.text)


async def test_the_operator_token_does_not_open_the_service_api(service: RunningService) -> None:
    path = {"demo": "/notes/count", "billing": "/v1/invoices"}[service.runtime.name]
    tenant = {"x-tenant-id": "co_1"}
    for headers in ({"x-ten99-operator-token": OPERATOR_TOKEN}, {"authorization": f"Bearer {OPERATOR_TOKEN}"}, {}):
        r = await service.client.get(path, headers={**tenant, **headers})
        assert r.status_code == 401 and r.json()["error_code"] == "invalid_api_key", (headers, r.text)
    assert (await service.client.get(path, headers={**tenant, **INTERNAL})).status_code == 200


async def test_probes_and_metrics_stay_open(service: RunningService) -> None:
    for path in ("/livez", "/readyz", "/metrics"):
        assert (await service.client.get(path)).status_code == 200, path
