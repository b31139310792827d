"""The notification API documents what it answers: every operation has a 2xx response whose body
has a schema, and its errors are the kit's ``{error_code, message}``."""

from __future__ import annotations

import pytest
from notification_harness import notification
from ten99_testing import SmtpSink
from ten99_testing.openapi import assert_documented

pytestmark = pytest.mark.integration


async def test_every_operation_documents_its_response_body_and_the_error_schema(
    database_url: str, jetstream_url: str, smtp_sink: SmtpSink
) -> None:
    async with notification(database_url, jetstream_url, smtp_sink) as svc:
        r = await svc.ops.get("/schema/openapi.json")
        assert r.status_code == 200, r.text
        schema = r.json()
    operations = assert_documented(schema)
    assert {
        "GET /v1/deliveries",
        "GET /v1/deliveries/{delivery_id}",
        "GET /v1/mailbox",
        "GET /v1/mailbox/{mail_id}",
        "DELETE /v1/mailbox",
        "GET /v1/events",
        "GET /v1/events/{event_id}",
        "GET /v1/webhook_endpoints",
        "POST /v1/webhook_endpoints",
        "GET /v1/webhook_endpoints/{endpoint_id}",
        "PUT /v1/webhook_endpoints/{endpoint_id}",
        "DELETE /v1/webhook_endpoints/{endpoint_id}",
        "POST /v1/webhook_endpoints/{endpoint_id}/secret",
        "GET /v1/webhook_endpoints/{endpoint_id}/deliveries",
        "POST /v1/webhook_deliveries/{delivery_id}/resend",
    } <= set(operations)
    components = schema["components"]["schemas"]
    assert {"id", "object", "to", "status", "next_attempt_at"} <= set(components["Delivery"]["properties"])
    assert {"text", "html", "attachments"} <= set(components["DeliveryDetail"]["properties"])
    assert "from" in components["CaughtMail"]["properties"]
    assert {"id", "object", "type", "created", "data"} <= set(components["Event"]["properties"])
    assert "secret" not in components["WebhookEndpoint"]["properties"]
    assert "secret" in components["WebhookEndpointWithSecret"]["properties"]
    assert {"status_code", "latency_ms", "response_excerpt", "error"} <= set(components["WebhookAttempt"]["properties"])
    list_events = operations["GET /v1/events"]
    assert {"type", "created_gte", "created_lte", "limit", "starting_after", "ending_before"} <= {
        p["name"] for p in list_events["parameters"]
    }
    lists = [body for key, body in components.items() if key.startswith("ListEnvelope")]
    assert lists and all({"url", "has_more", "data", "object"} <= set(body["properties"]) for body in lists)
