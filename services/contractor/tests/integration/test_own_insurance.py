"""The contractor's own insurance (policy's UploadedCertificateReviewedV1, approved): the roster
says ``own_insurance``, the assignments it covers are no coverage gap, export as
``own_insurance`` and say so in the facility view and the profile's assignments (one it does not cover is still a gap); a
flagged review changes nothing, and a repeated message is harmless."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from contractor_testkit import NOW, make_assignment, make_contractor, make_entity, make_job
from ten99_contracts.policy_v1 import UploadedCertificateReviewedV1
from ten99_testing import quiescent, wait_until
from ten99_testing.service import RunningService
from test_coverage_gaps import _roster_heard, day
from test_exports import rows_of

pytestmark = pytest.mark.integration


def reviewed(contractor_id: str, assignment_ids: list[str], status: str) -> UploadedCertificateReviewedV1:
    return UploadedCertificateReviewedV1(
        upload_id="ci_0000000000000000000001",
        contractor_id=contractor_id,
        status=status,
        assignment_ids=assignment_ids,
        covered_assignment_ids=assignment_ids if status == "approved" else [],
        filename="own_coi.pdf",
        sha256="0" * 64,
        reviewed_at=NOW,
    )


async def _gap_ids(svc: RunningService) -> set[str]:
    return {g["assignment_id"] for g in (await svc.client.get("/v1/coverage_gaps")).json()["gaps"]}


async def test_an_approved_upload_shows_own_insurance_and_is_no_gap(svc: RunningService, stream: Any) -> None:
    entity = (await make_entity(svc))["id"]
    job = await make_job(svc, entity)
    ada = (await make_contractor(svc, email="ada@example.com"))["id"]
    work = (await make_assignment(svc, ada, job["id"], effective_date=day(1), end_date=day(30)))["id"]
    later = (await make_assignment(svc, ada, job["id"], effective_date=day(2), end_date=day(40)))["id"]
    assert {work, later} <= await _gap_ids(svc)

    await stream.publish(reviewed(ada, [work], "flagged"))
    await quiescent(svc)
    assert await _roster_heard(svc, ada, "not_invited") and work in await _gap_ids(svc)

    approved = reviewed(ada, [work], "approved")
    await stream.publish(approved, occurred_at=NOW + timedelta(minutes=1))
    await wait_until(lambda: _roster_heard(svc, ada, "own_insurance"), what="roster shows own insurance")
    await stream.publish(approved, occurred_at=NOW + timedelta(minutes=1))  # again: harmless
    await quiescent(svc)
    # the certificate covers `work` only: `later` (no coverage bound, no certificate) is still a gap
    gaps = await _gap_ids(svc)
    assert work not in gaps and later in gaps
    facility = (await svc.client.get(f"/v1/entities/{entity}/facility")).json()
    assert {a["assignment_id"]: a["own_insurance"] for a in facility["assignments"]} == {work: True, later: False}
    only = (await svc.client.get("/v1/roster", params={"status": "own_insurance"})).json()
    assert [r["contractor_id"] for r in only["data"]] == [ada] and only["summary"]["by_status"]["own_insurance"] == 1
    rows = {r["Assignment ID"]: r for r in rows_of((await svc.client.get("/v1/exports/assignments.csv")).content)}
    assert (rows[work]["Coverage Status"], rows[work]["Contractor Status"]) == ("own_insurance", "own_insurance")
    assert rows[later]["Coverage Status"] != "own_insurance"
    # the profile's (and the portal's) assignments name the upload that covers each
    profile = (await svc.client.get(f"/v1/contractors/{ada}/assignments")).json()["data"]
    assert {a["id"]: a["own_insurance_upload_id"] for a in profile} == {work: approved.upload_id, later: None}
