"""The public API, ``/api/v1/...``, compatible with 1099Policy's (so its SDKs work pointed here).

- Auth: ``Authorization: Bearer <api key>``, or HTTP Basic with the key as user name. The key
  decides the company: the tenant sent to the services is always the key's, never the caller's.
- Resources are the services' 1099Policy-shaped ``/v1`` resources, passed through (status and
  body); list envelopes get their ``url`` rewritten to ``/api/v1/...``.
- Idempotency: a POST with ``Ten99Policy-Idempotent-Key`` (or ``Idempotency-Key``) replays its
  first response for 24 h; the same key with a different request is refused (409
  ``idempotency_key_reused``); a retry while the first is running gets 409 ``request_in_progress``.
- Every response has a ``request-id`` header (the correlation id, also sent to the services).
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import msgspec
from litestar import HttpMethod, MediaType, Request, Response, Router, route
from litestar.params import FromPath

from ..adapters.services import ServiceError, ServiceUnavailable
from ..application.api_keys import authenticate_api_key
from ..application.idempotency import abandon, claim, record_response, request_fingerprint
from ..web.common import gateway_of

__all__ = ["ApiAuthError", "public_api_router"]

#: first path segment -> the service that owns the resource
RESOURCES = {
    "entities": "contractor",
    "contractors": "contractor",
    "jobs": "contractor",
    "category_codes": "contractor",
    "assignments": "contractor",
    "quotes": "enrollment",
    "apply": "enrollment",
    "policies": "policy",
    "invoices": "billing",
    "events": "notification",
    "webhook_endpoints": "notification",
}
IDEMPOTENCY_HEADERS = ("ten99policy-idempotent-key", "idempotency-key")


class ApiAuthError(Exception):
    pass


def _error(status_code: int, error_code: str, message: Any, headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(
        {"error_code": error_code, "message": message}, status_code=status_code, media_type=MediaType.JSON, headers=headers
    )


def api_key_of(request: Request[Any, Any, Any]) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[0] or None
    return None


def query_pairs(raw_query: str) -> list[tuple[str, str]]:
    """The query's parameters. 1099Policy's Python SDK sends a GET's parameters as a JSON object in
    the query string (``?{"email": "a@b.c"}``); both that and the usual form are understood."""
    text = unquote_plus(raw_query or "")
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            pairs: list[tuple[str, str]] = []
            for key, value in data.items():
                for item in value if isinstance(value, list) else [value]:
                    if item is None:
                        continue
                    pairs.append((str(key), json.dumps(item) if isinstance(item, bool | dict) else str(item)))
            return pairs
    return parse_qsl(raw_query or "", keep_blank_values=False)


def _rewrite_list_url(body: bytes, content_type: str) -> bytes:
    if "json" not in content_type or not body.startswith(b"{"):
        return body
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if (
        isinstance(data, dict)
        and data.get("object") == "list"
        and isinstance(data.get("url"), str)
        and data["url"].startswith("/v1/")
    ):
        data["url"] = "/api" + data["url"]
        return msgspec.json.encode(data)
    return body


async def _forward(request: Request[Any, Any, Any], tenant: str, method: str, path: str, body: bytes) -> tuple[int, str, bytes]:
    """Pass the call to the owning service; returns status, content type and body."""
    gateway = gateway_of(request)
    segments = [s for s in path.split("/") if s]
    if not segments or segments[0] not in RESOURCES:
        return (
            404,
            MediaType.JSON,
            msgspec.json.encode({"error_code": "resource_not_found", "message": f"No such resource: /api/v1/{path}"}),
        )
    client = gateway.services.by_name(RESOURCES[segments[0]])
    params: Any = query_pairs(request.url.query)
    target = "/v1/" + "/".join(segments)
    # 1099Policy's sub-resource: a contractor's policies
    if len(segments) == 3 and segments[0] == "contractors" and segments[2] == "policies" and method == "GET":
        client = gateway.services.policy
        target = "/v1/policies"
        params = [*params, ("contractor", segments[1])]
    # 1099Policy's cancel/extend are keyed by job_id: find the job's live assignment
    if len(segments) == 2 and segments[0] == "assignments" and segments[1] in ("cancel", "extend") and method == "POST":
        resolved = await _assignment_by_job(request, tenant, body)
        if isinstance(resolved, tuple):
            return resolved
        target = f"/v1/assignments/{resolved}/{segments[1]}"
    headers = {"Content-Type": request.headers.get("content-type", "application/json")} if body else {}
    upstream = await client.request(method, target, tenant=tenant, params=params, content=body or None, headers=headers)
    content_type = upstream.headers.get("content-type", MediaType.JSON)
    return upstream.status_code, content_type, _rewrite_list_url(upstream.content, content_type)


async def _assignment_by_job(request: Request[Any, Any, Any], tenant: str, body: bytes) -> str | tuple[int, str, bytes]:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return 400, MediaType.JSON, msgspec.json.encode({"error_code": "invalid_input", "message": "The body is not valid JSON"})
    job_id = data.get("job_id") or data.get("job") if isinstance(data, dict) else None
    if not job_id or not isinstance(job_id, str):
        return 400, MediaType.JSON, msgspec.json.encode({"error_code": "invalid_job_id", "message": "job_id is required"})
    listing = await gateway_of(request).services.contractor.get(
        "/v1/assignments", tenant=tenant, params={"job": job_id, "limit": 100}
    )
    rows = listing.get("data", []) if isinstance(listing, dict) else []
    live = [r for r in rows if str(r.get("status") or "") not in ("cancelled", "deleted")] or rows
    if not live:
        return (
            404,
            MediaType.JSON,
            msgspec.json.encode({"error_code": "invalid_assignment_id", "message": f"No assignment for job {job_id}"}),
        )
    return str(live[0]["id"])


@route("/{path:path}", http_method=[HttpMethod.GET, HttpMethod.POST, HttpMethod.PUT, HttpMethod.DELETE, HttpMethod.PATCH])
async def api_call(request: Request[Any, Any, Any], path: FromPath[str]) -> Response[Any]:
    gateway = gateway_of(request)
    key = api_key_of(request)
    tenant = await authenticate_api_key(gateway.db, key) if key else None
    if tenant is None:
        return _error(
            401,
            "invalid_api_key",
            "Missing or invalid API key: send Authorization: Bearer <key>",
            headers={"WWW-Authenticate": 'Bearer realm="ten99"'},
        )
    method = request.method.upper()
    body = await request.body()
    idem_key = (
        next((request.headers[h] for h in IDEMPOTENCY_HEADERS if request.headers.get(h)), None) if method == "POST" else None
    )
    if idem_key is None:
        try:
            status, content_type, content = await _forward(request, tenant, method, path, body)
        except ServiceUnavailable as e:
            return _error(503, "general_error", f"The {e.service} service {e.reason}; retry later")
        except ServiceError as e:
            return _error(e.status_code, e.error_code, e.message)
        return Response(content, status_code=status, media_type=content_type)

    idem_key = idem_key.strip()
    echo = {"Ten99Policy-Idempotent-Key": idem_key}
    if not idem_key or len(idem_key) > 255:
        return _error(400, "invalid_input", "The idempotency key must have 1 to 255 characters")
    fingerprint = request_fingerprint(method, path, request.url.query or "", body)
    got = await claim(
        gateway.db,
        tenant_id=tenant,
        key=idem_key,
        fingerprint=fingerprint,
        method=method,
        path=f"/api/v1/{path.lstrip('/')}",
        ttl=timedelta(seconds=gateway.settings.idempotency_ttl_s),
    )
    if got.outcome == "mismatch":
        return _error(
            409, "idempotency_key_reused", "This idempotency key was already used with a different request", headers=echo
        )
    if got.outcome == "in_progress":
        return _error(
            409,
            "request_in_progress",
            "A request with this idempotency key is still being processed; retry shortly",
            headers=echo,
        )
    if got.outcome == "replay":
        return Response(
            got.body or b"",
            status_code=got.status_code or 200,
            media_type=got.content_type or MediaType.JSON,
            headers={**echo, "Idempotent-Replayed": "true"},
        )
    try:
        status, content_type, content = await _forward(request, tenant, method, path, body)
    except ServiceUnavailable as e:
        await abandon(gateway.db, tenant_id=tenant, key=idem_key)
        return _error(503, "general_error", f"The {e.service} service {e.reason}; retry later", headers=echo)
    except ServiceError as e:  # a lookup before the call refused it: nothing happened
        await abandon(gateway.db, tenant_id=tenant, key=idem_key)
        return _error(e.status_code, e.error_code, e.message, headers=echo)
    except BaseException:
        await abandon(gateway.db, tenant_id=tenant, key=idem_key)
        raise
    await record_response(gateway.db, tenant_id=tenant, key=idem_key, status_code=status, content_type=content_type, body=content)
    return Response(content, status_code=status, media_type=content_type, headers=echo)


def public_api_router() -> Router:
    return Router(path="/api/v1", route_handlers=[api_call], include_in_schema=False)
