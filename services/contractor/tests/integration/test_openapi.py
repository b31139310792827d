"""The contractor API documents what it answers: every operation has a 2xx response whose body has
a schema (a Struct, the list envelope, or the error report's CSV text), and its errors are the
kit's ``{error_code, message}``."""

from __future__ import annotations

from ten99_testing.openapi import assert_documented
from ten99_testing.service import RunningService


async def test_every_operation_documents_its_response_body_and_the_error_schema(svc: RunningService) -> None:
    r = await svc.ops.get("/schema/openapi.json")
    assert r.status_code == 200, r.text
    schema = r.json()
    operations = assert_documented(schema)
    assert {
        "GET /v1/entities",
        "POST /v1/contractors",
        "GET /v1/contractors/{contractor_id}/assignments",
        "DELETE /v1/assignments/{assignment_id}",
        "POST /v1/imports",
        "GET /v1/imports/{import_id}/errors.csv",
        "GET /v1/roster",
        "POST /v1/po/bulk-set",
        "POST /v1/integrations/{provider}/webhook",
    } <= set(operations)
    components = schema["components"]["schemas"]
    # 1099Policy's shapes and the list envelope are documented field by field
    assignment = components["AssignmentView"]
    assert {"id", "object", "contractor", "job", "effective_date", "coverage_type", "po_number"} <= set(assignment["properties"])
    lists = [body for key, body in components.items() if key.startswith("ListEnvelope")]
    assert len(lists) >= 6 and all({"url", "has_more", "data", "object"} <= set(body["properties"]) for body in lists)
    # the list parameters are documented on every 1099Policy list
    for path in ("/v1/entities", "/v1/contractors", "/v1/jobs", "/v1/assignments"):
        names = {p["name"] for p in schema["paths"][path]["get"]["parameters"]}
        assert {"limit", "starting_after", "ending_before"} <= names, path
    # request bodies are documented too, the upload's multipart form among them
    upload = schema["paths"]["/v1/imports"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    form = components[upload["$ref"].rsplit("/", 1)[-1]]
    assert {"file", "all_or_nothing", "uploaded_by"} <= set(form["properties"])
    body = schema["paths"]["/v1/contractors"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"first_name", "email", "address", "tax_identification"} <= set(
        components[body["$ref"].rsplit("/", 1)[-1]]["properties"]
    )
