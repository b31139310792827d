"""What every service's OpenAPI must say, checked one way: each operation of the service's own API
has a 2xx response whose body has a schema (a JSON body names a documented object, a file or CSV
body a type), and its errors are the kit's ``{error_code, message}`` (``Error``)."""

from __future__ import annotations

from typing import Any

__all__ = ["KIT_PATHS", "assert_documented", "component", "operations"]

#: the kit's own routes (health, metrics, operator tools, the schema itself), documented by the kit
KIT_PATHS = ("/_ops", "/livez", "/readyz", "/metrics", "/schema", "/health", "/ops")
METHODS = ("get", "put", "post", "patch", "delete")
ERROR = {"$ref": "#/components/schemas/Error"}


def operations(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``"GET /v1/things"`` -> its operation, for the service's own routes."""
    return {
        f"{method.upper()} {path}": item[method]
        for path, item in schema["paths"].items()
        if not path.startswith(KIT_PATHS)
        for method in METHODS
        if method in item
    }


def component(schema: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """A body's schema with a ``$ref`` followed."""
    ref = body.get("$ref")
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else body


def _documented_object(schema: dict[str, Any], body: dict[str, Any]) -> bool:
    resolved = component(schema, body)
    variants = [component(schema, v) for v in resolved.get("oneOf", [resolved])]
    return all(v.get("type") == "object" and v.get("properties") for v in variants)


def assert_documented(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Assert the rules above for every operation; returns the operations for further checks."""
    assert set(schema["components"]["schemas"]["Error"]["required"]) == {"error_code", "message"}
    found = operations(schema)
    assert found, "no operation documented"
    for name, operation in found.items():
        ok = {status: r for status, r in operation["responses"].items() if status.startswith("2")}
        assert ok, f"{name}: no 2xx response"
        for status, response in ok.items():
            content = response.get("content") or {}
            assert content, f"{name} {status}: no body schema"
            for media_type, media in content.items():
                if media_type == "application/json":
                    assert _documented_object(schema, media["schema"]), f"{name} {status}: not a documented object"
                else:
                    assert "type" in media["schema"], f"{name} {status} {media_type}: no type"
        assert operation["responses"]["default"]["content"]["application/json"]["schema"] == ERROR, name
    return found
