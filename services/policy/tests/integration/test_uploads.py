"""Uploaded certificates of insurance: the review rules, the coverage decision (an approved
upload is not bound, so no premium), the file limits and tenant isolation, on real PostgreSQL
and NATS JetStream (docs/uploaded-certificates.md)."""

from __future__ import annotations

import hashlib
import io
from datetime import date
from typing import Any

import pytest
from fpdf import FPDF
from policy_world import TODAY, World, days, unsigned
from pypdf import PdfReader, PdfWriter
from ten99_contracts.policy_v1 import CoverageBoundV1, PolicyActivatedV1, UploadedCertificateReviewedV1
from ten99_testing import quiescent, wait_until
from ten99_testing.service import RunningService
from ten99kit.ids import new_id

pytestmark = pytest.mark.integration

COVERAGES = ("Commercial General Liability", "Workers Compensation")


def certificate_pdf(
    *,
    insured: str = "Ada Lovelace",
    holder: str = "Nike",
    coverages: tuple[str, ...] = COVERAGES,
    occurrence: str = "$1,000,000",
    aggregate: str = "$2,000,000",
    effective: date | None = None,
    expiration: date | None = None,
    text: bool = True,
) -> bytes:
    """A certificate of insurance drawn with fpdf2, with the labelled lines the rules read."""
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=11)
    if text:
        lines = [
            "CERTIFICATE OF LIABILITY INSURANCE",
            f"Insured: {insured}",
            *[f"Coverage: {c}" for c in coverages],
            f"Each Occurrence: {occurrence}",
            f"General Aggregate: {aggregate}",
            f"Policy Effective: {(effective or TODAY - days(30)).isoformat()}",
            f"Policy Expiration: {(expiration or TODAY + days(365)).strftime('%m/%d/%Y')}",
            f"Certificate Holder: {holder}",
        ]
        for line in lines:
            pdf.cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def encrypted(content: bytes) -> bytes:
    """The same PDF, encrypted with a password the reader does not have (its text unreadable)."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(content)))
    writer.encrypt(user_password="secret", owner_password="owner")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def upload(
    svc: RunningService, tenant: str, contractor: str, content: bytes, *, assignment: str | None = None, name: str = "coi.pdf"
) -> Any:
    data = {"contractor": contractor, **({"assignment": assignment} if assignment else {})}
    files = {"certificate": (name, content, "application/pdf")}
    return await svc.client.post("/v1/uploads", data=data, files=files, headers={"x-tenant-id": tenant})


async def known(svc: RunningService, world: World, contractor: str, content: bytes, **kw: Any) -> dict[str, Any]:
    """Upload once policy has heard of the contractor's assignments (they travel on the bus)."""
    answers: list[Any] = []

    async def accepted() -> bool:
        answers.append(await upload(svc, world.tenant, contractor, content, **kw))
        return answers[-1].status_code != 404

    await wait_until(accepted, timeout=15, what="policy knows the assignment")
    assert answers[-1].status_code == 200, answers[-1].text
    return answers[-1].json()


async def test_an_approved_upload_covers_its_assignment_and_binding_skips_it(world: World, start_policy) -> None:
    ada = world.contractor("Ada", "Lovelace")
    covered = world.assignment(ada, start=TODAY + days(5), end=TODAY + days(60), entity="Nike")
    other = world.assignment(ada, start=TODAY + days(5), end=TODAY + days(60), entity="Adidas")
    async with start_policy() as svc:
        await world.send(world.company())
        await world.send(covered, version=1)
        await world.send(other, version=1)
        content = certificate_pdf()
        body = await known(svc, world, ada.contractor_id, content, assignment=covered.assignment_id)
        assert body["status"] == "approved" and body["id"].startswith("ci_")
        assert body["sha256"] == hashlib.sha256(content).hexdigest() and body["assignments"] == [covered.assignment_id]
        assert body["review_results"]["summary"]["failed"] == 0
        [reviewed] = await world.wait_for(UploadedCertificateReviewedV1.SUBJECT, 1)
        assert reviewed.data.status == "approved" and reviewed.data.covered_assignment_ids == [covered.assignment_id]

        # the contractor opts in for both: only the one not covered by their own insurance is bound
        await world.send(world.completion(ada, [world.quote(covered), world.quote(other)]))
        [bound] = await world.wait_for(CoverageBoundV1.SUBJECT, 1)
        await quiescent(svc)
        assert bound.data.terms.assignment_id == other.assignment_id
        assert [b.data.terms.assignment_id for b in await world.published(CoverageBoundV1.SUBJECT)] == [other.assignment_id]


async def test_an_opt_in_whose_every_assignment_is_covered_binds_no_policy(world: World, start_policy) -> None:
    ada = world.contractor("Ada", "Lovelace")
    work = world.assignment(ada, start=TODAY + days(2), end=TODAY + days(40), entity="Nike")
    async with start_policy() as svc:
        await world.send(work, version=1)
        body = await known(svc, world, ada.contractor_id, certificate_pdf())  # all of the contractor's work
        assert body["status"] == "approved" and body["assignment"] is None
        await world.send(world.completion(ada, [world.quote(work)]))
        await quiescent(svc)
        assert await world.published(PolicyActivatedV1.SUBJECT) == []
        assert await world.published(CoverageBoundV1.SUBJECT) == []
        r = await svc.client.get("/v1/policies", params={"contractor": ada.contractor_id}, headers={"x-tenant-id": world.tenant})
        assert r.json()["data"] == []


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"insured": "Grace Hopper"}, "named_insured"),
        ({"holder": "Reebok"}, "certificate_holder"),
        ({"occurrence": "$500,000"}, "limits"),
        ({"expiration": TODAY + days(20)}, "dates_cover_assignment"),
    ],
)
async def test_a_soft_failure_flags_the_upload_for_a_person(
    world: World, start_policy, changes: dict[str, Any], rule: str
) -> None:
    ada = world.contractor("Ada", "Lovelace")
    work = world.assignment(ada, start=TODAY + days(5), end=TODAY + days(60), entity="Nike")
    async with start_policy() as svc:
        await world.send(work, version=1)
        body = await known(svc, world, ada.contractor_id, certificate_pdf(**changes), assignment=work.assignment_id)
        assert body["status"] == "flagged"
        failed = [r["rule"] for r in body["review_results"]["audit_results"] if not r["passed"]]
        assert failed == [rule]
        [reviewed] = await world.wait_for(UploadedCertificateReviewedV1.SUBJECT, 1)
        assert reviewed.data.status == "flagged" and [f.rule for f in reviewed.data.failures] == [rule]
        assert reviewed.data.covered_assignment_ids == []


async def test_a_person_approves_or_denies_a_flagged_upload(world: World, start_policy) -> None:
    ada = world.contractor("Ada", "Lovelace")
    work = world.assignment(ada, start=TODAY + days(5), end=TODAY + days(60), entity="Nike")
    headers = {"x-tenant-id": world.tenant}
    async with start_policy() as svc:
        await world.send(work, version=1)
        flagged = await known(svc, world, ada.contractor_id, certificate_pdf(holder="Reebok"), assignment=work.assignment_id)
        r = await svc.client.post(f"/v1/uploads/{flagged['id']}/decision", json={"decision": "maybe"}, headers=headers)
        assert r.status_code == 400 and r.json()["error_code"] == "invalid_input"
        r = await svc.client.post(
            f"/v1/uploads/{flagged['id']}/decision", json={"decision": "approve", "decided_by": "ops@acme.test"}, headers=headers
        )
        assert r.status_code == 200 and r.json()["status"] == "approved" and r.json()["decided_by"] == "ops@acme.test"
        reviewed = await world.wait_for(UploadedCertificateReviewedV1.SUBJECT, 2)
        assert [m.data.status for m in reviewed] == ["flagged", "approved"]
        assert reviewed[1].aggregate_version == 2 and reviewed[1].data.covered_assignment_ids == [work.assignment_id]
        # decided: the other decision is refused, the same one is harmless
        r = await svc.client.post(f"/v1/uploads/{flagged['id']}/decision", json={"decision": "deny"}, headers=headers)
        assert r.status_code == 409
        r = await svc.client.post(f"/v1/uploads/{flagged['id']}/decision", json={"decision": "approve"}, headers=headers)
        assert r.status_code == 200 and r.json()["status"] == "approved"

        second = await upload(svc, world.tenant, ada.contractor_id, certificate_pdf(insured="Someone Else"))
        r = await svc.client.post(f"/v1/uploads/{second.json()['id']}/decision", json={"decision": "deny"}, headers=headers)
        assert r.status_code == 200 and r.json()["status"] == "denied"


@pytest.mark.parametrize(
    ("kwargs", "rule"),
    [
        ({"expiration": TODAY - days(1), "effective": TODAY - days(300)}, "not_expired"),
        ({"coverages": ("Commercial General Liability",)}, "coverage_types"),
        ({"text": False}, "readable_text"),
    ],
)
async def test_a_hard_failure_denies_the_upload(world: World, start_policy, kwargs: dict[str, Any], rule: str) -> None:
    ada = world.contractor("Ada", "Lovelace")
    work = world.assignment(ada, start=TODAY + days(5), end=TODAY + days(60))
    async with start_policy() as svc:
        await world.send(work, version=1)
        body = await known(svc, world, ada.contractor_id, certificate_pdf(**kwargs), assignment=work.assignment_id)
        assert body["status"] == "denied"
        assert rule in [r["rule"] for r in body["review_results"]["audit_results"] if not r["passed"] and r["hard"]]


async def test_an_unreadable_pdf_is_kept_as_an_error(world: World, start_policy) -> None:
    ada = world.contractor("Ada", "Lovelace")
    work = world.assignment(ada, start=TODAY + days(5), end=TODAY + days(60))
    async with start_policy() as svc:
        await world.send(work, version=1)
        body = await known(svc, world, ada.contractor_id, encrypted(certificate_pdf()), assignment=work.assignment_id)
        assert body["status"] == "error"
        [reviewed] = await world.wait_for(UploadedCertificateReviewedV1.SUBJECT, 1)
        assert reviewed.data.status == "error"


async def test_file_limits_refuse_with_a_code_and_store_nothing(world: World, start_policy) -> None:
    ada = world.contractor("Ada", "Lovelace")
    work = world.assignment(ada, start=TODAY + days(5), end=TODAY + days(60))
    headers = {"x-tenant-id": world.tenant}
    async with start_policy(upload_max_bytes=4000) as svc:
        await world.send(work, version=1)
        await known(svc, world, ada.contractor_id, certificate_pdf())  # policy knows the assignment now
        before = (await svc.client.get("/v1/uploads", headers=headers)).json()["data"]
        big = certificate_pdf() + b"%" + b"x" * 5000
        cases = [
            (big, "coi.pdf", 413, "invalid_file_size"),
            (b"GIF89a not a pdf", "coi.pdf", 400, "invalid_file_type"),
            (certificate_pdf(), "coi.png", 400, "invalid_file_type"),
            (b"%PDF-1.7 but nothing a reader can open", "coi.pdf", 400, "invalid_file_type"),
            (b"", "coi.pdf", 400, "missing_certificate"),
        ]
        for content, name, status, code in cases:
            r = await upload(svc, world.tenant, ada.contractor_id, content, name=name)
            assert (r.status_code, r.json()["error_code"]) == (status, code), (name, r.text)
        r = await upload(svc, world.tenant, "cn_../../etc", certificate_pdf())
        assert r.status_code == 400 and r.json()["error_code"] == "invalid_contractor_id"
        r = await upload(svc, world.tenant, new_id("cn"), certificate_pdf())
        assert r.status_code == 404 and r.json()["error_code"] == "no_insurance_requirement_found"
        after = (await svc.client.get("/v1/uploads", headers=headers)).json()["data"]
        assert unsigned(after) == unsigned(before) and len(after) == 1


async def test_uploads_are_never_served_to_another_tenant(world: World, start_policy) -> None:
    ada = world.contractor("Ada", "Lovelace")
    work = world.assignment(ada, start=TODAY + days(5), end=TODAY + days(60))
    mine, theirs = {"x-tenant-id": world.tenant}, {"x-tenant-id": new_id("co")}
    async with start_policy() as svc:
        await world.send(work, version=1)
        content = certificate_pdf()
        body = await known(svc, world, ada.contractor_id, content, assignment=work.assignment_id)
        upload_id = body["id"]
        assert (await svc.client.get(f"/v1/uploads/{upload_id}/pdf", headers=mine)).content == content
        for path in (f"/v1/uploads/{upload_id}", f"/v1/uploads/{upload_id}/pdf"):
            r = await svc.client.get(path, headers=theirs)
            assert r.status_code == 404 and r.json()["error_code"] == "invalid_certificate_id"
        r = await svc.client.post(f"/v1/uploads/{upload_id}/decision", json={"decision": "deny"}, headers=theirs)
        assert r.status_code == 404
        assert (await svc.client.get("/v1/uploads", headers=theirs)).json()["data"] == []
        # the other tenant cannot upload against this tenant's contractor either
        r = await upload(svc, theirs["x-tenant-id"], ada.contractor_id, content, assignment=work.assignment_id)
        assert r.status_code == 404
        # the signed link opens the file; with a token made for another upload it does not
        token = body["pdf_url"].split("token=")[1]
        r = await svc.client.get(f"/v1/public/uploads/{upload_id}.pdf", params={"token": token})
        assert r.status_code == 200 and r.content == content
        r = await svc.client.get(f"/v1/public/uploads/{new_id('ci')}.pdf", params={"token": token})
        assert r.status_code == 403


async def test_an_expired_upload_link_says_so_as_a_certificate_link_does(world: World, start_policy) -> None:
    """Both download links answer alike: an old link is ``auth_token_expired``, a bad one ``insufficient_permissions``."""
    ada = world.contractor("Ada", "Lovelace")
    work = world.assignment(ada, start=TODAY + days(5), end=TODAY + days(60))
    async with start_policy(link_max_age_s=-1) as svc:  # every link is past its age as soon as it is made
        await world.send(work, version=1)
        body = await known(svc, world, ada.contractor_id, certificate_pdf(), assignment=work.assignment_id)
        token = body["pdf_url"].split("token=")[1]
        for kind in ("uploads", "certificates"):
            r = await svc.client.get(f"/v1/public/{kind}/{body['id']}.pdf", params={"token": token})
            assert (r.status_code, r.json()["error_code"]) == (403, "auth_token_expired"), kind
            for bad in ("", token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")):
                r = await svc.client.get(f"/v1/public/{kind}/{body['id']}.pdf", params={"token": bad})
                assert (r.status_code, r.json()["error_code"]) == (403, "insufficient_permissions"), (kind, bad)
