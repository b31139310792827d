"""Live certificates on real PostgreSQL and NATS: each certificate gets its own verification id,
printed as a URL and a QR code, and ``GET /v1/verifications/{id}`` answers its public view with
the status of the day by the service's clock: scheduled, active, expired, superseded (with the
newer certificate's id) and cancelled (its coverage or its policy)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pypdf
import pytest
import zxingcpp
from policy.adapters.db import certificates
from policy_world import NOW, TODAY, World, days, pdf_text, tick
from sqlalchemy import select
from ten99_contracts.contractor_v1 import AssignmentCancelledV1, AssignmentExtendedV1, ContractorDeletedV1
from ten99_contracts.policy_v1 import CertificateIssuedV1, CoverageCancelledV1, PolicyCancelledV1
from ten99_testing.service import RunningService

pytestmark = pytest.mark.integration

BASE = "https://cover.ten99.example"
#: everything the public view holds; nothing about the contractor beyond their name
PUBLIC_KEYS = {
    "verification_id",
    "status",
    "status_on",
    "certificate_number",
    "issued_on",
    "insured_name",
    "holder_name",
    "coverage_types",
    "coverages",
    "effective_date",
    "end_date",
    "superseded_by",
}


def noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def verification_id_of(pdf: bytes) -> str:
    """The id in the certificate's QR code (what a phone reads), checked against its printed URL."""
    [page] = pypdf.PdfReader(io.BytesIO(pdf)).pages
    [url] = [code.text for image in page.images for code in zxingcpp.read_barcodes(image.image)]
    assert url.startswith(f"{BASE}/verify/vrf_") and url in pdf_text(pdf)
    return url.removeprefix(f"{BASE}/verify/")


async def view(svc: RunningService, verification_id: str) -> dict[str, Any]:
    r = await svc.client.get(f"/v1/verifications/{verification_id}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == PUBLIC_KEYS
    return body


async def bound(world: World, *assignments: Any) -> list[Any]:
    contractor = assignments[0].contractor
    await world.send(world.company())
    for a in assignments:
        await world.send(a, version=1)
    await world.send(world.completion(contractor, [world.quote(a) for a in assignments]))
    return await world.wait_for(CertificateIssuedV1.SUBJECT, len(assignments))


async def test_a_certificate_is_scheduled_then_active_then_expired_by_the_services_clock(world: World, start_policy) -> None:
    ada = world.contractor("Ada", "Lovelace")
    a = world.assignment(ada, start=TODAY + days(3), end=TODAY + days(10))
    async with start_policy(public_base_url=BASE) as svc:
        [cert] = await bound(world, a)
        vid = verification_id_of(cert.data.pdf)
        async with svc.db.session() as s:
            stored = (await s.execute(select(certificates.c.id, certificates.c.verification_id))).one()
        assert stored.verification_id == vid and stored.id == cert.data.certificate_id and vid != stored.id

        first = await view(svc, vid)
        assert first == {
            "verification_id": vid,
            "status": "scheduled",
            "status_on": TODAY.isoformat(),
            "certificate_number": cert.data.certificate_number,
            "issued_on": TODAY.isoformat(),
            "insured_name": "Ada Lovelace",
            "holder_name": a.job.entity.name,
            "coverage_types": list(a.coverage_types),
            "coverages": first["coverages"],
            "effective_date": (TODAY + days(3)).isoformat(),
            "end_date": (TODAY + days(10)).isoformat(),
            "superseded_by": None,
        }
        assert first["coverages"] and all(label[0].isupper() for label in first["coverages"])

        # the clock alone moves the status: on the first day, before the job activates the coverage
        svc.clock.freeze(noon(TODAY + days(3)))
        assert (await view(svc, vid))["status"] == "active"
        await tick(svc)
        svc.clock.freeze(noon(TODAY + days(10)))
        assert (await view(svc, vid))["status"] == "active"  # the last day is covered
        await tick(svc, noon(TODAY + days(11)))
        later = await view(svc, vid)
        assert (later["status"], later["status_on"]) == ("expired", (TODAY + days(11)).isoformat())


async def test_an_extension_supersedes_the_certificate_which_links_to_the_new_one(world: World, start_policy) -> None:
    ada = world.contractor()
    a = world.assignment(ada, start=TODAY + days(1), end=TODAY + days(30))
    async with start_policy(public_base_url=BASE) as svc:
        [first] = await bound(world, a)
        old = verification_id_of(first.data.pdf)
        await world.send(
            AssignmentExtendedV1(
                assignment_id=a.assignment_id,
                contractor_id=ada.contractor_id,
                previous_end_date=a.end_date,
                end_date=TODAY + days(60),
            ),
            version=2,
        )
        [_, second] = await world.wait_for(CertificateIssuedV1.SUBJECT, 2)
        new = verification_id_of(second.data.pdf)
        assert new != old

        was = await view(svc, old)
        assert (was["status"], was["superseded_by"], was["end_date"]) == ("superseded", new, (TODAY + days(30)).isoformat())
        now = await view(svc, new)
        assert (now["status"], now["superseded_by"], now["end_date"]) == ("scheduled", None, (TODAY + days(60)).isoformat())

        # the old certificate, drawn again with its stamp, still carries its own code
        pdf = await svc.client.get(f"/v1/certificates/{first.data.certificate_id}/pdf", headers={"x-tenant-id": world.tenant})
        assert "SUPERSEDED" in pdf_text(pdf.content) and verification_id_of(pdf.content) == old


async def test_a_cancelled_coverage_and_a_cancelled_policy_show_cancelled(world: World, start_policy) -> None:
    ada = world.contractor()
    a = world.assignment(ada, start=TODAY + days(5), end=TODAY + days(30))
    b = world.assignment(ada, start=TODAY + days(6), end=TODAY + days(30), entity="Meta")
    async with start_policy(public_base_url=BASE) as svc:
        certs = await bound(world, a, b)
        ids = {c.data.assignment_id: verification_id_of(c.data.pdf) for c in certs}
        cancel = AssignmentCancelledV1(
            assignment_id=a.assignment_id, contractor_id=ada.contractor_id, reason="client_request", cancelled_at=NOW
        )
        await world.send(cancel, version=2)
        await world.wait_for(CoverageCancelledV1.SUBJECT, 1)
        assert (await view(svc, ids[a.assignment_id]))["status"] == "cancelled"
        assert (await view(svc, ids[b.assignment_id]))["status"] == "scheduled"

        # the policy cancelled (its contractor deleted): its certificates no longer prove cover
        await world.send(ContractorDeletedV1(contractor_id=ada.contractor_id, email=ada.email), version=3)
        await world.wait_for(PolicyCancelledV1.SUBJECT, 1)
        svc.clock.freeze(noon(TODAY + days(7)))  # within b's dates: the cancellation wins
        assert (await view(svc, ids[b.assignment_id]))["status"] == "cancelled"


async def test_unknown_and_malformed_ids_get_the_same_404_and_the_route_needs_the_internal_token(
    world: World, start_policy
) -> None:
    a = world.assignment(world.contractor(), start=TODAY + days(1), end=TODAY + days(2))
    async with start_policy(public_base_url=BASE) as svc:
        [cert] = await bound(world, a)
        vid = verification_id_of(cert.data.pdf)
        unknown = "vrf_" + "A" * 27
        for wrong in (unknown, vid[:-1], vid + "x", cert.data.certificate_id, cert.data.certificate_number, "vrf_%2e%2e"):
            r = await svc.client.get(f"/v1/verifications/{wrong}")
            assert (r.status_code, r.json()["error_code"]) == (404, "resource_not_found"), wrong
            assert r.json()["message"] == "No certificate has this verification id"
        transport = svc.client._transport  # the same app, without the gateway's token
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as outsider:
            assert (await outsider.get(f"/v1/verifications/{vid}")).status_code == 401
