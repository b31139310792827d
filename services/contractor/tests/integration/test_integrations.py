"""Integration webhooks: signing secrets per company, signatures required, payloads mapped to a
contractor, job and assignment, idempotent per external id, existing contractors matched by email."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from contractor.domain.integrations import sign
from contractor_testkit import ADDRESS, OTHER_TENANT, TENANT, make_contractor, subjects
from ten99_contracts.contractor_v1 import IntegrationSecretRotatedV1
from ten99_testing import quiescent, wait_until
from ten99_testing.service import RunningService

pytestmark = pytest.mark.integration

CREATOR = {
    "EventType": "CreatorStatusChanged",
    "Status": "Accepted",
    "CampaignId": 4412,
    "CampaignName": "Spring 2027",
    "CampaignDescription": "Two sponsored short videos",
    "BrandName": "Nike",
    "StartDate": "2026-11-10",
    "EndDate": "2026-12-09",
    "Creator": {
        "CreatorId": 998877,
        "FirstName": "Ada",
        "LastName": "Lovelace",
        "Email": "ada@example.com",
        "Phone": "+14155550100",
        "Address": {"Street1": "2211 Mission St", "City": "San Francisco", "State": "CA", "Zip": "94110"},
    },
    "PaymentAmount": 2500.00,
    "WorkState": "CA",
    "CustomField3": "PO-2027-001",
    "CustomField4": "ap@agency.com",
}

WORKER = {
    "event": "task.worker_accepted",
    "data": {
        "status": "accepted",
        "worker": {
            "id": "wrk_8841",
            "first_name": "Grace",
            "last_name": "Hopper",
            "email": "GRACE@example.com",
            "address": {"line1": "1 Navy Way", "city": "Arlington", "state": "Virginia", "postal_code": "22202"},
        },
        "task": {
            "id": "tsk_5521",
            "title": "Software developer",
            "description": "Builds the compiler",
            "client": {"name": "Acme"},
            "work_state": "remote",
            "rate": {"amount": "95.00", "type": "hourly"},
            "start_date": "2026-11-05",
            "end_date": "2027-02-05",
        },
    },
}


async def deliver(svc: RunningService, provider: str, payload: Any, secret: str | None, *, age_s: int = 0, **headers: str) -> Any:
    body = json.dumps(payload).encode()
    if secret is not None:
        headers["x-ten99-signature"] = sign(secret, int(svc.clock.now().timestamp()) - age_s, body)
    return await svc.client.post(
        f"/v1/integrations/{provider}/webhook", content=body, headers={"content-type": "application/json", **headers}
    )


async def test_secrets_and_signatures(svc: RunningService) -> None:
    c = svc.client
    # none until asked for; reading never makes one, nor shows one
    unset = (await c.get("/v1/integrations/creatoriq/secret")).json()
    assert unset["configured"] is False and unset["hint"] is None and "secret" not in unset
    # the secret is in the answer that makes it, and only there
    first = (await c.post("/v1/integrations/creatoriq/secret")).json()
    assert first["secret"].startswith("whsec_") and len(first["secret"]) > 40
    assert first["configured"] is True and first["hint"] == "whsec_…" + first["secret"][-4:]
    shown = (await c.get("/v1/integrations/creatoriq/secret")).json()
    assert "secret" not in shown and first["secret"] not in str(shown)
    assert shown["configured"] is True and shown["hint"] == first["hint"]
    assert shown["created_at"] == first["created_at"] and shown["rotated_at"] is None
    assert (await c.get("/v1/integrations/creatoriq/secret", headers={"x-tenant-id": OTHER_TENANT})).json()["configured"] is False
    other = (await c.post("/v1/integrations/creatoriq/secret", headers={"x-tenant-id": OTHER_TENANT})).json()["secret"]
    assert other != first["secret"]
    assert (await c.get("/v1/integrations/nope/secret")).status_code == 404
    assert (await c.post("/v1/integrations/nope/secret")).status_code == 404

    def refused(r: Any) -> bool:
        return bool(r.status_code == 401 and r.json()["error_code"] == "invalid_webhook_signature")

    assert refused(await deliver(svc, "creatoriq", CREATOR, None))
    assert refused(await deliver(svc, "creatoriq", CREATOR, "whsec_wrong"))
    assert refused(await deliver(svc, "creatoriq", CREATOR, first["secret"], age_s=301))
    assert refused(await deliver(svc, "creatoriq", CREATOR, other))  # another company's secret
    assert refused(await deliver(svc, "worksuite", WORKER, first["secret"]))  # no worksuite secret yet
    # a body changed after signing fails
    body = json.dumps(CREATOR).encode()
    header = sign(first["secret"], int(svc.clock.now().timestamp()), body)
    r = await c.post("/v1/integrations/creatoriq/webhook", content=body + b" ", headers={"x-ten99-signature": header})
    assert refused(r)
    assert (await c.get("/v1/contractors")).json()["data"] == []

    answer = (await c.post("/v1/integrations/creatoriq/secret")).json()
    rotated = answer["secret"]
    assert rotated != first["secret"] and answer["created_at"] == first["created_at"] and answer["rotated_at"]
    after = (await c.get("/v1/integrations/creatoriq/secret")).json()
    assert "secret" not in after and after["hint"] == "whsec_…" + rotated[-4:] and after["rotated_at"] == answer["rotated_at"]
    assert refused(await deliver(svc, "creatoriq", CREATOR, first["secret"]))
    assert (await deliver(svc, "creatoriq", CREATOR, rotated)).status_code == 200


async def test_each_rotation_publishes_the_hint_once_for_the_audit_ledger(svc: RunningService, stream: Any) -> None:
    user = {"x-ten99-actor": "user:us_0000000000000000000001"}
    made = [(await svc.client.post("/v1/integrations/worksuite/secret", headers=user)).json() for _ in range(2)]

    async def rotations() -> list[dict[str, Any]]:
        return [m for s, m in await stream.messages() if s == IntegrationSecretRotatedV1.SUBJECT]

    sent = await wait_until(rotations, satisfies=lambda found: len(found) >= 2, what="2 rotations")
    await quiescent(svc)
    assert len(await rotations()) == 2  # once each
    assert [m["data"]["first"] for m in sent] == [True, False]
    assert [m["data"]["hint"] for m in sent] == [answer["hint"] for answer in made]
    assert {(m["actor"], m["tenant_id"], m["data"]["provider"]) for m in sent} == {(user["x-ten99-actor"], TENANT, "worksuite")}
    assert not any(answer["secret"] in str(sent) for answer in made)


async def test_creatoriq_sync_is_idempotent_per_external_id(svc: RunningService, stream: Any) -> None:
    c = svc.client
    secret = (await c.post("/v1/integrations/creatoriq/secret")).json()["secret"]
    r = await deliver(svc, "creatoriq", CREATOR, secret)
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["status"] == "created" and first["external_id"] == "4412:998877"

    person = (await c.get(f"/v1/contractors/{first['contractor']}")).json()
    assert person["custom_metadata"] == {"creatoriq_id": "998877"} and person["address"]["region"] == "CA"
    job = (await c.get(f"/v1/jobs/{first['job']}")).json()
    assert (job["category_code"], job["wage"], job["wage_type"], job["work_state"]) == ("jc_creator", 250_000, "flatfee", "CA")
    assert job["custom_metadata"] == {"creatoriq_campaign_id": "4412"}
    assignment = (await c.get(f"/v1/assignments/{first['assignment']}")).json()
    assert (assignment["po_number"], assignment["po_contact_email"], assignment["campaign"]) == (
        "PO-2027-001",
        "ap@agency.com",
        "Spring 2027",
    )
    assert assignment["source"] == "creatoriq"

    # the same delivery again: nothing changes, nothing is emitted
    again = (await deliver(svc, "creatoriq", CREATOR, secret)).json()
    assert again["status"] == "unchanged" and again["assignment"] == first["assignment"]
    await quiescent(svc)
    before = await stream.messages()
    made = ["integration_secret_rotated"]  # the secret made before the first delivery
    assert subjects(before) == [*made, "contractor_registered", "job_upserted", "assignment_created", "po_number_set"]
    job_upserted = before[2][1]
    assert job_upserted["aggregate_id"] == job["id"] and job_upserted["data"]["source"] == "creatoriq"
    assert job_upserted["data"]["custom_metadata"] == {"creatoriq_campaign_id": "4412"}

    # an updated delivery (new address, later end, new PO) updates in place
    changed = copy.deepcopy(CREATOR)
    changed["Creator"]["Address"]["Street1"] = "500 Castro St"
    changed["EndDate"] = "2026-12-31"
    changed["CustomField3"] = "PO-2027-002"
    r = (await deliver(svc, "creatoriq", changed, secret)).json()
    assert r["status"] == "updated" and (r["contractor"], r["assignment"]) == (first["contractor"], first["assignment"])
    assert len((await c.get("/v1/contractors")).json()["data"]) == 1
    assert len((await c.get("/v1/assignments")).json()["data"]) == 1
    assignment = (await c.get(f"/v1/assignments/{first['assignment']}")).json()
    assert assignment["po_number"] == "PO-2027-002"
    await quiescent(svc)
    after = (await stream.messages())[len(before) :]
    assert subjects(after) == ["contractor_updated", "assignment_updated", "po_number_set"]
    assert after[1][1]["data"]["end_date"] == "2026-12-31"
    assert after[2][1]["data"]["previous_po_number"] == "PO-2027-001"

    # anything but an acceptance is acknowledged and ignored
    declined = {**CREATOR, "Status": "Declined"}
    assert (await deliver(svc, "creatoriq", declined, secret)).json()["status"] == "ignored"
    # a delivery lacking what coverage needs fails and says what is missing
    broken = copy.deepcopy(CREATOR)
    del broken["Creator"]["Email"]
    broken["WorkState"] = ""
    r = await deliver(svc, "creatoriq", broken, secret)
    assert r.status_code == 400 and r.json()["error_code"] == "invalid_input"
    assert "Creator.Email" in r.json()["message"] and "WorkState" in r.json()["message"]


async def test_worksuite_matches_an_existing_contractor_by_email(svc: RunningService, stream: Any) -> None:
    c = svc.client
    existing = await make_contractor(svc, email="grace@example.com", first_name="Grace", last_name="Hopper", address=ADDRESS)
    secret = (await c.post("/v1/integrations/worksuite/secret")).json()["secret"]
    r = (await deliver(svc, "worksuite", WORKER, secret)).json()
    assert r["status"] == "created" and r["contractor"] == existing["id"]
    person = (await c.get(f"/v1/contractors/{existing['id']}")).json()
    assert person["custom_metadata"] == {"worksuite_id": "wrk_8841"} and person["address"]["region"] == "VA"
    assert person["email"] == "grace@example.com"  # addresses are stored lower-cased (the kit's parse_email)
    job = (await c.get(f"/v1/jobs/{r['job']}")).json()
    assert (job["category_code"], job["wage"], job["wage_type"], job["work_state"]) == (
        "jc_software_developer",
        9_500,
        "hourly",
        None,
    )
    assignment = (await c.get(f"/v1/assignments/{r['assignment']}")).json()
    assert assignment["po_number"] is None and assignment["coverage_type"] == ["general", "workers-comp"]
    assert len((await c.get("/v1/contractors")).json()["data"]) == 1
    assert (await deliver(svc, "worksuite", WORKER, secret)).json()["status"] == "unchanged"
    await quiescent(svc)
    assert subjects(await stream.messages()) == [
        "contractor_registered",
        "integration_secret_rotated",
        "contractor_updated",
        "job_upserted",
        "assignment_created",
    ]
