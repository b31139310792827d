"""Hostile input is a 4xx with ``error_code`` and ``message``, never a 5xx, on every operation of
every service: control characters and NUL in ids, filters and bodies, invalid UTF-8, JSON nested
1,000 deep, and bodies over the one size limit (the same at the gateway and behind it).

The services' operations are read from their own OpenAPI documents, so a route added later is
covered without editing this file."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from ten99_testing.hostile import raw_request
from ten99_testing.system import SERVICES

from .conftest import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.security, pytest.mark.timeout(900)]

HOSTILE_SEGMENTS = ["E%17", "%00", "cn_%00x", "%ff%fe", "%c0%ae", "x%0d%0aSet-Cookie:%20a=b", "%7f"]
HOSTILE_VALUES = ["%00", "a%00b", "%17", "%ff", "%c0%af", "%0d%0a"]
DEEP = b"[" * 1000 + b"]" * 1000
DEEP_OBJECT = b'{"a":' * 1000 + b"1" + b"}" * 1000


def hostile_bodies(limit: int) -> dict[str, bytes]:
    return {
        "invalid UTF-8": b'{"name": "\xff\xfe\xc0\xaf"}',
        "NUL escape": b'{"name": "a\\u0000b", "first_name": "a\\u0000b", "email": "a\\u0000@b.c"}',
        "raw NUL": b'{"name": "a\x00b"}',
        "control characters": b'{"name": "a\\u0017b", "first_name": "\\u0001"}',
        "nested 1,000 deep (array)": DEEP,
        "nested 1,000 deep (object)": DEEP_OBJECT,
        "not JSON": b"{not json",
        "a JSON string": b'"x"',
        "a JSON array": b"[1, 2, 3]",
        "wrong types": b'{"name": {"$gt": ""}, "email": [1], "limit": "1e999", "end_date": -1e309}',
        "oversized": b'{"name": "' + b"x" * (limit + 1024) + b'"}',
    }


def _operations(stack: Stack, service: str) -> list[tuple[str, str, list[str]]]:
    """(method, path template, query parameter names) of every operation in the service's OpenAPI."""
    schema = stack.operator(service).get("/schema/openapi.json")
    assert schema.status_code == 200, (service, schema.status_code)
    out = []
    for path, item in schema.json()["paths"].items():
        for method, operation in item.items():
            if method.upper() not in ("GET", "POST", "PUT", "DELETE", "PATCH"):
                continue
            names = [p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"]
            out.append((method.upper(), path, names))
    assert out, f"{service} documents no operation"
    return out


def _fill_path(template: str, segment: str) -> str:
    return re.sub(r"\{[^}]+\}", segment, template)


def _problem(r: Any, what: str) -> str | None:
    status = r.status if hasattr(r, "status") else r.status_code
    if status >= 500:
        body = r.body if hasattr(r, "body") else r.content
        return f"{what}: {status} {body[:160]!r}"
    if status >= 400:
        shaped = r.is_error_shape if hasattr(r, "is_error_shape") else _shaped(r)
        if not shaped:
            body = r.body if hasattr(r, "body") else r.content
            return f"{what}: {status} without error_code/message: {body[:160]!r}"
    return None


def _shaped(r: httpx.Response) -> bool:
    try:
        data = r.json()
    except ValueError:
        return False
    return isinstance(data, dict) and "error_code" in data and "message" in data


@pytest.mark.parametrize("service", [s for s in SERVICES if s != "gateway"])
def test_every_operation_of_every_service_refuses_hostile_input_with_a_4xx(stack: Stack, service: str) -> None:
    headers = {
        "x-ten99-internal-token": stack.system.internal_token,
        "x-tenant-id": stack.b.company_id,
        "content-type": "application/json",
    }
    base = stack.system.url(service)
    problems: list[str] = []
    bodies = hostile_bodies(stack.body_limit)
    for method, template, query_names in _operations(stack, service):
        # hostile path segments (only where the path has parameters)
        if "{" in template:
            for segment in HOSTILE_SEGMENTS:
                path = _fill_path(template, segment)
                problems.append(_problem(raw_request(base, method, path, headers=headers), f"{method} {path}"))
        concrete = _fill_path(template, "cn_0000000000000000000000")
        # hostile filters: every documented query parameter, and one nobody declared
        for name in [*query_names, "unknown"]:
            for value in HOSTILE_VALUES:
                path = f"{concrete}?{name}={value}"
                problems.append(_problem(raw_request(base, method, path, headers=headers), f"{method} {path}"))
        if method in ("POST", "PUT", "PATCH"):
            for what, body in bodies.items():
                r = raw_request(base, method, concrete, headers=headers, body=body)
                problems.append(_problem(r, f"{method} {concrete} with {what}"))
                if what == "oversized":
                    assert r.status == 413, f"{method} {concrete}: oversized body answered {r.status}"
    found = [p for p in problems if p]
    assert not found, f"{service}: {len(found)} hostile requests not refused with a 4xx:\n" + "\n".join(found[:40])


PUBLIC_OPERATIONS = [
    ("POST", "/entities"),
    ("PUT", "/entities/{entities}"),
    ("POST", "/contractors"),
    ("PUT", "/contractors/{contractors}"),
    ("POST", "/jobs"),
    ("PUT", "/jobs/{jobs}"),
    ("POST", "/assignments"),
    ("PUT", "/assignments/{assignments}"),
    ("POST", "/assignments/{assignments}/extend"),
    ("POST", "/assignments/cancel"),
    ("POST", "/quotes"),
    ("PUT", "/quotes/{quotes}"),
    ("POST", "/apply/sessions"),
    ("PUT", "/apply/sessions/{apply/sessions}"),
    ("POST", "/invoices/{invoices}/void"),
]
PUBLIC_LISTS = ["entities", "contractors", "jobs", "assignments", "quotes", "apply/sessions", "policies", "invoices"]


def test_the_public_api_refuses_hostile_bodies_and_filters_with_a_4xx(stack: Stack) -> None:
    headers = {"Authorization": f"Bearer {stack.b.api_key}", "Content-Type": "application/json"}
    problems: list[str | None] = []
    bodies = hostile_bodies(stack.body_limit)
    for method, template in PUBLIC_OPERATIONS:
        # company B's key on A's ids: the body must be refused or the id not found, never a 5xx
        path = "/api/v1" + re.sub(r"\{([a-z_/]+)\}", lambda m: stack.ids[m.group(1)], template)
        for what, body in bodies.items():
            r = raw_request(stack.gateway, method, path, headers=headers, body=body)
            problems.append(_problem(r, f"{method} {path} with {what}"))
            if what == "oversized":
                assert r.status == 413, f"{method} {path}: oversized body answered {r.status}"
                assert "bytes" in r.json()["message"], r.body[:200]
    for name in PUBLIC_LISTS:
        for key in ("email", "contractor", "status", "limit", "starting_after", "unknown"):
            for value in HOSTILE_VALUES:
                path = f"/api/v1/{name}?{key}={value}"
                problems.append(_problem(raw_request(stack.gateway, "GET", path, headers=headers), f"GET {path}"))
        # the official SDK's form: the filters as a JSON object in the query string
        path = f"/api/v1/{name}?%7B%22email%22%3A%22a%5Cu0000b%22%7D"
        problems.append(_problem(raw_request(stack.gateway, "GET", path, headers=headers), f"GET {path}"))
    found = [p for p in problems if p]
    assert not found, f"{len(found)} hostile requests not refused with a 4xx:\n" + "\n".join(found[:40])


def test_the_body_limit_is_one_and_the_same_at_the_gateway_and_behind_it(stack: Stack) -> None:
    """Just over the limit: refused at the edge with the same message the services give."""
    body = b'{"name": "' + b"x" * stack.body_limit + b'"}'
    at_gateway = raw_request(
        stack.gateway,
        "POST",
        "/api/v1/entities",
        headers={"Authorization": f"Bearer {stack.b.api_key}", "Content-Type": "application/json"},
        body=body,
    )
    behind = raw_request(
        stack.system.url("contractor"),
        "POST",
        "/v1/entities",
        headers={
            "x-ten99-internal-token": stack.system.internal_token,
            "x-tenant-id": stack.b.company_id,
            "content-type": "application/json",
        },
        body=body,
    )
    assert at_gateway.status == behind.status == 413
    assert at_gateway.json() == behind.json()


def test_dashboard_forms_and_the_opt_in_form_refuse_hostile_fields(stack: Stack) -> None:
    link = stack.ids["opt_in_link"]
    for data in ({"first_name": "a\x00b"}, {"first_name": "\x17"}, {"email": "a\x00@b.c"}):
        r = httpx.post(link, data=data, timeout=30)
        assert r.status_code < 500, (data, r.status_code, r.text[:200])
    r = httpx.post(
        link, content=b"first_name=%ff%fe%00", headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30
    )
    assert r.status_code < 500, r.text[:200]
    with stack.dashboard(stack.b) as dashboard:
        csrf = re.search(r'name="_csrf" value="([^"]+)"', dashboard.get("/settings").text)
        assert csrf
        for action, data in [
            ("/settings/billing", {"billing_email": "a\x00@b.c", "_csrf": csrf.group(1)}),
            ("/settings/users", {"email": "x\x00@b.c", "password": "p\x00", "_csrf": csrf.group(1)}),
            ("/po/missing", {"assignment_ids": "an_\x00", "po_number": "PO\x00", "_csrf": csrf.group(1)}),
        ]:
            r = dashboard.post(action, data=data)
            assert r.status_code < 500, (action, r.status_code, r.text[:200])
        for page in ("/contractors?q=%00", "/contractors?status=%17", "/invoices?status=%00", "/mailbox?to=%00"):
            r = dashboard.get(page)
            assert r.status_code < 500, (page, r.status_code)
