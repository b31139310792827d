"""The public API's own description: the OpenAPI 3.1 document built by ``scripts/public_openapi.py``
from the services' typed request and response Structs (committed beside this module, kept current
by a test), served at ``GET /api/v1/openapi.json`` without an API key, and the view of it that the
reference page ``GET /api/docs`` renders (operations, parameters, schemas; nothing from a CDN)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from litestar import MediaType, Response, get

__all__ = ["DOCUMENT", "openapi_document", "public_openapi", "reference_view", "type_of"]

DOCUMENT = Path(__file__).parent / "public-openapi.json"
METHODS = ("get", "post", "put", "delete")


@cache
def _document_bytes() -> bytes:
    return DOCUMENT.read_bytes()


@cache
def public_openapi() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(_document_bytes())
    return document


@get("/openapi.json", name="public_api.openapi", include_in_schema=False)
async def openapi_document() -> Response[bytes]:
    """The public API's OpenAPI 3.1 document: no API key needed (it holds no company's data)."""
    return Response(_document_bytes(), media_type=MediaType.JSON, headers={"Cache-Control": "public, max-age=300"})


def type_of(schema: Any) -> str:
    """A schema as a short phrase: ``string``, ``EntityView``, ``array of JobView``, ``integer or null``."""
    if not isinstance(schema, dict):
        return "any"
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[1]
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return " or ".join(dict.fromkeys(type_of(s) for s in schema[key]))
    if "allOf" in schema:
        return " and ".join(type_of(s) for s in schema["allOf"])
    kind = schema.get("type")
    if kind == "array":
        return f"array of {type_of(schema.get('items'))}"
    if isinstance(kind, list):
        return " or ".join(str(k) for k in kind)
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    if kind == "object" and schema.get("additionalProperties"):
        return f"object of {type_of(schema['additionalProperties'])}"
    return str(kind or "any")


def _body_type(content: Any) -> str:
    if not isinstance(content, dict) or not content:
        return ""
    return "; ".join(f"{type_of(media.get('schema'))} ({media_type})" for media_type, media in content.items())


def _operation_view(method: str, path: str, operation: dict[str, Any]) -> dict[str, Any]:
    body = operation.get("requestBody") or {}
    return {
        "id": operation.get("operationId", f"{method}-{path}"),
        "method": method.upper(),
        "path": path,
        "summary": operation.get("summary", ""),
        "description": operation.get("description", ""),
        "pending": bool(operation.get("x-ten99-pending")),
        "parameters": [
            {
                "name": p["name"],
                "where": p["in"],
                "required": bool(p.get("required")),
                "type": type_of(p.get("schema")),
                "description": p.get("description", ""),
            }
            for p in operation.get("parameters", [])
        ],
        "body": _body_type(body.get("content")),
        "responses": [
            {"status": status, "type": _body_type(r.get("content")), "description": r.get("description", "")}
            for status, r in operation.get("responses", {}).items()
        ],
    }


def _schema_view(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    required = set(schema.get("required", []))
    return {
        "name": name,
        "description": schema.get("description", ""),
        "type": "" if schema.get("properties") else type_of(schema),
        "properties": [
            {"name": key, "type": type_of(value), "required": key in required, "description": value.get("description", "")}
            for key, value in (schema.get("properties") or {}).items()
        ],
    }


@cache
def reference_view() -> dict[str, Any]:
    """What the reference page shows: operations by tag (in the allow-list's order) and the schemas."""
    document = public_openapi()
    tags: dict[str, list[dict[str, Any]]] = {}
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                operation = item[method]
                tags.setdefault((operation.get("tags") or ["other"])[0], []).append(_operation_view(method, path, operation))
    schemas = document["components"]["schemas"]
    return {
        "title": document["info"]["title"],
        "description": document["info"].get("description", ""),
        "tags": list(tags.items()),
        "schemas": [_schema_view(name, schemas[name]) for name in sorted(schemas)],
    }
