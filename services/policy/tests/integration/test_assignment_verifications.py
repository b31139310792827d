"""The facility view's read on real PostgreSQL and NATS: ``GET /v1/verifications?assignment=...``
answers, for the company's assignments that have coverage, the status of the day and the current
certificate's verification id, nothing else; another company's assignments are not there, and
bad input is a 400 that names the parameter."""

from __future__ import annotations

from typing import Any

import pytest
from policy_world import NOW, TODAY, World, days
from ten99_contracts.contractor_v1 import AssignmentCancelledV1
from ten99_contracts.policy_v1 import CertificateIssuedV1, CoverageCancelledV1
from ten99_testing.service import RunningService
from ten99kit import new_id

pytestmark = pytest.mark.integration


async def verifications(svc: RunningService, tenant: str, *assignment_ids: str) -> list[dict[str, Any]]:
    r = await svc.client.get(
        "/v1/verifications", params=[("assignment", a) for a in assignment_ids], headers={"x-tenant-id": tenant}
    )
    assert r.status_code == 200, r.text
    return list(r.json()["data"])


async def test_each_covered_assignment_has_its_status_and_verification_id(world: World, start_policy) -> None:
    ada = world.contractor()
    a = world.assignment(ada, start=TODAY + days(2), end=TODAY + days(20))
    b = world.assignment(ada, start=TODAY + days(3), end=TODAY + days(20), entity="Meta")
    uncovered = new_id("an")
    async with start_policy() as svc:
        await world.send(world.company())
        for each in (a, b):
            await world.send(each, version=1)
        await world.send(world.completion(ada, [world.quote(a), world.quote(b)]))
        certs = await world.wait_for(CertificateIssuedV1.SUBJECT, 2)
        issued = {c.data.assignment_id: c.data.certificate_id for c in certs}

        found = {
            v["assignment_id"]: v for v in await verifications(svc, world.tenant, a.assignment_id, b.assignment_id, uncovered)
        }
        assert set(found) == {a.assignment_id, b.assignment_id}  # no coverage: not listed
        for view in found.values():
            assert set(view) == {"assignment_id", "coverage_id", "status", "status_on", "verification_id"}
            assert view["status"] == "scheduled" and view["status_on"] == NOW.date().isoformat()
            assert view["verification_id"].startswith("vrf_")
            assert view["verification_id"] not in issued.values()
        public = await svc.client.get(f"/v1/verifications/{found[a.assignment_id]['verification_id']}")
        assert public.status_code == 200 and public.json()["status"] == "scheduled"

        cancel = AssignmentCancelledV1(
            assignment_id=a.assignment_id, contractor_id=ada.contractor_id, reason="client_request", cancelled_at=NOW
        )
        await world.send(cancel, version=2)
        await world.wait_for(CoverageCancelledV1.SUBJECT, 1)
        [now] = await verifications(svc, world.tenant, a.assignment_id)
        assert now["status"] == "cancelled"

        # another company asking about the same assignments learns nothing
        assert await verifications(svc, new_id("co"), a.assignment_id, b.assignment_id) == []


async def test_bad_assignment_lists_are_refused(start_policy) -> None:
    async with start_policy() as svc:
        tenant = {"x-tenant-id": new_id("co")}
        for params in ([], [("assignment", "nope")], [("assignment", new_id("cn"))]):
            r = await svc.client.get("/v1/verifications", params=params, headers=tenant)
            assert r.status_code == 400, (params, r.text)
            assert r.json()["error_code"] == "invalid_input" and "assignment" in str(r.json()["message"])
        too_many = [("assignment", new_id("an")) for _ in range(101)]
        r = await svc.client.get("/v1/verifications", params=too_many, headers=tenant)
        assert r.status_code == 400
        r = await svc.client.get("/v1/verifications", params=[("assignment", new_id("an"))])
        assert r.status_code == 400 and r.json()["error_code"] == "no_tenant_found"
