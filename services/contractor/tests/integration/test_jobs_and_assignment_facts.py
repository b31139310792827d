"""Issue 13 on PostgreSQL + NATS: jobs announced (JobUpsertedV1 / JobDeletedV1), contractor DELETE,
category code retrieve, and the assignment's ``eligible`` / ``policy`` / ``certificates`` kept from
enrollment's and policy's messages (idempotent, any order)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from contractor_testkit import NOW, TENANT, make_assignment, make_contractor, make_entity, make_job, subjects
from ten99_contracts import Address, AssignmentQuote, AssignmentRefusal, CoverageTerms
from ten99_contracts.enrollment_v1 import (
    ApplicationCompletedV1,
    ApplicationIneligibleV1,
    AssignmentEnrolledV1,
    Consent,
)
from ten99_contracts.policy_v1 import CertificateIssuedV1, CoverageBoundV1
from ten99_testing import quiescent, wait_until
from ten99_testing.service import RunningService

pytestmark = pytest.mark.integration


async def test_job_writes_are_announced_with_their_state(svc: RunningService, stream: Any) -> None:
    c = svc.client
    entity = await make_entity(svc, required_coverage=["general", "workers-comp"])
    job = await make_job(svc, entity["id"], custom_metadata={"purchase_order_number": "PO-77", "campaign": "Volvo"})
    await c.put(f"/v1/entities/{entity['id']}", json={"name": "Nike Inc"})  # the job carries its end client
    unused = await make_job(svc, entity["id"], name="Model", category_code="jc_model", work_state="remote")
    r = await c.delete(f"/v1/jobs/{unused['id']}")
    assert r.status_code == 200 and r.json() == {"id": unused["id"], "object": "job", "deleted": True}

    await quiescent(svc)
    msgs = [(s, m) for s, m in await stream.messages() if ".job_" in s]
    assert subjects(msgs) == ["job_upserted", "job_upserted", "job_upserted", "job_deleted"]
    first, renamed, model, deleted = (m for _, m in msgs)
    assert (first["aggregate_id"], first["aggregate_version"], first["tenant_id"]) == (job["id"], 1, TENANT)
    data = first["data"]
    assert data == {
        **data,
        "job_id": job["id"],
        "name": "Photographer",
        "category_code": "jc_photographer",
        "work_state": "CA",
        "wage_cents": 250_000,
        "wage_type": "flatfee",
        "purchase_order_number": "PO-77",
        "custom_metadata": {"purchase_order_number": "PO-77", "campaign": "Volvo"},
        "created": True,
        "source": "api",
    }
    assert data["entity"] == {**data["entity"], "entity_id": entity["id"], "required_coverage": ["general", "workers-comp"]}
    assert (renamed["aggregate_version"], renamed["data"]["entity"]["name"], renamed["data"]["created"]) == (2, "Nike Inc", False)
    assert model["data"]["work_state"] is None
    assert (deleted["aggregate_id"], deleted["data"], deleted["aggregate_version"]) == (unused["id"], {"job_id": unused["id"]}, 2)


async def test_contractor_delete_and_category_code_retrieve(svc: RunningService, stream: Any) -> None:
    c = svc.client
    loner = await make_contractor(svc, email="loner@example.com")
    r = await c.delete(f"/v1/contractors/{loner['id']}")
    assert r.status_code == 200 and r.json() == {"id": loner["id"], "object": "contractor", "deleted": True}
    assert (await c.get(f"/v1/contractors/{loner['id']}")).status_code == 404
    assert (await c.delete(f"/v1/contractors/{loner['id']}")).status_code == 404
    again = await make_contractor(svc, email="loner@example.com")  # the email is free again
    assert again["id"] != loner["id"]

    worker = await make_contractor(svc)
    job = await make_job(svc, (await make_entity(svc))["id"])
    await make_assignment(svc, worker["id"], job["id"])
    r = await c.delete(f"/v1/contractors/{worker['id']}")
    assert (r.status_code, r.json()["error_code"]) == (400, "invalid_input")
    assert (await c.get(f"/v1/contractors/{worker['id']}")).status_code == 200
    assert (await c.delete(f"/v1/contractors/{worker['id']}", headers={"x-tenant-id": "co_other"})).status_code == 404

    await quiescent(svc)
    deletions = [m for s, m in await stream.messages() if s.endswith("contractor_deleted.v1")]
    assert [(m["aggregate_id"], m["data"]) for m in deletions] == [
        (loner["id"], {"contractor_id": loner["id"], "email": "loner@example.com"})
    ]

    code = await c.get("/v1/category_codes/jc_photographer")
    assert code.status_code == 200
    assert code.json() == {**code.json(), "id": "jc_photographer", "object": "job_category", "code": "jc_photographer"}
    missing = await c.get("/v1/category_codes/jc_astronaut")
    assert (missing.status_code, missing.json()["error_code"]) == (404, "invalid_job_category_code")


def _quote(assignment_id: str, job_id: str) -> AssignmentQuote:
    return AssignmentQuote(
        assignment_id=assignment_id,
        quote_id="qt_1",
        job_id=job_id,
        category_code="jc_photographer",
        coverage_types=["general", "workers-comp"],
        home_state="CA",
        work_state="CA",
        effective_date=date(2026, 11, 10),
        end_date=date(2026, 12, 9),
        net_rate=100,
        gl_net_rate=29,
        wc_net_rate=71,
        eligibility_message="Contractor is eligible for coverage.",
    )


def _certificate(assignment_id: str, contractor_id: str, number: str, url: str, days: int) -> CertificateIssuedV1:
    return CertificateIssuedV1(
        certificate_id=f"coi_{number}",
        certificate_number=number,
        coverage_id="cv_1",
        assignment_id=assignment_id,
        contractor_id=contractor_id,
        policy_id="pl_1",
        policy_number="T99-1",
        contractor_email="ada@example.com",
        contractor_name="Ada Lovelace",
        holder_name="Nike",
        coverage_types=["general", "workers-comp"],
        effective_date=date(2026, 11, 10),
        end_date=date(2026, 12, 9),
        issued_at=NOW + timedelta(days=days),
        download_url=url,
        filename="coi.pdf",
        pdf=b"%PDF",
    )


async def test_assignment_shows_eligibility_policy_and_certificates_from_the_bus(svc: RunningService, stream: Any) -> None:
    c = svc.client
    person = await make_contractor(svc)
    job = await make_job(svc, (await make_entity(svc))["id"])
    first = await make_assignment(svc, person["id"], job["id"])
    second = await make_assignment(svc, person["id"], job["id"], effective_date="2026-11-20", end_date="2026-12-19")
    refused = await make_assignment(svc, person["id"], job["id"], effective_date="2026-11-21", end_date="2026-12-19")
    fresh = (await c.get(f"/v1/assignments/{first['id']}")).json()
    assert (fresh["eligible"], fresh["policy"], fresh["certificates"]) == (None, None, {})

    terms = CoverageTerms(
        coverage_id="cv_1",
        policy_id="pl_1",
        assignment_id=first["id"],
        contractor_id=person["id"],
        coverage_types=["general", "workers-comp"],
        effective_date=date(2026, 11, 10),
        end_date=date(2026, 12, 9),
        status="scheduled",
        net_rate=100,
    )
    completed = ApplicationCompletedV1(
        session_id="ias_1",
        contractor_id=person["id"],
        first_name="Ada",
        last_name="Lovelace",
        email="ada@example.com",
        address=Address(line1="1 Main St", locality="San Francisco", region="CA", postalcode="94110"),
        consent=Consent(signed_name="Ada Lovelace", signed_at=NOW, text_version="2026-11"),
        assignments=[_quote(first["id"], job["id"])],
        not_covered=[AssignmentRefusal(assignment_id=refused["id"], reason="No rate for this work.")],
    )
    later, earlier = NOW + timedelta(hours=2), NOW + timedelta(hours=1)
    # newest first, each twice: a newer certificate, then an older one; the bound coverage before the opt-in
    await stream.publish(_certificate(first["id"], person["id"], "COI-2", "https://t/2.pdf", days=2), occurred_at=later)
    await stream.publish(_certificate(first["id"], person["id"], "COI-1", "https://t/1.pdf", days=1), occurred_at=earlier)
    for _ in range(2):
        await stream.publish(CoverageBoundV1(terms=terms), occurred_at=earlier)
        await stream.publish(completed, occurred_at=NOW)
        await stream.publish(
            ApplicationIneligibleV1(
                session_id="ias_0", contractor_id=person["id"], reasons=["Too young."], assignment_ids=[second["id"]]
            ),
            occurred_at=NOW,
        )
        await stream.publish(
            AssignmentEnrolledV1(session_id="ias_1", contractor_id=person["id"], quote=_quote(second["id"], job["id"])),
            occurred_at=later,  # a later verdict replaces the earlier ineligible one
        )

    async def settled() -> dict[str, Any] | None:
        rows = {a["id"]: a for a in (await c.get("/v1/assignments", params={"contractor": person["id"]})).json()["data"]}
        ready = rows[first["id"]]["certificates"].get("certificate_number") == "COI-2" and rows[second["id"]]["eligible"]
        return rows if ready and rows[second["id"]]["eligible"]["result"] and rows[refused["id"]]["eligible"] else None

    rows = await wait_until(settled, what="the assignment facts")
    await quiescent(svc)
    rows = await settled()
    assert rows is not None
    a = rows[first["id"]]
    assert a["eligible"] == {"result": True, "message": "Contractor is eligible for coverage."}
    assert a["policy"] == "pl_1" and a["coverage_status"] == "scheduled"
    assert a["certificates"] == {
        "certificate_id": "coi_COI-2",
        "certificate_number": "COI-2",
        "gl_coi_pdf_url": "https://t/2.pdf",
        "wc_coi_pdf_url": "https://t/2.pdf",
    }
    assert rows[second["id"]]["eligible"] == {"result": True, "message": "Contractor is eligible for coverage."}
    assert rows[second["id"]]["policy"] is None
    assert rows[refused["id"]]["eligible"] == {"result": False, "message": "No rate for this work."}
    one = (await c.get(f"/v1/assignments/{first['id']}")).json()
    assert one["eligible"] == a["eligible"] and one["certificates"] == a["certificates"]
