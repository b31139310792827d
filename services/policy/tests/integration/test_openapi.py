"""The policy API documents what it answers: every operation has a 2xx response whose body has a
schema, and its errors are the kit's ``{error_code, message}``."""

from __future__ import annotations

from ten99_testing.openapi import assert_documented


async def test_every_operation_documents_its_response_body_and_the_error_schema(start_policy) -> None:
    async with start_policy() as svc:
        r = await svc.ops.get("/schema/openapi.json")
        assert r.status_code == 200, r.text
        schema = r.json()
    operations = assert_documented(schema)
    assert {"GET /v1/policies", "GET /v1/policies/{policy_id}", "GET /v1/coverages", "GET /v1/certificates"} <= set(operations)
    components = schema["components"]["schemas"]
    # the list envelope and the policy's shape are documented field by field
    policy = next(body for key, body in components.items() if key == "Policy")
    assert {"id", "object", "contractor", "certificates", "expiration_date"} <= set(policy["properties"])
    lists = [body for key, body in components.items() if key.startswith("ListEnvelope")]
    assert lists and all({"url", "has_more", "data", "object"} <= set(body["properties"]) for body in lists)
