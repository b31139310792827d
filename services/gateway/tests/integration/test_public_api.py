"""The public API: API keys (Bearer and Basic), the allow-list of operations and where each one
goes, what never reaches a service (hostile paths, malformed ids, unknown resources, wrong methods,
dirty query strings), tenant isolation, idempotency keys."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import aiohttp
import httpx
import pytest
from gateway.application.api_keys import create_api_key, revoke_api_key
from gateway_fakes import AN_1, AN_9, CN_1, IN_1, JB_9, FakeServices, ident, make_company, raw_request
from litestar import Response
from ten99_testing.hostile import INTERNAL_TARGETS, PUBLIC_RESOURCES, UP

pytestmark = pytest.mark.integration

EN_1, JB_1, QT_1, PL_1 = ident("en", "1"), ident("jb", "1"), ident("qt", "1"), ident("pl", "1")
JC_1, EV_1, WHE_1 = ident("jc", "1"), ident("ev", "1"), ident("whe", "1")
IAS_1 = "ias_01JD8X3Z9K4M7Q2W5E8R1T6Y0U"  # a ULID, as `new_ulid_id` makes them

#: every operation of the public API: (method, path under /api/v1) -> (service, method, service path)
FORWARDED = [
    ("GET", "/entities", "contractor", "GET", "/v1/entities"),
    ("POST", "/entities", "contractor", "POST", "/v1/entities"),
    ("GET", f"/entities/{EN_1}", "contractor", "GET", f"/v1/entities/{EN_1}"),
    ("PUT", f"/entities/{EN_1}", "contractor", "PUT", f"/v1/entities/{EN_1}"),
    ("DELETE", f"/entities/{EN_1}", "contractor", "DELETE", f"/v1/entities/{EN_1}"),
    ("GET", "/contractors", "contractor", "GET", "/v1/contractors"),
    ("POST", "/contractors", "contractor", "POST", "/v1/contractors"),
    ("GET", f"/contractors/{CN_1}", "contractor", "GET", f"/v1/contractors/{CN_1}"),
    ("PUT", f"/contractors/{CN_1}", "contractor", "PUT", f"/v1/contractors/{CN_1}"),
    ("DELETE", f"/contractors/{CN_1}", "contractor", "DELETE", f"/v1/contractors/{CN_1}"),
    ("GET", f"/contractors/{CN_1}/policies", "policy", "GET", "/v1/policies"),
    ("GET", f"/contractors/{CN_1}/assignments", "contractor", "GET", f"/v1/contractors/{CN_1}/assignments"),
    ("GET", "/category_codes", "contractor", "GET", "/v1/category_codes"),
    ("GET", f"/category_codes/{JC_1}", "contractor", "GET", f"/v1/category_codes/{JC_1}"),
    ("GET", "/category_codes/jc_photographer", "contractor", "GET", "/v1/category_codes/jc_photographer"),
    ("GET", "/jobs", "contractor", "GET", "/v1/jobs"),
    ("POST", "/jobs", "contractor", "POST", "/v1/jobs"),
    ("GET", f"/jobs/{JB_1}", "contractor", "GET", f"/v1/jobs/{JB_1}"),
    ("PUT", f"/jobs/{JB_1}", "contractor", "PUT", f"/v1/jobs/{JB_1}"),
    ("DELETE", f"/jobs/{JB_1}", "contractor", "DELETE", f"/v1/jobs/{JB_1}"),
    ("GET", "/assignments", "contractor", "GET", "/v1/assignments"),
    ("POST", "/assignments", "contractor", "POST", "/v1/assignments"),
    ("GET", f"/assignments/{AN_1}", "contractor", "GET", f"/v1/assignments/{AN_1}"),
    ("PUT", f"/assignments/{AN_1}", "contractor", "PUT", f"/v1/assignments/{AN_1}"),
    ("DELETE", f"/assignments/{AN_1}", "contractor", "DELETE", f"/v1/assignments/{AN_1}"),
    ("POST", f"/assignments/{AN_1}/cancel", "contractor", "POST", f"/v1/assignments/{AN_1}/cancel"),
    ("POST", f"/assignments/{AN_1}/extend", "contractor", "POST", f"/v1/assignments/{AN_1}/extend"),
    ("POST", "/assignments/cancel", "contractor", "POST", f"/v1/assignments/{AN_9}/cancel"),
    ("POST", "/assignments/extend", "contractor", "POST", f"/v1/assignments/{AN_9}/extend"),
    ("GET", "/quotes", "enrollment", "GET", "/v1/quotes"),
    ("POST", "/quotes", "enrollment", "POST", "/v1/quotes"),
    ("GET", f"/quotes/{QT_1}", "enrollment", "GET", f"/v1/quotes/{QT_1}"),
    ("PUT", f"/quotes/{QT_1}", "enrollment", "PUT", f"/v1/quotes/{QT_1}"),
    ("GET", "/apply/sessions", "enrollment", "GET", "/v1/apply/sessions"),
    ("POST", "/apply/sessions", "enrollment", "POST", "/v1/apply/sessions"),
    ("GET", f"/apply/sessions/{IAS_1}", "enrollment", "GET", f"/v1/apply/sessions/{IAS_1}"),
    ("PUT", f"/apply/sessions/{IAS_1}", "enrollment", "PUT", f"/v1/apply/sessions/{IAS_1}"),
    ("POST", f"/apply/sessions/{IAS_1}/expire", "enrollment", "POST", f"/v1/apply/sessions/{IAS_1}/expire"),
    ("GET", "/policies", "policy", "GET", "/v1/policies"),
    ("GET", f"/policies/{PL_1}", "policy", "GET", f"/v1/policies/{PL_1}"),
    # the SDK's; the policy service answers how ten99 does each (docs/public-api.md)
    ("POST", "/policies", "policy", "POST", "/v1/policies"),
    ("PUT", f"/policies/{PL_1}", "policy", "PUT", f"/v1/policies/{PL_1}"),
    ("DELETE", f"/policies/{PL_1}", "policy", "DELETE", f"/v1/policies/{PL_1}"),
    ("GET", "/invoices", "billing", "GET", "/v1/invoices"),
    ("POST", "/invoices", "billing", "POST", "/v1/invoices"),
    ("GET", f"/invoices/{IN_1}", "billing", "GET", f"/v1/invoices/{IN_1}"),
    ("PUT", f"/invoices/{IN_1}", "billing", "PUT", f"/v1/invoices/{IN_1}"),
    ("DELETE", f"/invoices/{IN_1}", "billing", "DELETE", f"/v1/invoices/{IN_1}"),
    ("GET", f"/invoices/{IN_1}/pdf", "billing", "GET", f"/v1/invoices/{IN_1}/pdf"),
    ("POST", f"/invoices/{IN_1}/void", "billing", "POST", f"/v1/invoices/{IN_1}/void"),
    ("POST", f"/invoices/{IN_1}/mark-paid", "billing", "POST", f"/v1/invoices/{IN_1}/mark-paid"),
    ("GET", "/events", "notification", "GET", "/v1/events"),
    ("GET", f"/events/{EV_1}", "notification", "GET", f"/v1/events/{EV_1}"),
    ("GET", "/webhook_endpoints", "notification", "GET", "/v1/webhook_endpoints"),
    ("POST", "/webhook_endpoints", "notification", "POST", "/v1/webhook_endpoints"),
    ("GET", f"/webhook_endpoints/{WHE_1}", "notification", "GET", f"/v1/webhook_endpoints/{WHE_1}"),
    ("PUT", f"/webhook_endpoints/{WHE_1}", "notification", "PUT", f"/v1/webhook_endpoints/{WHE_1}"),
    ("DELETE", f"/webhook_endpoints/{WHE_1}", "notification", "DELETE", f"/v1/webhook_endpoints/{WHE_1}"),
    ("POST", f"/webhook_endpoints/{WHE_1}/rotate_secret", "notification", "POST", f"/v1/webhook_endpoints/{WHE_1}/secret"),
]

#: what an attacker aims at behind a service's /v1 prefix (the first five of the shared list)
TARGETS = INTERNAL_TARGETS[:2] + INTERNAL_TARGETS[6:9]

#: one-off hostile paths: valid ids with something hidden behind them, the services' other routes
ODD_PATHS = [
    f"/api/v1/contractors/{CN_1}%2fpolicies",
    f"/api/v1/contractors/{CN_1}%2Fpolicies",
    f"/api/v1/entities%2f{EN_1}",
    f"/api/v1/entities/{EN_1}%00",
    f"/api/v1/entities/{EN_1}%0a",
    f"/api/v1/entities/{EN_1};x=1",
    f"/api/v1/entities/{EN_1}/..%2f..%2f_ops/clock",
    f"/api/v1/invoices/{IN_1}%5cvoid",
    f"/api/v1/invoices/{IN_1}/..",
    f"/api/v1/invoices/{IN_1}/%2e%2e/%2e%2e/_ops/clock",
    "/api/v1/policies/E%17",
    "/api/v1/%2e%2e/_ops/clock",
    "/api/v1/../_ops/clock",
    "/api/v1/_ops/clock",
    "/api/v1/readyz",
    "/api/v1/schema/openapi.json",
    "/api/v1/integrations/worksuite/secret",
    f"/api/v1/entities/{EN_1}/integrations/worksuite/secret",
    "/api/v1/mailbox",
    "/api/v1/roster",
    "/api/v1/coverages",
    "/api/v1/settings",
    "/api/v1/imports",
    "/api/v1/po/missing",
    "/api/v1/invitations/current",
    "/api/v1/opt-in/abcdefghijkl",
    "/api/v1/deliveries",
    "/api/v1/certificates",
    "/api/v1/public/certificates/x.pdf",
    "/api/v1/rates",
    "/api/v1/apply",
    "/api/v1",
    "/api/v1/",
]

HOSTILE_IDS = [
    "E%17",
    "%00",
    "cn_%00",
    "cn_" + "A" * 5000,
    "cn_abc%0d%0aX-Injected:%201",
    "%27%20OR%201%3D1--",
    "%E2%80%AE",
    "%ff%fe",
    "%c0%ae",
    "..",
    "%2e",
    "%2e%2e",
    "x;y",
    "a%5cb",
    "{}",
    "cn_short",
    "zz_0000000000000000000001",  # well formed, but no resource's prefix
    "cn_000000000000000000000%C3%A9",  # a non-ASCII letter
]
ID_RESOURCES = {
    "entities": "invalid_entity_id",
    "contractors": "invalid_contractor_id",
    "jobs": "invalid_job_id",
    "assignments": "invalid_assignment_id",
    "quotes": "invalid_quote_id",
    "apply/sessions": "invalid_session_id",
    "policies": "invalid_policy_id",
    "invoices": "invalid_invoice_id",
    "category_codes": "invalid_job_category_code",
    "events": "invalid_event_id",
    "webhook_endpoints": "invalid_webhook_endpoint_id",
}


@pytest.fixture
async def keys(gateway: Any) -> dict[str, Any]:
    a = await make_company(gateway, "A", "a@a.test")
    b = await make_company(gateway, "B", "b@b.test")
    ka = await create_api_key(gateway.db, company_id=a, name="a", created_by=None, prefix="t9sk_test_")
    kb = await create_api_key(gateway.db, company_id=b, name="b", created_by=None, prefix="t9sk_test_")
    return {"a": a, "b": b, "ka": ka, "kb": kb}


def bearer(key: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {key.key}"}


async def test_api_keys_authenticate_and_decide_the_tenant(
    gateway: Any, fake_services: FakeServices, keys: dict[str, Any]
) -> None:
    client = gateway.client
    r = await client.get("/api/v1/entities?limit=5", headers={**bearer(keys["ka"]), "X-Tenant-Id": keys["b"]})
    assert r.status_code == 200
    body = r.json()
    assert body["data"][0]["name"] == f"Nike for {keys['a']}" and body["url"] == "/api/v1/entities"
    assert r.headers["request-id"]
    sent = fake_services.calls("contractor", "GET", "/v1/entities")[0]
    assert sent.headers["x-tenant-id"] == keys["a"] and sent.query == "limit=5"

    basic = base64.b64encode(f"{keys['kb'].key}:".encode()).decode()
    r = await client.get("/api/v1/entities", headers={"Authorization": f"Basic {basic}"})
    assert r.json()["data"][0]["name"] == f"Nike for {keys['b']}"

    for headers in ({}, {"Authorization": "Bearer t9sk_test_wrong"}, {"Authorization": "Basic !!!"}):
        r = await client.get("/api/v1/entities", headers=headers)
        assert r.status_code == 401 and r.json()["error_code"] == "invalid_api_key"
    await revoke_api_key(gateway.db, company_id=keys["a"], key_id=keys["ka"].id)
    assert (await client.get("/api/v1/entities", headers=bearer(keys["ka"]))).status_code == 401
    assert len(fake_services.calls("contractor", "GET", "/v1/entities")) == 2


async def test_resources_pass_through_with_errors_and_subresources(
    gateway: Any, fake_services: FakeServices, keys: dict[str, Any]
) -> None:
    client = gateway.client
    r = await client.post("/api/v1/entities", json={}, headers=bearer(keys["ka"]))
    assert r.status_code == 400 and r.json() == {"error_code": "invalid_input", "message": {"name": "required"}}
    r = await client.get("/api/v1/nothing", headers=bearer(keys["ka"]))
    assert r.status_code == 404 and r.json()["error_code"] == "resource_not_found"
    r = await client.get(f"/api/v1/contractors/{CN_1}/policies", headers=bearer(keys["ka"]))
    assert r.status_code == 200 and r.json()["url"] == "/api/v1/policies"
    assert fake_services.calls("policy", "GET", "/v1/policies")[0].query == f"contractor={CN_1}"
    # 1099Policy's cancel is keyed by job
    r = await client.post(
        "/api/v1/assignments/cancel", json={"job_id": JB_9, "reason": "client_request"}, headers=bearer(keys["ka"])
    )
    assert r.status_code == 200 and r.json()["id"] == AN_9 and r.json()["status"] == "cancelled"
    assert fake_services.calls("contractor", "GET", "/v1/assignments")[0].query == f"job={JB_9}&limit=100"
    cancel = fake_services.calls("contractor", "POST", f"/v1/assignments/{AN_9}/cancel")[0]
    assert json.loads(cancel.body)["reason"] == "client_request"
    fake_services.on(
        "contractor", "GET", "/v1/entities", lambda s: Response({"error_code": "general_error", "message": "x"}, status_code=500)
    )
    assert (await client.get("/api/v1/entities", headers=bearer(keys["ka"]))).status_code == 500


async def test_every_operation_reaches_its_service_path_as_the_key_s_company(
    gateway: Any, fake_services: FakeServices, keys: dict[str, Any]
) -> None:
    for method, path, service, upstream_method, upstream_path in FORWARDED:
        fake_services.seen.clear()
        body = {"job_id": JB_9} if path.endswith(("/assignments/cancel", "/assignments/extend")) else {"name": "x"}
        r = await gateway.client.request(
            method, f"/api/v1{path}", headers=bearer(keys["ka"]), json=body if method in ("POST", "PUT") else None
        )
        assert r.status_code < 500, (method, path, r.status_code, r.text)
        last = fake_services.seen[-1]
        assert (last.service, last.method, last.path) == (service, upstream_method, upstream_path), (method, path)
        assert all(s.headers["x-tenant-id"] == keys["a"] for s in fake_services.seen), (method, path)
    # a PDF comes back as it is, with its file name
    disposition = {"Content-Disposition": 'attachment; filename="i.pdf"'}
    fake_services.on(
        "billing",
        "GET",
        f"/v1/invoices/{IN_1}/pdf",
        lambda s: Response(b"%PDF-1.4", media_type="application/pdf", headers=disposition),
    )
    r = await gateway.client.get(f"/api/v1/invoices/{IN_1}/pdf", headers=bearer(keys["ka"]))
    assert r.content == b"%PDF-1.4" and r.headers["content-disposition"] == 'attachment; filename="i.pdf"'


async def test_list_filters_are_passed_on_by_name_in_both_query_forms(
    gateway: Any, fake_services: FakeServices, keys: dict[str, Any]
) -> None:
    client = gateway.client
    # ``ids`` is the contractor service's internal batch read (the dashboard's): not public, dropped
    await client.get(
        f"/api/v1/contractors?email=a%40b.c&limit=5&tenant_id=co_x&_internal=1&ids={CN_1}", headers=bearer(keys["ka"])
    )
    assert fake_services.calls("contractor", "GET", "/v1/contractors")[-1].query == "email=a%40b.c&limit=5"
    # the official SDK's form: the parameters as a JSON object
    sdk = httpx.URL("/api/v1/contractors", query=b"%7B%22email%22%3A%20%22a%40b.c%22%2C%20%22limit%22%3A%202%7D")
    await client.get(sdk, headers=bearer(keys["ka"]))
    assert fake_services.calls("contractor", "GET", "/v1/contractors")[-1].query == "email=a%40b.c&limit=2"
    # a contractor's policies are that contractor's, whatever the query says
    await client.get(f"/api/v1/contractors/{CN_1}/policies?contractor=cn_other&limit=3", headers=bearer(keys["ka"]))
    assert fake_services.calls("policy", "GET", "/v1/policies")[-1].query == f"limit=3&contractor={CN_1}"
    # an operation that is not a list passes no query on
    await client.get(f"/api/v1/invoices/{IN_1}?expand=lines&tenant=x", headers=bearer(keys["ka"]))
    assert fake_services.calls("billing", "GET", f"/v1/invoices/{IN_1}")[-1].query == ""
    query = "status=open&po_number=PO-1&contractor=cn_x&job=jb_y"
    await client.get(f"/api/v1/invoices?{query}&x=1", headers=bearer(keys["ka"]))
    # both kinds of invoice unless the client names one
    assert fake_services.calls("billing", "GET", "/v1/invoices")[-1].query == query + "&kind=all"
    await client.get("/api/v1/invoices?kind=usage", headers=bearer(keys["ka"]))
    assert fake_services.calls("billing", "GET", "/v1/invoices")[-1].query == "kind=usage"
    await client.get("/api/v1/policies?quote=qt_1&status=active&contractor=cn_1&is_active=1", headers=bearer(keys["ka"]))
    assert fake_services.calls("policy", "GET", "/v1/policies")[-1].query == "quote=qt_1&status=active&contractor=cn_1"
    query = "type=policy.active&created_gte=1&created_lte=2&limit=3&starting_after=ev_1&ending_before=ev_2&tenant_id=x"
    await client.get(f"/api/v1/events?{query}", headers=bearer(keys["ka"]))
    assert fake_services.calls("notification", "GET", "/v1/events")[-1].query == query.removesuffix("&tenant_id=x")
    await client.get("/api/v1/webhook_endpoints?limit=2&status=enabled", headers=bearer(keys["ka"]))
    assert fake_services.calls("notification", "GET", "/v1/webhook_endpoints")[-1].query == "limit=2"


async def test_dirty_query_strings_are_a_400_and_reach_nothing(
    gateway: Any, fake_services: FakeServices, keys: dict[str, Any]
) -> None:
    headers = bearer(keys["ka"])
    for query in (
        "email=%00",
        "email=a%00b",
        "email=a%17b",
        "email=%0d%0aX-Injected:1",
        "%00=1",
        "unknown=%7f",
        "email=%ff",
        "email=%c0%af",
        "starting_after=" + "x" * 5000,
        "%7B%22email%22%3A%22a%5Cu0000b%22%7D",  # the SDK's JSON form, with an escaped NUL
    ):
        for resource in ("entities", "contractors", "policies", "invoices", "apply/sessions"):
            r = await raw_request(gateway, "GET", f"/api/v1/{resource}?{query}", headers=headers)
            assert r.status == 400 and r.json()["error_code"] == "invalid_input", (resource, query, r.status, r.body)
    assert fake_services.seen == []


async def test_hostile_paths_on_every_resource_are_a_4xx_and_reach_nothing(
    gateway: Any, fake_services: FakeServices, keys: dict[str, Any]
) -> None:
    headers = {**bearer(keys["ka"]), "Content-Type": "application/json"}
    refused: list[tuple[str, str, int]] = []
    for resource in PUBLIC_RESOURCES:
        depth = resource.count("/") + 2  # from /v1/<resource>/ up to the service's root
        for up in UP.values():
            for method, target, body in TARGETS:
                path = f"/api/v1/{resource}/{up * depth}{target}"
                r = await raw_request(gateway, method, path, headers=headers, body=body)
                if not (400 <= r.status < 500 and r.is_error_shape):
                    refused.append((method, path, r.status))
    for path in ODD_PATHS:
        for method in ("GET", "POST", "PUT", "DELETE"):
            r = await raw_request(gateway, method, path, headers=headers, body=b"{}")
            if not (400 <= r.status < 500 and r.is_error_shape):
                refused.append((method, path, r.status))
    assert refused == [], refused[:20]
    assert fake_services.seen == [], [(s.service, s.method, s.path) for s in fake_services.seen]


async def test_malformed_ids_are_a_404_before_anything_is_forwarded(
    gateway: Any, fake_services: FakeServices, keys: dict[str, Any]
) -> None:
    headers = bearer(keys["ka"])
    for resource, error_code in ID_RESOURCES.items():
        for bad in HOSTILE_IDS:
            for method in ("GET", "PUT", "DELETE"):
                r = await raw_request(gateway, method, f"/api/v1/{resource}/{bad}", headers=headers, body=b"{}")
                assert 400 <= r.status < 500 and r.is_error_shape, (method, resource, bad, r.status, r.body[:200])
            r = await raw_request(gateway, "GET", f"/api/v1/{resource}/{bad}", headers=headers)
            if "%" not in bad and "." not in bad and ";" not in bad and "{" not in bad:  # a plain word: the id is refused
                assert r.status == 404 and r.json()["error_code"] == error_code, (resource, bad, r.body)
    # the report that started it: a control character in a policy id was a 500 (the kit's HTTP app may
    # refuse control characters in any URL with a 400 before routing; the gateway's own check is a 404)
    r = await gateway.client.get("/api/v1/policies/E%17", headers=headers)
    assert r.status_code in (400, 404) and r.json()["error_code"] in ("invalid_input", "resource_not_found")
    # category codes are words, as the catalogue's (jc_photographer); still nothing else
    for bad in ("jc_", "jc_a-b", "jc_" + "a" * 61, EN_1):
        r = await gateway.client.get(f"/api/v1/category_codes/{bad}", headers=headers)
        assert r.status_code == 404 and r.json()["error_code"] == "invalid_job_category_code", bad
    # an id of another resource is not this one's
    r = await gateway.client.get(f"/api/v1/contractors/{EN_1}", headers=headers)
    assert r.status_code == 404 and r.json()["error_code"] == "invalid_contractor_id"
    # 1099Policy's cancel and extend by job check the job id too
    for job_id in ("jb_../../_ops", f"{JB_9}\n", CN_1):
        r = await gateway.client.post("/api/v1/assignments/extend", json={"job_id": job_id}, headers=headers)
        assert r.status_code == 404 and r.json()["error_code"] == "invalid_job_id", job_id
    r = await gateway.client.post("/api/v1/assignments/cancel", json={}, headers=headers)
    assert r.status_code == 400 and r.json()["error_code"] == "invalid_job_id"
    assert fake_services.seen == [], [(s.service, s.method, s.path) for s in fake_services.seen]


async def test_methods_not_offered_are_a_405_and_reach_nothing(
    gateway: Any, fake_services: FakeServices, keys: dict[str, Any]
) -> None:
    headers = bearer(keys["ka"])
    for method, path in (
        ("POST", f"/contractors/{CN_1}"),
        ("DELETE", f"/quotes/{QT_1}"),
        ("POST", "/events"),
        ("PUT", f"/events/{EV_1}"),
        ("DELETE", f"/events/{EV_1}"),
        ("POST", f"/webhook_endpoints/{WHE_1}"),
        ("PUT", "/webhook_endpoints"),
        ("POST", "/category_codes"),
        ("DELETE", f"/category_codes/{JC_1}"),
        ("PUT", "/invoices"),
        ("DELETE", f"/apply/sessions/{IAS_1}"),
        ("POST", f"/policies/{PL_1}"),
        ("PATCH", f"/entities/{EN_1}"),
        ("PUT", "/entities"),
        ("PUT", "/policies"),
        ("POST", f"/invoices/{IN_1}"),
        ("GET", "/assignments/cancel"),
        ("GET", f"/invoices/{IN_1}/void"),
    ):
        r = await gateway.client.request(method, f"/api/v1{path}", headers=headers)
        assert r.status_code == 405 and r.json()["error_code"] == "bad_request", (method, path, r.text)
        assert method not in r.headers["allow"]
    assert fake_services.seen == []


async def test_a_call_that_cannot_be_made_is_a_503_not_a_500(
    gateway: Any, fake_services: FakeServices, keys: dict[str, Any]
) -> None:
    contractor = gateway.runtime.gateway.services.contractor
    real = contractor._forwarding_session()

    class Refusing:
        closed = False

        def request(self, *args: Any, **kwargs: Any) -> Any:
            raise aiohttp.InvalidURL("Invalid non-printable ASCII character in URL")

    contractor._session = Refusing()
    headers = {**bearer(keys["ka"]), "Idempotency-Key": "k-invalid-url"}
    r = await gateway.client.post("/api/v1/entities", json={"name": "Nike"}, headers=headers)
    assert r.status_code == 503 and r.json()["error_code"] == "general_error"
    assert (await gateway.client.get("/api/v1/entities", headers=bearer(keys["ka"]))).status_code == 503
    contractor._session = real  # the key was not used up by the call that failed
    r = await gateway.client.post("/api/v1/entities", json={"name": "Nike"}, headers=headers)
    assert r.status_code == 201


async def test_idempotency_keys_replay_the_first_response(
    gateway: Any, fake_services: FakeServices, keys: dict[str, Any]
) -> None:
    client = gateway.client
    headers = {**bearer(keys["ka"]), "Ten99Policy-Idempotent-Key": "k-1"}
    first = await client.post("/api/v1/entities", json={"name": "Nike"}, headers=headers)
    again = await client.post("/api/v1/entities", json={"name": "Nike"}, headers=headers)
    assert first.status_code == 201 and again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true" and again.headers["ten99policy-idempotent-key"] == "k-1"
    assert len(fake_services.calls("contractor", "POST", "/v1/entities")) == 1

    other = await client.post("/api/v1/entities", json={"name": "Adidas"}, headers=headers)
    assert other.status_code == 409 and other.json()["error_code"] == "idempotency_key_reused"
    # the same key belongs to each company separately
    b = await client.post("/api/v1/entities", json={"name": "Adidas"}, headers={**bearer(keys["kb"]), "Idempotency-Key": "k-1"})
    assert b.status_code == 201 and b.json()["tenant"] == keys["b"]
    assert len(fake_services.calls("contractor", "POST", "/v1/entities")) == 2

    # a refused request is not remembered: fixing it and retrying with the same key works
    bad = await client.post("/api/v1/entities", json={}, headers={**bearer(keys["ka"]), "Idempotency-Key": "k-2"})
    assert bad.status_code == 400
    good = await client.post("/api/v1/entities", json={"name": "Puma"}, headers={**bearer(keys["ka"]), "Idempotency-Key": "k-2"})
    assert good.status_code == 201 and good.json()["name"] == "Puma"

    # after 24 hours the key is free again
    gateway.clock.advance(timedelta(hours=24, seconds=1))
    later = await client.post("/api/v1/entities", json={"name": "Adidas"}, headers=headers)
    assert later.status_code == 201 and later.json()["name"] == "Adidas"
    # the clock-driven purge deletes what expired (B's k-1 and A's k-2), not the fresh record
    assert await gateway.runtime.scheduler.run_due() == {"purge_expired_sessions_and_idempotency_keys": 2}
    assert (await client.post("/api/v1/entities", json={"name": "Adidas"}, headers=headers)).headers[
        "idempotent-replayed"
    ] == "true"


async def test_an_unreachable_service_frees_the_idempotency_key(
    gateway: Any, fake_services: FakeServices, keys: dict[str, Any]
) -> None:
    from gateway.adapters.services import ServiceClient

    services = gateway.runtime.gateway.services
    real = services.contractor
    services.contractor = ServiceClient("contractor", "http://127.0.0.1:9", "t", 2.0)
    headers = {**bearer(keys["ka"]), "Idempotency-Key": "k-3"}
    r = await gateway.client.post("/api/v1/entities", json={"name": "Nike"}, headers=headers)
    assert r.status_code == 503 and r.json()["error_code"] == "general_error"
    services.contractor = real
    r = await gateway.client.post("/api/v1/entities", json={"name": "Nike"}, headers=headers)
    assert r.status_code == 201


def _refuse(code: str) -> Any:
    return lambda s: Response({"error_code": code, "message": "not known here"}, status_code=400)


def _owner(found: Any, tenant: str) -> Any:
    """The owner's answer: ``found`` for ``tenant``, a 404 for any other company."""
    missing = Response({"error_code": "resource_not_found", "message": "no"}, status_code=404)
    return lambda s: found if s.headers.get("x-tenant-id") == tenant else missing


async def test_an_id_still_on_its_way_is_a_retryable_409_and_an_unknown_one_stays_refused(
    gateway: Any, fake_services: FakeServices, keys: dict[str, Any]
) -> None:
    """A service refuses an id it has not heard of yet; the gateway asks the owner (for the key's
    company only): a 409 resource_not_ready the SDK retries if the owner has it, else the refusal."""
    client = gateway.client
    fake_services.on("enrollment", "POST", "/v1/quotes", _refuse("invalid_contractor_id"))
    fake_services.on("contractor", "GET", f"/v1/contractors/{CN_1}", _owner({"id": CN_1}, keys["a"]))
    quote = {"contractor": CN_1, "job": JB_1}
    r = await client.post("/api/v1/quotes", json=quote, headers={**bearer(keys["ka"]), "Idempotency-Key": "q-1"})
    assert r.status_code == 409 and r.json()["error_code"] == "resource_not_ready", r.text
    assert CN_1 in r.json()["message"]
    assert (r.headers["retry-after"], r.headers["ten99policy-should-retry"]) == ("1", "true")
    # another company's id stays unknown; a malformed one is not looked up
    r = await client.post("/api/v1/quotes", json=quote, headers=bearer(keys["kb"]))
    assert (r.status_code, r.json()["error_code"]) == (400, "invalid_contractor_id")
    looked_up = len(fake_services.calls("contractor", "GET"))
    r = await client.post("/api/v1/quotes", json={"contractor": "cn_../x", "job": JB_1}, headers=bearer(keys["ka"]))
    assert (r.status_code, r.json()["error_code"]) == (400, "invalid_contractor_id")
    assert len(fake_services.calls("contractor", "GET")) == looked_up

    # the 409 is not remembered for the key: once the contractor has arrived the retry is answered
    fake_services.on("enrollment", "POST", "/v1/quotes", lambda s: {"id": QT_1, "object": "quote"})
    r = await client.post("/api/v1/quotes", json=quote, headers={**bearer(keys["ka"]), "Idempotency-Key": "q-1"})
    assert r.status_code == 200 and r.json()["id"] == QT_1

    # a job, for billing as for enrollment
    fake_services.on("billing", "POST", "/v1/invoices", _refuse("invalid_job_id"))
    fake_services.on("contractor", "GET", f"/v1/jobs/{JB_1}", _owner({"id": JB_1}, keys["a"]))
    pay = {"contractor": CN_1, "job": JB_1, "gross_pay": 100_000, "paycycle_startdate": 1_796_083_200,
           "paycycle_enddate": 1_796_601_600}  # fmt: skip
    r = await client.post("/api/v1/invoices", json=pay, headers=bearer(keys["ka"]))
    assert (r.status_code, r.json()["error_code"]) == (409, "resource_not_ready")

    # coverage bound but not yet known to billing: policy says whether it is in force those days
    fake_services.on("billing", "POST", "/v1/invoices", _refuse("no_active_policy"))
    in_force = {"in_force": True}
    fake_services.on("policy", "GET", "/v1/coverages/in_force", _owner(in_force, keys["a"]))
    r = await client.post("/api/v1/invoices", json=pay, headers=bearer(keys["ka"]))
    assert (r.status_code, r.json()["error_code"]) == (409, "resource_not_ready"), r.text
    [asked] = fake_services.calls("policy", "GET", "/v1/coverages/in_force")
    assert asked.query == f"contractor={CN_1}&job={JB_1}&first_day=2026-12-01&last_day=2026-12-07"
    in_force["in_force"] = False
    r = await client.post("/api/v1/invoices", json=pay, headers=bearer(keys["ka"]))
    assert (r.status_code, r.json()["error_code"]) == (400, "no_active_policy")
    r = await client.post("/api/v1/invoices", json={**pay, "paycycle_enddate": "x"}, headers=bearer(keys["ka"]))
    assert (r.status_code, r.json()["error_code"]) == (400, "no_active_policy")
    # an operation that does not look (a job update) passes the refusal on as it is
    fake_services.on("contractor", "PUT", f"/v1/jobs/{JB_1}", _refuse("invalid_contractor_id"))
    r = await client.put(f"/api/v1/jobs/{JB_1}", json=quote, headers=bearer(keys["ka"]))
    assert (r.status_code, r.json()["error_code"]) == (400, "invalid_contractor_id")


async def test_a_webhook_secret_is_never_kept_for_an_idempotency_keys_replay(
    gateway: Any, fake_services: FakeServices, keys: dict[str, Any]
) -> None:
    from gateway.adapters.db import idempotency_records
    from sqlalchemy import select

    secret = "whsec_" + "S" * 43
    made = {"id": WHE_1, "object": "webhook_endpoint", "url": "https://h.test/x", "secret": secret}
    fake_services.on("notification", "POST", "/v1/webhook_endpoints", lambda s: made)
    fake_services.on("notification", "POST", f"/v1/webhook_endpoints/{WHE_1}/secret", lambda s: made)
    for path, key in (("/api/v1/webhook_endpoints", "w-1"), (f"/api/v1/webhook_endpoints/{WHE_1}/rotate_secret", "w-2")):
        headers = {**bearer(keys["ka"]), "Idempotency-Key": key}
        first = await gateway.client.post(path, json={"url": "https://h.test/x"}, headers=headers)
        assert first.status_code == 200 and first.json()["secret"] == secret  # shown once, to the caller
        again = await gateway.client.post(path, json={"url": "https://h.test/x"}, headers=headers)
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == {**made, "secret": None}
    async with gateway.db.session() as s:
        kept = (await s.execute(select(idempotency_records.c.body))).scalars().all()
    assert kept and not any(secret.encode() in (body or b"") for body in kept)
