"""No hostile path reaches an internal endpoint: every encoding of ``..``, ``/`` and ``\\`` and every
``;`` segment, on every public resource, with a valid API key, answers a 4xx in 1099Policy's error
shape, and the operator endpoints it aims at (clocks, scheduled jobs, dead letters, schemas,
integration secrets, the mailbox) neither answer nor act."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from ten99_testing.hostile import INTERNAL_TARGETS, PUBLIC_RESOURCES, UP, raw_request

from .conftest import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.security, pytest.mark.timeout(900)]


def _targets() -> list[tuple[str, str, str, str, bytes]]:
    cases = []
    for resource in PUBLIC_RESOURCES:
        depth = resource.count("/") + 2  # from /v1/<resource>/ up to the service's root
        for way, up in UP.items():
            for method, target, body in INTERNAL_TARGETS:
                cases.append((resource, way, method, f"/api/v1/{resource}/{up * depth}{target}", body))
    return cases


CASES = _targets()


def test_every_hostile_path_is_a_4xx_in_the_error_shape_and_reaches_nothing(stack: Stack) -> None:
    headers = {"Authorization": f"Bearer {stack.a.api_key}", "Content-Type": "application/json"}
    failures = []
    for resource, way, method, path, body in CASES:
        r = raw_request(stack.gateway, method, path, headers=headers, body=body)
        if not (400 <= r.status < 500 and r.is_error_shape):
            failures.append(f"{method} {path} ({resource}, {way}): {r.status} {r.body[:200]!r}")
    assert not failures, f"{len(failures)} of {len(CASES)} hostile paths were not refused:\n" + "\n".join(failures[:40])

    # and nothing acted: no service's clock moved a year, no dead letter appeared
    now = datetime.now(UTC)
    for service, clock in stack.clocks().items():
        assert abs((clock - now).total_seconds()) < 3600, f"{service}'s clock was moved: {clock}"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/_ops/clock",
        "/api/v1/../_ops/clock",
        "/api/v1/%2e%2e/_ops/clock",
        "/api/v1/readyz",
        "/api/v1/schema/openapi.json",
        "/api/v1/integrations/worksuite/secret",
        "/api/v1/mailbox",
        "/api/v1/roster",
        "/api/v1/coverages",
        "/api/v1/settings",
        "/api/v1/imports",
        "/api/v1/po/missing",
        "/api/v1/invitations/current",
        "/api/v1/opt-in/abc",
        "/api/v1/deliveries",
        "/api/v1/certificates",
        "/api/v1/public/certificates/x.pdf",
        "/api/v1/rates",
    ],
)
def test_internal_resources_are_not_public(stack: Stack, path: str) -> None:
    """Only 1099Policy's resources are routed; the services' other /v1 routes serve the dashboard."""
    for method in ("GET", "POST", "PUT", "DELETE"):
        r = raw_request(stack.gateway, method, path, headers={"Authorization": f"Bearer {stack.a.api_key}"})
        assert 400 <= r.status < 500 and r.is_error_shape, (method, path, r.status, r.body[:300])


def test_malformed_ids_are_refused_before_anything_is_forwarded(stack: Stack) -> None:
    """An id that is not the resource's prefixed id is a 404 at the gateway, whatever it holds."""
    hostile_ids = [
        "E%17",
        "cn_%00",
        "%00",
        "cn_" + "A" * 5000,
        "cn_abc%0d%0aX-Injected:%201",
        "%27%20OR%201%3D1--",
        "%E2%80%AE",
        "%ff%fe",
        "%c0%ae",
        "..",
        "%2e",
    ]
    headers = {"Authorization": f"Bearer {stack.a.api_key}"}
    for resource in ("entities", "contractors", "jobs", "assignments", "quotes", "apply/sessions", "policies", "invoices"):
        for bad in hostile_ids:
            for method in ("GET", "PUT", "DELETE"):
                r = raw_request(stack.gateway, method, f"/api/v1/{resource}/{bad}", headers=headers)
                assert 400 <= r.status < 500 and r.is_error_shape, (method, resource, bad, r.status, r.body[:200])


def test_a_valid_key_still_reaches_the_public_resources(stack: Stack) -> None:
    """The allow-list lets the real API through (the refusals above are not a closed door)."""
    with stack.api(stack.a) as api:
        for resource in ("entities", "contractors", "jobs", "assignments", "quotes", "apply/sessions", "policies", "invoices"):
            r = api.get(f"/{resource}")
            assert r.status_code == 200 and r.json()["object"] == "list", (resource, r.text[:300])
            assert r.json()["url"] == f"/api/v1/{resource}"
        r = api.get(f"/contractors/{stack.ids['contractors']}")
        assert r.status_code == 200 and r.json()["id"] == stack.ids["contractors"]


def test_no_api_key_no_access(stack: Stack) -> None:
    for headers in ({}, {"Authorization": "Bearer t9sk_test_nope"}, {"Authorization": "Basic %%%"}):
        r = httpx.get(f"{stack.gateway}/api/v1/contractors", headers=headers, timeout=30)
        assert r.status_code == 401 and r.json()["error_code"] == "invalid_api_key"
