"""The public API's OpenAPI 3.1 document (``/api/v1``), built from the services' own.

Every service documents its typed request and response Structs in its own OpenAPI; the gateway's
public API is an allow-list of those operations (`gateway.api.public_api.OPERATIONS`). This script
builds each service's app in-process (no database or NATS connection is made: the schema is
computed from the routes), takes for each operation of the allow-list the service operation it is
forwarded to (its parameters, request body, responses and the components they use), rewrites it to
the public path (``/api/v1/...``, ids checked by the gateway's patterns, only the query parameters
the gateway passes on), adds the two ways to send an API key and the error schema, and writes
``services/gateway/src/gateway/api/public-openapi.json``, which the gateway serves at
``GET /api/v1/openapi.json`` and renders at ``GET /api/docs``.

    .venv/bin/python scripts/public_openapi.py           # write the document
    .venv/bin/python scripts/public_openapi.py --check   # exit 1 if the committed one is stale

A test (``tests/api/test_public_openapi.py``) fails while the committed document differs from what
this script builds, so a change to a service's API shows up here in the same commit.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "services" / "gateway" / "src" / "gateway" / "api" / "public-openapi.json"
SERVICES = ("contractor", "enrollment", "policy", "billing", "notification")
IDEMPOTENCY_HEADERS = ("Ten99Policy-Idempotent-Key", "Idempotency-Key")
ERROR_REF = {"$ref": "#/components/schemas/Error"}

DESCRIPTION = """ten99's public API, compatible with 1099Policy's: its official SDKs work pointed at this
gateway (`ten99policy.api_base`). Authenticate with an API key (`Authorization: Bearer t9sk_...`, or HTTP
Basic with the key as user name). Lists answer `{"object": "list", "url", "has_more", "data"}` with
`limit` (1 to 100), `starting_after` and `ending_before`; errors answer `{"error_code", "message"}`
with 1099Policy's codes; a POST with an idempotency key replays its first answer for 24 hours.
See docs/public-api.md."""


def service_schema(service: str) -> dict[str, Any]:
    """The service's own OpenAPI, from its app built in-process (nothing is connected)."""
    from ten99kit.runtime import Runtime

    definition = importlib.import_module(f"{service}.bootstrap").definition
    settings = definition.settings_type.model_validate(
        {
            "db": {"url": "sqlite+aiosqlite:///:memory:"},
            "development": True,
            "internal_token": "schema-internal",  # never used: nothing is served
            "operator_token": "schema-operator",
        }
    )
    schema: dict[str, Any] = Runtime(definition, settings).app().openapi_schema.to_schema()
    return schema


# ------------------------------------------------------------------ components


def _refs(value: Any) -> set[str]:
    """The component names ``value`` refers to (not followed)."""
    if isinstance(value, dict):
        found = set()
        ref = value.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for item in value.values():
            found |= _refs(item)
        return found
    if isinstance(value, list):
        return set().union(*(_refs(item) for item in value)) if value else set()
    return set()


def _closure(components: dict[str, Any], names: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen or name not in components:
            continue
        seen.add(name)
        todo.extend(_refs(components[name]))
    return seen


def _renamed(value: Any, names: dict[str, str]) -> Any:
    """``value`` with its component references renamed."""
    if isinstance(value, dict):
        out = {key: _renamed(item, names) for key, item in value.items()}
        ref = value.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            out["$ref"] = "#/components/schemas/" + names.get(ref.rsplit("/", 1)[1], ref.rsplit("/", 1)[1])
        return out
    if isinstance(value, list):
        return [_renamed(item, names) for item in value]
    return value


def public_names(used: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Per service, its component names in the public document: a name two services give to different
    schemas becomes ``<service>_<name>`` in each (whatever order the services are read in)."""
    owners: dict[str, list[tuple[str, Any]]] = {}
    for service, components in used.items():
        for name, body in components.items():
            owners.setdefault(name, []).append((service, body))
    names: dict[str, dict[str, str]] = {service: {} for service in used}
    for name, holders in owners.items():
        shared = all(body == holders[0][1] for _, body in holders)
        for service, _ in holders:
            names[service][name] = name if shared else f"{service}_{name}"
    return names


# ------------------------------------------------------------------ operations


def _normal(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def upstream_operation(schema: dict[str, Any], op: Any) -> dict[str, Any]:
    """The service's operation the gateway forwards ``op`` to; while the service does not offer it
    yet, a placeholder marked ``x-ten99-pending`` (an object in, an object or an error out)."""
    target = _normal(op.upstream or "/v1" + re.sub(r"\{(\w+):str\}", r"{\1}", op.path))
    method = op.method.value.lower()
    if op.refuses:  # the SDK offers it; the service answers only these errors (docs/public-api.md)
        error = {"content": {"application/json": {"schema": ERROR_REF}}}
        answers = {str(status): {"description": f"{code}: {when}", **error} for status, code, when in op.refuses}
        return {"summary": op.name, "description": "Refused, with a 1099Policy error saying how", "responses": answers}
    for path, item in schema["paths"].items():
        if _normal(path) == target and method in item:
            found: dict[str, Any] = item[method]
            return found
    print(f"warning: {op.service} documents no {op.method.value} {target} yet (for {op.name})", file=sys.stderr)
    anything = {"content": {"application/json": {"schema": {"type": "object"}}}}
    pending: dict[str, Any] = {
        "summary": op.name,
        "x-ten99-pending": True,
        "responses": {"200": {"description": "not documented by the service yet", **anything}},
    }
    if op.method.value in ("POST", "PUT"):
        pending["requestBody"] = {"required": False, **anything}
    return pending


def public_path(op: Any) -> str:
    return "/api/v1" + re.sub(r"\{(\w+):str\}", r"{\1}", op.path)


def _parameters(op: Any, upstream: dict[str, Any], id_params: dict[str, Any]) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    for name in re.findall(r"\{(\w+):str\}", op.path):
        kind = id_params[name]
        params.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "description": f"The {kind.noun}'s id ({kind.prefix}_...); a malformed one is a 404 {kind.error_code}",
                "schema": {"type": "string", "pattern": f"^{kind.regex}$"},
            }
        )
    hidden = op.id_as_query[1] if op.id_as_query else None
    documented = {p["name"]: p for p in upstream.get("parameters", []) if p.get("in") == "query"}
    for name in op.query:
        if name == hidden:
            continue
        params.append(documented.get(name) or {"name": name, "in": "query", "required": False, "schema": {"type": "string"}})
    if op.method.value == "POST":
        for header in IDEMPOTENCY_HEADERS:
            params.append(
                {
                    "name": header,
                    "in": "header",
                    "required": False,
                    "description": "Replays this POST's first answer for 24 hours (either header)",
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                }
            )
    return params


def _by_job_body(upstream: dict[str, Any]) -> dict[str, Any]:
    """1099Policy's cancel and extend name the job (``job_id``) beside the assignment's own body."""
    job = {"type": "object", "required": ["job_id"], "properties": {"job_id": {"type": "string", "pattern": "^jb_"}}}
    body = (upstream.get("requestBody") or {}).get("content", {}).get("application/json", {}).get("schema")
    schema = {"allOf": [body, job]} if body else job
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def public_operation(op: Any, upstream: dict[str, Any], id_params: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": op.name,
        "tags": [op.path.strip("/").split("/")[0].replace("apply", "application sessions")],
        "summary": upstream.get("summary") or op.name,
        "parameters": _parameters(op, upstream, id_params),
        "responses": copy.deepcopy(upstream["responses"]),
    }
    if upstream.get("description"):
        operation["description"] = upstream["description"]
    if upstream.get("x-ten99-pending"):
        operation["x-ten99-pending"] = True
    if op.by_job:
        operation["requestBody"] = _by_job_body(upstream)
    elif upstream.get("requestBody"):
        operation["requestBody"] = copy.deepcopy(upstream["requestBody"])
    responses = operation["responses"]
    error = {"content": {"application/json": {"schema": ERROR_REF}}}
    if op.in_transit:  # gateway.api.arrivals
        text = "resource_not_ready: an id it names was made a moment ago and is on its way; retry (Retry-After)"
        responses.setdefault("409", {"description": text, **error})
    responses.setdefault("401", {"description": "No API key, or not a valid one (invalid_api_key)", **error})
    responses.setdefault("503", {"description": "The service behind it could not answer (general_error)", **error})
    responses.setdefault("default", {"description": "An error", **error})
    return operation


# ------------------------------------------------------------------ the document


def build(schemas: dict[str, dict[str, Any]]) -> dict[str, Any]:
    from gateway.api.public_api import ID_PARAMS, OPERATIONS

    picked = [(op, upstream_operation(schemas[op.service], op)) for op in OPERATIONS]
    used: dict[str, dict[str, Any]] = {}
    for op, upstream in picked:
        own = schemas[op.service]["components"]["schemas"]
        for name in _closure(own, _refs(upstream)):
            used.setdefault(op.service, {})[name] = own[name]
    names = public_names(used)
    paths: dict[str, dict[str, Any]] = {}
    for op, upstream in picked:
        operation = _renamed(public_operation(op, upstream, ID_PARAMS), names[op.service])
        paths.setdefault(public_path(op), {})[op.method.value.lower()] = operation
    components: dict[str, Any] = {}
    for service, found in used.items():
        for name, body in found.items():
            components[names[service][name]] = _renamed(body, names[service])
    components["Error"] = schemas["contractor"]["components"]["schemas"]["Error"]
    return {
        "openapi": "3.1.0",
        "info": {"title": "ten99 public API", "version": "1", "description": DESCRIPTION},
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <API key>"},
                "basic": {"type": "http", "scheme": "basic", "description": "the API key as user name, no password"},
            },
        },
        "security": [{"bearer": []}, {"basic": []}],
    }


def document() -> dict[str, Any]:
    return build({service: service_schema(service) for service in SERVICES})


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed document is not what it builds")
    args = parser.parse_args(argv)
    text = render(document())
    if args.check:
        current = OUTPUT.read_text() if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT.relative_to(ROOT)} is stale: run scripts/public_openapi.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT.relative_to(ROOT)} ({len(doc_paths(text))} paths)")
    return 0


def doc_paths(text: str) -> list[str]:
    return list(json.loads(text)["paths"])


if __name__ == "__main__":
    sys.exit(main())
