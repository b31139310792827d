"""The dashboard's Webhooks page against a fake of notification's internal API (its shapes: the
endpoint, the endpoint with its secret once, the attempts list, the resend): list, create (the secret
shown once, on the answer to the creation only), enable/disable, delete, the deliveries of an
endpoint with "Send again"; every id from the browser checked; CSRF as every form."""

from __future__ import annotations

import json
from typing import Any

import pytest
from gateway_fakes import FakeServices, Seen, csrf_of, ident, login, make_company
from litestar import Response
from ten99_testing.service import INTERNAL_TOKEN

pytestmark = pytest.mark.integration

WHE_1 = ident("whe", "1")
WH_1 = ident("wh", "1")
SECRET = "whsec_c2VjcmV0LXNob3duLW9uY2U="


class FakeEndpoints:
    """notification's webhook endpoints, in memory, answering as its API does."""

    def __init__(self, fake: FakeServices) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        fake.on("notification", "GET", "/v1/webhook_endpoints", self.list)
        fake.on("notification", "POST", "/v1/webhook_endpoints", self.create)
        fake.on("notification", "GET", r"/v1/webhook_endpoints/whe_\w+", self.retrieve)
        fake.on("notification", "PUT", r"/v1/webhook_endpoints/whe_\w+", self.update)
        fake.on("notification", "DELETE", r"/v1/webhook_endpoints/whe_\w+", self.delete)
        fake.on("notification", "GET", r"/v1/webhook_endpoints/whe_\w+/deliveries", self.attempts)
        fake.on("notification", "POST", r"/v1/webhook_deliveries/wh_\w+/resend", self.resend)

    def list(self, s: Seen) -> Any:
        rows = [r for r in self.rows.values() if r["tenant"] == s.headers["x-tenant-id"]]
        return {"object": "list", "url": "/v1/webhook_endpoints", "has_more": False, "data": [self.view(r) for r in rows]}

    @staticmethod
    def view(row: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in row.items() if k != "tenant"}

    def create(self, s: Seen) -> Any:
        body = json.loads(s.body)
        if not str(body.get("url", "")).startswith("https://"):
            return Response({"error_code": "invalid_input", "message": {"url": "must be an https URL"}}, status_code=400)
        row = {
            "id": WHE_1,
            "object": "webhook_endpoint",
            "url": body["url"],
            "description": body.get("description"),
            "events": body.get("events") or ["*"],
            "status": "enabled",
            "disabled_reason": None,
            "created": 1893456000,
            "updated": 1893456000,
            "tenant": s.headers["x-tenant-id"],
        }
        self.rows[row["id"]] = row
        return {**self.view(row), "secret": SECRET}

    def _mine(self, s: Seen) -> dict[str, Any] | None:
        row = self.rows.get(s.path.split("/")[3])
        return row if row and row["tenant"] == s.headers["x-tenant-id"] else None

    def retrieve(self, s: Seen) -> Any:
        row = self._mine(s)
        missing = {"error_code": "invalid_webhook_endpoint_id", "message": "No such endpoint"}
        return self.view(row) if row else Response(missing, status_code=404)

    def update(self, s: Seen) -> Any:
        row = self._mine(s)
        if row is None:
            return Response({"error_code": "invalid_webhook_endpoint_id", "message": "No such endpoint"}, status_code=404)
        row.update(json.loads(s.body))
        return self.view(row)

    def delete(self, s: Seen) -> Any:
        row = self._mine(s)
        if row is None:
            return Response({"error_code": "invalid_webhook_endpoint_id", "message": "No such endpoint"}, status_code=404)
        del self.rows[row["id"]]
        return {"id": row["id"], "object": "webhook_endpoint", "deleted": True}

    def attempts(self, s: Seen) -> Any:
        attempt = {
            "id": f"{WH_1}.1",
            "object": "webhook_delivery_attempt",
            "delivery": WH_1,
            "event": ident("ev", "1"),
            "event_type": "policy.active",
            "number": 1,
            "attempted_at": 1893456100,
            "succeeded": False,
            "status_code": 500,
            "latency_ms": 87,
            "response_excerpt": "<b>boom</b>",
            "error": None,
            "delivery_status": "pending",
            "next_attempt_at": 1893456200,
        }
        return {"object": "list", "url": s.path, "has_more": True, "data": [attempt]}

    def resend(self, s: Seen) -> Any:
        return Response({"id": WH_1, "object": "webhook_delivery", "status": "pending"}, status_code=202)


@pytest.fixture
async def acme(gateway: Any) -> str:
    company_id = await make_company(gateway, "Acme Talent", "ada@acme.test")
    assert (await login(gateway.client, "ada@acme.test")).status_code == 303
    return company_id


async def test_webhooks_page_creates_an_endpoint_and_shows_its_secret_once(
    gateway: Any, fake_services: FakeServices, acme: str
) -> None:
    FakeEndpoints(fake_services)
    client = gateway.client
    r = await client.get("/webhooks")
    assert r.status_code == 200 and 'data-testid="webhooks-empty"' in r.text and 'data-testid="nav-webhooks"' in r.text
    csrf = csrf_of(r.text)
    # refused by notification: the form again, with the field's message, nothing created
    r = await client.post("/webhooks", data={"_csrf": csrf, "url": "http://x.test/h", "events": ""})
    assert r.status_code == 400 and "must be an https URL" in r.text and 'value="http://x.test/h"' in r.text
    # without the CSRF token: refused, nothing sent
    before = len(fake_services.calls("notification", "POST"))
    r = await client.post("/webhooks", data={"url": "https://hooks.acme.test/t99"})
    assert r.status_code == 403 and len(fake_services.calls("notification", "POST")) == before

    form = {"_csrf": csrf, "url": "https://hooks.acme.test/t99", "events": "policy.active, invoice.created", "description": "ops"}
    r = await client.post("/webhooks", data=form)
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert f'value="{SECRET}"' in r.text and 'data-testid="new-webhook-secret"' in r.text
    assert "policy.active, invoice.created" in r.text and f'data-endpoint-id="{WHE_1}"' in r.text
    sent = fake_services.calls("notification", "POST", "/v1/webhook_endpoints")[-1]
    assert json.loads(sent.body) == {
        "url": "https://hooks.acme.test/t99",
        "description": "ops",
        "events": ["policy.active", "invoice.created"],
    }
    assert sent.headers["x-tenant-id"] == acme and sent.headers["x-ten99-internal-token"] == INTERNAL_TOKEN
    # shown once: the list never has it again
    r = await client.get("/webhooks")
    assert SECRET not in r.text and "https://hooks.acme.test/t99" in r.text


async def test_an_endpoint_s_deliveries_resend_disable_enable_and_delete(
    gateway: Any, fake_services: FakeServices, acme: str
) -> None:
    endpoints = FakeEndpoints(fake_services)
    client = gateway.client
    csrf = csrf_of((await client.get("/webhooks")).text)
    await client.post("/webhooks", data={"_csrf": csrf, "url": "https://hooks.acme.test/t99"})
    assert endpoints.rows[WHE_1]["events"] == ["*"]

    r = await client.get(f"/webhooks/{WHE_1}")
    assert r.status_code == 200
    html = r.text
    assert "policy.active" in html and "87 ms" in html and "&lt;b&gt;boom&lt;/b&gt;" in html and "All events" in html
    assert f"/webhooks/{WHE_1}/deliveries/{WH_1}/resend" in html
    assert f"starting_after={WH_1}.1" in html  # the next page's cursor
    await client.get(f"/webhooks/{WHE_1}?starting_after={WH_1}.1")
    assert fake_services.calls("notification", "GET", rf"/v1/webhook_endpoints/{WHE_1}/deliveries")[-1].query.endswith(
        f"starting_after={WH_1}.1"
    )

    r = await client.post(f"/webhooks/{WHE_1}/deliveries/{WH_1}/resend", data={"_csrf": csrf})
    assert r.status_code == 303 and r.headers["location"] == f"/webhooks/{WHE_1}"
    assert fake_services.calls("notification", "POST", f"/v1/webhook_deliveries/{WH_1}/resend")

    r = await client.post(f"/webhooks/{WHE_1}/status", data={"_csrf": csrf, "status": "disabled"})
    assert r.status_code == 303 and endpoints.rows[WHE_1]["status"] == "disabled"
    assert json.loads(fake_services.calls("notification", "PUT")[-1].body) == {"status": "disabled"}
    assert 'data-testid="webhook-enable"' in (await client.get(f"/webhooks/{WHE_1}")).text
    await client.post(f"/webhooks/{WHE_1}/status", data={"_csrf": csrf, "status": "enabled"})
    assert endpoints.rows[WHE_1]["status"] == "enabled"
    puts = len(fake_services.calls("notification", "PUT"))
    await client.post(f"/webhooks/{WHE_1}/status", data={"_csrf": csrf, "status": "deleted"})
    assert len(fake_services.calls("notification", "PUT")) == puts

    r = await client.post(f"/webhooks/{WHE_1}/delete", data={"_csrf": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/webhooks" and endpoints.rows == {}
    r = await client.get(f"/webhooks/{WHE_1}")
    assert r.status_code == 404


async def test_ids_from_the_browser_are_checked_before_anything_is_sent(
    gateway: Any, fake_services: FakeServices, acme: str
) -> None:
    FakeEndpoints(fake_services)
    client = gateway.client
    csrf = csrf_of((await client.get("/webhooks")).text)
    fake_services.seen.clear()
    for bad in ("whe_short", ident("wh", "1"), "whe_..%2f..%2f_ops", "%2e%2e"):
        assert (await client.get(f"/webhooks/{bad}")).status_code in (400, 404), bad
        r = await client.post(f"/webhooks/{bad}/delete", data={"_csrf": csrf})
        assert r.status_code in (400, 404), bad
    for bad in ("wh_short", ident("whe", "2"), "dl_0000000000000000000001"):
        r = await client.post(f"/webhooks/{WHE_1}/deliveries/{bad}/resend", data={"_csrf": csrf})
        assert r.status_code == 404, bad
    # a cursor that is not an attempt's id is not passed on
    await client.get(f"/webhooks/{WHE_1}?starting_after=x%00y")
    assert all("starting_after" not in s.query for s in fake_services.seen)
    assert all(s.method == "GET" for s in fake_services.seen)
