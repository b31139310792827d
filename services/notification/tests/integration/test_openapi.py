"""The notification API documents what it answers: every operation has a 2xx response whose body
has a schema, and its errors are the kit's ``{error_code, message}``."""

from __future__ import annotations

from typing import Any

import pytest
from notification_harness import notification
from ten99_testing import SmtpSink

pytestmark = pytest.mark.integration

# the kit's own routes (health, metrics, operator tools), documented by the kit
OPS_PREFIXES = ("/health", "/metrics", "/ops")
METHODS = ("get", "put", "post", "patch", "delete")


def _operations(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{method.upper()} {path}": item[method]
        for path, item in schema["paths"].items()
        if not path.startswith(OPS_PREFIXES)
        for method in METHODS
        if method in item
    }


async def test_every_operation_documents_its_response_body_and_the_error_schema(
    database_url: str, jetstream_url: str, smtp_sink: SmtpSink
) -> None:
    async with notification(database_url, jetstream_url, smtp_sink) as svc:
        r = await svc.ops.get("/schema/openapi.json")
        assert r.status_code == 200, r.text
        schema = r.json()
    operations = _operations(schema)
    assert {
        "GET /v1/deliveries",
        "GET /v1/deliveries/{delivery_id}",
        "GET /v1/mailbox",
        "GET /v1/mailbox/{mail_id}",
        "DELETE /v1/mailbox",
    } <= set(operations)
    for name, operation in operations.items():
        ok = {status: response for status, response in operation["responses"].items() if status.startswith("2")}
        assert ok, name
        for status, response in ok.items():
            content = response.get("content") or {}
            assert content, (name, status)
            for media_type, media in content.items():
                # a JSON body names its Struct; a file is a string of bytes
                expected = "$ref" if media_type == "application/json" else "type"
                assert expected in media["schema"], (name, status, media)
        assert operation["responses"]["default"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }, name
    components = schema["components"]["schemas"]
    assert set(components["Error"]["required"]) == {"error_code", "message"}
    assert {"id", "object", "to", "status", "next_attempt_at"} <= set(components["Delivery"]["properties"])
    assert {"text", "html", "attachments"} <= set(components["DeliveryDetail"]["properties"])
    assert "from" in components["CaughtMail"]["properties"]
    lists = [body for key, body in components.items() if key.startswith("ListEnvelope")]
    assert lists and all({"url", "has_more", "data", "object"} <= set(body["properties"]) for body in lists)
