"""The public API describes itself: its OpenAPI 3.1 document at ``/api/v1/openapi.json`` (no key
needed) names every operation of the allow-list, and the reference page ``/api/docs`` renders it
locally (no CDN, nothing from another origin)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from gateway.api.public_api import OPERATIONS
from gateway_fakes import FakeServices

pytestmark = pytest.mark.integration


def documented(op: Any) -> tuple[str, str]:
    return "/api/v1" + re.sub(r"\{(\w+):str\}", r"{\1}", op.path), op.method.value.lower()


async def test_the_openapi_document_is_served_without_a_key_and_names_every_operation(
    gateway: Any, fake_services: FakeServices
) -> None:
    r = await gateway.client.get("/api/v1/openapi.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    schema = r.json()
    assert schema["openapi"].startswith("3.1")
    for op in OPERATIONS:
        path, method = documented(op)
        assert schema["paths"][path][method]["operationId"] == op.name, op.name
    assert {"bearer", "basic"} <= set(schema["components"]["securitySchemes"])
    assert set(schema["components"]["schemas"]["Error"]["required"]) == {"error_code", "message"}
    # the rest of /api/v1 still needs a key, and the document reached no service
    assert (await gateway.client.get("/api/v1/entities")).status_code == 401
    assert fake_services.seen == []


async def test_the_reference_page_renders_every_operation_and_schema_locally(gateway: Any, fake_services: FakeServices) -> None:
    r = await gateway.client.get("/api/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    for op in OPERATIONS:
        assert f'data-operation="{op.name}"' in html, op.name
    assert 'data-schema="Error"' in html and 'data-schema="EntityView"' in html
    # nothing from elsewhere: every script and stylesheet is the gateway's own
    assert not re.search(r"""<(script|link)[^>]+(src|href)=["']?(https?:)?//""", html)
    assert "script-src 'self'" in r.headers["content-security-policy"]
