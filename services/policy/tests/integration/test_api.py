"""The HTTP API: signed certificate links, tenant isolation, errors and pagination."""

from __future__ import annotations

from typing import Any

import pytest
from policy_world import NOW, TODAY, World, days, pdf_text, unsigned
from ten99_contracts.contractor_v1 import AssignmentCancelledV1
from ten99_contracts.policy_v1 import CertificateIssuedV1, CoverageBoundV1, CoverageCancelledV1, PolicyActivatedV1
from ten99kit.ids import new_id

pytestmark = pytest.mark.integration


async def test_the_signed_link_downloads_the_certificate_and_a_tampered_one_is_refused(world: World, start_policy) -> None:
    ada = world.contractor()
    a = world.assignment(ada, start=TODAY + days(1), end=TODAY + days(30))
    b = world.assignment(ada, start=TODAY + days(1), end=TODAY + days(30), entity="Meta")
    async with start_policy(public_base_url="https://ten99.example") as svc:
        await world.send(world.company())
        await world.send(a, version=1)
        await world.send(b, version=1)
        await world.send(world.completion(ada, [world.quote(a), world.quote(b)]))
        first, second = await world.wait_for(CertificateIssuedV1.SUBJECT, 2)

        url = first.data.download_url
        prefix = f"https://ten99.example/certificates/{first.data.certificate_id}.pdf?token="
        assert url.startswith(prefix)
        token = url[len(prefix) :]
        # the gateway serves <base>/certificates/<id>.pdf by calling this route (no tenant header)
        r = await svc.client.get(f"/v1/public/certificates/{first.data.certificate_id}.pdf", params={"token": token})
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        assert r.content == first.data.pdf and first.data.certificate_number in pdf_text(r.content)
        assert r.headers["content-disposition"] == f'inline; filename="{first.data.filename}"'

        tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
        for params, path_id in (
            ({"token": tampered}, first.data.certificate_id),
            ({"token": token}, second.data.certificate_id),  # a link made for another certificate
            ({}, first.data.certificate_id),
        ):
            r = await svc.client.get(f"/v1/public/certificates/{path_id}.pdf", params=params)
            assert r.status_code == 403, r.text
            assert r.json()["error_code"] == "insufficient_permissions" and r.json()["message"]

    # a link signed with another secret (another installation) is refused too
    async with start_policy(link_secret="another-secret") as svc:
        r = await svc.client.get(f"/v1/public/certificates/{first.data.certificate_id}.pdf", params={"token": token})
        assert r.status_code == 403


async def test_one_company_cannot_see_or_download_another_companys_policies(world: World, start_policy) -> None:
    ada = world.contractor()
    a = world.assignment(ada, start=TODAY + days(1), end=TODAY + days(30))
    other = new_id("co")
    async with start_policy() as svc:
        await world.send(world.company())
        await world.send(a, version=1)
        await world.send(world.completion(ada, [world.quote(a)]))
        [cert] = await world.wait_for(CertificateIssuedV1.SUBJECT, 1)
        [policy] = await world.published(PolicyActivatedV1.SUBJECT)
        mine, theirs = {"x-tenant-id": world.tenant}, {"x-tenant-id": other}

        assert len((await svc.client.get("/v1/policies", headers=mine)).json()["data"]) == 1
        assert (await svc.client.get("/v1/policies", headers=theirs)).json()["data"] == []
        assert (await svc.client.get("/v1/policies", params={"contractor": ada.contractor_id}, headers=theirs)).json()[
            "data"
        ] == []
        r = await svc.client.get(f"/v1/policies/{policy.data.policy_id}", headers=theirs)
        assert r.status_code == 404 and r.json()["error_code"] == "invalid_policy_id"
        assert (await svc.client.get("/v1/coverages", params={"assignment": a.assignment_id}, headers=theirs)).json()[
            "data"
        ] == []
        assert (await svc.client.get("/v1/certificates", headers=theirs)).json()["data"] == []
        r = await svc.client.get(f"/v1/certificates/{cert.data.certificate_id}/pdf", headers=theirs)
        assert r.status_code == 404 and r.json()["error_code"] == "resource_not_found"
        assert (await svc.client.get(f"/v1/certificates/{cert.data.certificate_id}/pdf", headers=mine)).status_code == 200

        # the same contractor and assignment ids under another tenant are another company's business
        await world.send(world.company("Other Co", tenant=other), tenant=other)
        await world.send(a, tenant=other, version=1)
        await world.send(world.completion(ada, [world.quote(a)]), tenant=other)
        certs = await world.wait_for(CertificateIssuedV1.SUBJECT, 2)
        assert {c.tenant_id for c in certs} == {world.tenant, other}
        [theirs_policy] = (await svc.client.get("/v1/policies", headers=theirs)).json()["data"]
        assert theirs_policy["id"] != policy.data.policy_id
        assert len((await svc.client.get("/v1/policies", headers=mine)).json()["data"]) == 1


async def test_bad_requests_get_a_clear_error(world: World, start_policy) -> None:
    async with start_policy() as svc:
        r = await svc.client.get("/v1/policies")
        assert r.status_code == 400 and r.json()["error_code"] == "no_tenant_found"
        headers = {"x-tenant-id": world.tenant}
        for params in ({"limit": 0}, {"limit": 101}, {"limit": "ten"}, {"starting_after": "pl_unknown"}):
            r = await svc.client.get("/v1/policies", params=params, headers=headers)
            assert r.status_code == 400 and r.json()["error_code"] == "invalid_input", (params, r.text)
        r = await svc.client.get("/v1/policies", headers={**headers, "x-ten99-internal-token": "wrong"})
        assert r.status_code == 401


async def test_policies_page_newest_first_with_cursors(world: World, start_policy) -> None:
    async with start_policy() as svc:
        people = [world.contractor(f"P{i}", "Tester") for i in range(5)]
        for i, p in enumerate(people):
            svc.clock.freeze(svc.clock.now().replace(minute=i))
            await world.send(world.completion(p, []))
            await world.wait_for(PolicyActivatedV1.SUBJECT, i + 1)
        headers = {"x-tenant-id": world.tenant}
        first = (await svc.client.get("/v1/policies", params={"limit": 2}, headers=headers)).json()
        assert first["has_more"] is True
        assert [p["contractor"] for p in first["data"]] == [people[4].contractor_id, people[3].contractor_id]
        nxt = (
            await svc.client.get("/v1/policies", params={"limit": 2, "starting_after": first["data"][-1]["id"]}, headers=headers)
        ).json()
        assert [p["contractor"] for p in nxt["data"]] == [people[2].contractor_id, people[1].contractor_id]
        back = (
            await svc.client.get("/v1/policies", params={"limit": 2, "ending_before": nxt["data"][0]["id"]}, headers=headers)
        ).json()
        assert [p["contractor"] for p in back["data"]] == [people[4].contractor_id, people[3].contractor_id]
        # a policy without coverage yet: the opt-in stands, no dates or certificates
        assert first["data"][0]["expiration_date"] is None and first["data"][0]["certificates"]["gl_coi_pdf_url"] is None


async def test_create_update_and_delete_answer_how_ten99_does_each_and_change_nothing(world: World, start_policy) -> None:
    """The SDK offers them; a policy is bound by a completed application, and ends by itself."""
    ada = world.contractor()
    a = world.assignment(ada, start=TODAY + days(1), end=TODAY + days(30))
    headers = {"x-tenant-id": world.tenant}
    async with start_policy() as svc:
        r = await svc.client.post("/v1/policies", json={"quote": "qt_" + "0" * 22}, headers=headers)
        assert (r.status_code, r.json()["error_code"]) == (403, "custom_applications_disabled")
        assert "apply/sessions" in r.json()["message"]
        for call in (svc.client.put, svc.client.delete):
            kwargs = {"json": {"status": "cancelled"}} if call is svc.client.put else {}
            r = await call("/v1/policies/" + new_id("pl"), headers=headers, **kwargs)
            assert (r.status_code, r.json()["error_code"]) == (404, "invalid_policy_id"), r.text

        await world.send(world.company())
        await world.send(a, version=1)
        await world.send(world.completion(ada, [world.quote(a)]))
        [activated] = await world.wait_for(PolicyActivatedV1.SUBJECT, 1)
        await world.wait_for(CertificateIssuedV1.SUBJECT, 1)  # the policy answer names its certificates
        policy_id = activated.data.policy_id
        before = (await svc.client.get(f"/v1/policies/{policy_id}", headers=headers)).json()
        r = await svc.client.put(f"/v1/policies/{policy_id}", json={"status": "cancelled"}, headers=headers)
        assert (r.status_code, r.json()["error_code"]) == (400, "bad_request") and "quote" in r.json()["message"]
        r = await svc.client.delete(f"/v1/policies/{policy_id}", headers=headers)
        assert (r.status_code, r.json()["error_code"]) == (400, "bad_request") and "cancel" in r.json()["message"]
        # another company's policy is unknown to it
        other = await svc.client.delete(f"/v1/policies/{policy_id}", headers={"x-tenant-id": new_id("co")})
        assert (other.status_code, other.json()["error_code"]) == (404, "invalid_policy_id")
        after = (await svc.client.get(f"/v1/policies/{policy_id}", headers=headers)).json()
        assert unsigned(after) == unsigned(before)  # each read signs its download links afresh, with its own time


async def test_coverage_in_force_for_a_job_during_some_days(world: World, start_policy) -> None:
    ada = world.contractor()
    a = world.assignment(ada, start=TODAY + days(1), end=TODAY + days(30))
    headers = {"x-tenant-id": world.tenant}

    async def in_force(svc: Any, job: str, first: Any, last: Any, tenant: dict[str, str] = headers) -> bool:
        params = {"contractor": ada.contractor_id, "job": job, "first_day": first.isoformat(), "last_day": last.isoformat()}
        r = await svc.client.get("/v1/coverages/in_force", params=params, headers=tenant)
        assert r.status_code == 200, r.text
        return bool(r.json()["in_force"])

    async with start_policy() as svc:
        job = a.job.job_id
        assert await in_force(svc, job, TODAY, TODAY + days(40)) is False  # nothing bound yet
        await world.send(world.company())
        await world.send(a, version=1)
        await world.send(world.completion(ada, [world.quote(a)]))
        await world.wait_for(CoverageBoundV1.SUBJECT, 1)
        # the job of an assignment's coverage is on the assignment's snapshot, which comes on the
        # contractor stream beside the completion; the certificate is issued once it is there
        await world.wait_for(CertificateIssuedV1.SUBJECT, 1)
        assert await in_force(svc, job, TODAY + days(30), TODAY + days(40)) is True  # the last day overlaps
        assert await in_force(svc, job, TODAY + days(31), TODAY + days(40)) is False
        assert await in_force(svc, "jb_" + "0" * 22, TODAY, TODAY + days(40)) is False  # another job
        assert await in_force(svc, job, TODAY, TODAY + days(40), {"x-tenant-id": new_id("co")}) is False
        params = {"contractor": ada.contractor_id, "job": job, "first_day": "2026-12-02", "last_day": "2026-12-01"}
        r = await svc.client.get("/v1/coverages/in_force", params=params, headers=headers)
        assert (r.status_code, r.json()["error_code"]) == (400, "invalid_input")

        cancel = AssignmentCancelledV1(
            assignment_id=a.assignment_id, contractor_id=ada.contractor_id, reason="client_request", cancelled_at=NOW
        )
        await world.send(cancel, version=2)
        await world.wait_for(CoverageCancelledV1.SUBJECT, 1)
        assert await in_force(svc, job, TODAY, TODAY + days(40)) is False
