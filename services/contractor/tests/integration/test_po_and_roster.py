"""Missing PO and the bulk PO action; the Contractors page read model kept from enrollment's and
policy's messages (published to JetStream as the other services would), whatever their order."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from contractor_testkit import (
    NOW,
    OTHER_TENANT,
    csv_bytes,
    csv_row,
    finished_import,
    make_assignment,
    make_contractor,
    make_entity,
    make_job,
    subjects,
    upload,
)
from sqlalchemy import select
from ten99_contracts import Address, AssignmentQuote, CoverageTerms
from ten99_contracts.enrollment_v1 import (
    ApplicationCompletedV1,
    ApplicationDeclinedV1,
    ApplicationIneligibleV1,
    Consent,
    InvitationExpiredV1,
    InvitationIssuedV1,
)
from ten99_contracts.policy_v1 import CoverageActivatedV1, CoverageBoundV1
from ten99_testing import quiescent, wait_until
from ten99_testing.service import RunningService

pytestmark = pytest.mark.integration


async def test_missing_po_and_setting_one_po_on_a_thousand_assignments(svc: RunningService, stream: Any) -> None:
    c = svc.client
    svc.runtime.parts.dependencies["ctx"].settings.imports.chunk_rows = 1000
    rows = [csv_row(i, Campaign="Spring 2027" if i < 1000 else "Fall 2027") for i in range(1003)]
    done = await finished_import(svc, (await upload(svc, csv_bytes(rows))).json()["id"])
    assert done["assignments_created"] == 1003 and done["assignments_missing_po"] == 1003

    missing = (await c.get("/v1/po/missing", params={"limit": 5})).json()
    assert missing["count"] == 1003 and len(missing["assignments"]) == 5
    first = missing["assignments"][0]
    assert first["entity_name"] == "Nike" and first["effective_date"] == "2026-11-10" and first["campaign"] == "Fall 2027"
    everything = (await c.get("/v1/po/missing", params={"limit": 1000, "campaign": "Spring 2027"})).json()
    ids = [a["assignment_id"] for a in everything["assignments"]]
    assert everything["count"] == 1000 and len(ids) == 1000

    # a cancelled assignment no longer counts as missing a PO
    fall = (await c.get("/v1/po/missing", params={"campaign": "Fall 2027"})).json()["assignments"]
    assert (await c.post(f"/v1/assignments/{fall[0]['assignment_id']}/cancel", json={"reason": "x"})).status_code == 200
    assert (await c.get("/v1/po/missing")).json()["count"] == 1002

    # unknown, other companies' and cancelled ids refuse the whole action
    r = await c.post("/v1/po/bulk-set", json={"assignment_ids": [*ids[:3], "an_nope"], "po_number": "PO-1"})
    assert (r.status_code, r.json()["error_code"]) == (400, "invalid_assignment_id") and "an_nope" in r.json()["message"]
    r = await c.post(
        "/v1/po/bulk-set", json={"assignment_ids": ids[:3], "po_number": "PO-1"}, headers={"x-tenant-id": OTHER_TENANT}
    )
    assert r.json()["error_code"] == "invalid_assignment_id"
    r = await c.post("/v1/po/bulk-set", json={"assignment_ids": [fall[0]["assignment_id"]], "po_number": "PO-1"})
    assert (r.status_code, r.json()["error_code"]) == (400, "invalid_input")
    r = await c.post("/v1/po/bulk-set", json={"assignment_ids": ids[:3], "po_number": "PO-1", "po_contact_email": "nope"})
    assert (r.status_code, r.json()["error_code"]) == (400, "invalid_input")
    assert (await c.get("/v1/po/missing")).json()["count"] == 1002

    await quiescent(svc)
    seen = len(await stream.messages())
    # (how long this takes is measured by the benchmark: bench/README.md, "the bulk-set request")
    r = await c.post(
        "/v1/po/bulk-set",
        json={"assignment_ids": ids, "po_number": "PO-2027-001", "po_contact_email": "ap@nike.com", "set_by": "ops"},
    )
    assert r.status_code == 200 and r.json()["updated"] == 1000
    assert (await c.get("/v1/po/missing")).json()["count"] == 2
    again = (
        await c.post(
            "/v1/po/bulk-set", json={"assignment_ids": ids, "po_number": "PO-2027-001", "po_contact_email": "ap@nike.com"}
        )
    ).json()
    assert (again["updated"], again["unchanged"]) == (0, 1000)

    # one PO per campaign: the campaign's assignments still missing one
    r = (await c.post("/v1/po/bulk-set", json={"campaign": "Fall 2027", "po_number": "PO-FALL"})).json()
    assert r["updated"] == 2
    assert (await c.get("/v1/po/missing")).json()["count"] == 0

    await quiescent(svc)
    new = (await stream.messages())[seen:]
    assert subjects(new) == ["po_number_set"] * 1002
    message = new[0][1]
    assert message["aggregate_version"] == 2
    assert {k: message["data"][k] for k in ("po_number", "po_contact_email", "campaign", "previous_po_number", "set_by")} == {
        "po_number": "PO-2027-001",
        "po_contact_email": "ap@nike.com",
        "campaign": "Spring 2027",
        "previous_po_number": None,
        "set_by": "ops",
    }
    roster = (await c.get("/v1/roster", params={"limit": 1})).json()
    assert roster["summary"]["assignments_missing_po"] == 0 and roster["summary"]["contractors"] == 1003


def _terms(contractor_id: str, assignment_id: str) -> CoverageTerms:
    return CoverageTerms(
        coverage_id="cv_1",
        policy_id="pl_1",
        assignment_id=assignment_id,
        contractor_id=contractor_id,
        coverage_types=["general"],
        effective_date=date(2026, 11, 10),
        end_date=date(2026, 12, 9),
        status="scheduled",
        net_rate=65,
    )


def _invitation(contractor_id: str, invitation_id: str = "inv_1") -> InvitationIssuedV1:
    return InvitationIssuedV1(
        invitation_id=invitation_id,
        contractor_id=contractor_id,
        email="x@example.com",
        first_name="X",
        last_name="Y",
        opt_in_url="http://127.0.0.1:8000/opt-in/t",
        expires_at=NOW + timedelta(days=30),
        assignment_ids=[],
    )


def _completed(
    contractor_id: str, first_name: str = "X", last_name: str = "Y", phone: str | None = None, address: Address | None = None
) -> ApplicationCompletedV1:
    return ApplicationCompletedV1(
        session_id="ias_1",
        contractor_id=contractor_id,
        first_name=first_name,
        last_name=last_name,
        email="x@example.com",
        phone=phone,
        address=address or Address(line1="1 Main", locality="SF", region="CA", postalcode="94110"),
        consent=Consent(signed_name="X Y", signed_at=NOW, text_version="v1"),
        assignments=[
            AssignmentQuote(
                assignment_id="an_x",
                quote_id="qt_x",
                job_id="jb_x",
                category_code="jc_creator",
                coverage_types=["general"],
                home_state="CA",
                work_state="CA",
                effective_date=date(2026, 11, 10),
                end_date=date(2026, 12, 9),
                net_rate=65,
            )
        ],
    )


async def test_details_the_contractor_corrected_on_the_opt_in_form_become_their_record(svc: RunningService, stream: Any) -> None:
    c = svc.client
    ada = await make_contractor(svc, email="ada@example.com", first_name="Ada")
    grace = await make_contractor(svc, email="grace@example.com", first_name="Grace")
    moved = Address(line1="9 New Rd", line2="Apt 2", locality="Austin", region="TX", postalcode="78701")
    corrected = _completed(ada["id"], "Ada", "King", phone="+1 512 555 0100", address=moved)
    await stream.publish(corrected, occurred_at=NOW + timedelta(minutes=5))
    # the company edited Grace after she confirmed: the company's edit stands
    await stream.publish(_completed(grace["id"], "Gracie", "H"), occurred_at=NOW - timedelta(minutes=5))

    async def updated() -> dict[str, Any] | None:
        got = (await c.get(f"/v1/contractors/{ada['id']}")).json()
        return got if got["last_name"] == "King" else None

    got = await wait_until(updated)
    assert got["phone"] == "+1 512 555 0100"
    assert {k: got["address"][k] for k in ("line1", "line2", "locality", "region", "postalcode")} == {
        "line1": "9 New Rd",
        "line2": "Apt 2",
        "locality": "Austin",
        "region": "TX",
        "postalcode": "78701",
    }
    # the same confirmation again (a new envelope) changes nothing
    await stream.publish(corrected, occurred_at=NOW + timedelta(minutes=5))
    await wait_until(lambda: _completions_applied(svc, 3))
    messages = await stream.messages()
    updates = [m for s, m in messages if s == "ten99.contractor.contractor_updated.v1"]
    assert [(m["data"]["contractor_id"], m["data"]["last_name"], m["data"]["address"]["region"]) for m in updates] == [
        (ada["id"], "King", "TX")
    ]
    assert (await c.get(f"/v1/contractors/{grace['id']}")).json()["first_name"] == "Grace"


async def _completions_applied(svc: RunningService, n: int) -> bool:
    from sqlalchemy import func, select

    inbox = svc.runtime.definition.metadata.tables["inbox"]
    async with svc.db.session() as s:
        q = select(func.count()).select_from(inbox).where(inbox.c.consumer.like("%application_completed%"))
        return bool((await s.execute(q)).scalar_one() == n)


async def test_roster_status_follows_enrollment_and_policy_in_any_order(svc: RunningService, stream: Any) -> None:
    c = svc.client
    entity = await make_entity(svc)
    job = await make_job(svc, entity["id"])
    names = ["invited", "opted", "covered", "expired", "answered_then_expired", "ineligible", "new", "reinvited"]
    people = {n: await make_contractor(svc, email=f"{n}@example.com", first_name=n.title()) for n in names}
    a_covered = await make_assignment(svc, people["covered"]["id"], job["id"])
    await make_assignment(svc, people["opted"]["id"], job["id"], po_number="PO-1")
    await make_assignment(svc, people["opted"]["id"], job["id"], effective_date="2026-11-20", end_date="2026-11-30")

    def at(minutes: int) -> datetime:
        return NOW + timedelta(minutes=minutes)

    pid = {n: p["id"] for n, p in people.items()}
    await stream.publish(_invitation(pid["invited"]), occurred_at=at(1))
    await stream.publish(_invitation(pid["opted"]), occurred_at=at(1))
    await stream.publish(_completed(pid["opted"], "Opted", "Lovelace"), occurred_at=at(5))
    # covered first, then a late invitation and application: covered stays covered
    await stream.publish(CoverageBoundV1(terms=_terms(pid["covered"], a_covered["id"])), occurred_at=at(10))
    await stream.publish(_invitation(pid["covered"]), occurred_at=at(1))
    await stream.publish(_completed(pid["covered"], "Covered", "Lovelace"), occurred_at=at(5))
    await stream.publish(CoverageActivatedV1(terms=_terms(pid["covered"], a_covered["id"])), occurred_at=at(20))
    # the expiry arrives before the invitation it ends
    await stream.publish(InvitationExpiredV1(invitation_id="inv_1", contractor_id=pid["expired"]), occurred_at=at(60))
    await stream.publish(_invitation(pid["expired"]), occurred_at=at(1))
    await stream.publish(_completed(pid["answered_then_expired"]), occurred_at=at(5))
    await stream.publish(
        InvitationExpiredV1(invitation_id="inv_1", contractor_id=pid["answered_then_expired"]), occurred_at=at(60)
    )
    await stream.publish(
        ApplicationIneligibleV1(session_id="ias_2", contractor_id=pid["ineligible"], reasons=["age"]), occurred_at=at(5)
    )
    await stream.publish(_invitation(pid["ineligible"]), occurred_at=at(1))
    # expired, then invited again: invited
    await stream.publish(_invitation(pid["reinvited"], "inv_2"), occurred_at=at(90))
    await stream.publish(InvitationExpiredV1(invitation_id="inv_1", contractor_id=pid["reinvited"]), occurred_at=at(60))
    # a repeated message (same business event, new envelope) changes nothing
    await stream.publish(_invitation(pid["invited"]), occurred_at=at(1))

    expected = {
        "invited": "invited",
        "opted": "opted_in",
        "covered": "covered",
        "expired": "expired",
        "answered_then_expired": "opted_in",
        "ineligible": "ineligible",
        "new": "not_invited",
        "reinvited": "invited",
    }

    async def statuses() -> dict[str, str] | None:
        rows = (await c.get("/v1/roster", params={"limit": 100})).json()["data"]
        got = {r["email"].split("@")[0]: r["status"] for r in rows}
        return got if got == expected else None

    await wait_until(statuses)
    roster = (await c.get("/v1/roster", params={"limit": 100})).json()
    assert roster["summary"] == {
        "contractors": 8,
        "assignments_missing_po": 2,
        "by_status": {
            "not_invited": 1,
            "invited": 2,
            "expired": 1,
            "ineligible": 1,
            "declined": 0,
            "opted_in": 2,
            "covered": 1,
            "own_insurance": 0,
        },
    }
    opted = next(r for r in roster["data"] if r["contractor_id"] == pid["opted"])
    assert (opted["assignments"], opted["assignments_missing_po"], opted["name"]) == (2, 1, "Opted Lovelace")
    assert opted["opted_in_at"].startswith("2026-11-02T15:05")

    only = (await c.get("/v1/roster", params={"status": "opted_in"})).json()
    assert {r["email"] for r in only["data"]} == {"opted@example.com", "answered_then_expired@example.com"} and only["total"] == 2
    found = (await c.get("/v1/roster", params={"q": "REINVITED"})).json()
    assert [r["email"] for r in found["data"]] == ["reinvited@example.com"]
    found = (await c.get("/v1/roster", params={"q": "covered lovelace"})).json()
    assert [r["email"] for r in found["data"]] == ["covered@example.com"]
    paged = (await c.get("/v1/roster", params={"limit": 3, "offset": 6})).json()
    assert len(paged["data"]) == 2 and paged["total"] == 8 and paged["has_more"] is False
    empty = (await c.get("/v1/roster", params={"limit": 3, "offset": 60})).json()
    assert empty["data"] == [] and empty["summary"]["contractors"] == 8
    assert (await c.get("/v1/roster", params={"status": "bogus"})).json()["error_code"] == "invalid_input"
    assert (await c.get("/v1/roster", headers={"x-tenant-id": OTHER_TENANT})).json()["summary"]["contractors"] == 0

    # the profile shows coverage bound by the policy service
    profile = (await c.get(f"/v1/contractors/{pid['covered']}/assignments")).json()["data"]
    assert [a["coverage_status"] for a in profile] == ["scheduled"]


def _declined(contractor_id: str, reason: str = "has_own_insurance", note: str | None = "Own policy.") -> ApplicationDeclinedV1:
    return ApplicationDeclinedV1(
        contractor_id=contractor_id, invitation_id="inv_1", reason=reason, note=note, declined_at=NOW, assignment_ids=[]
    )


async def test_a_decline_shows_declined_with_its_reason_until_an_opt_in(svc: RunningService, stream: Any) -> None:
    """The roster hears ApplicationDeclinedV1: repeated or older declines change nothing; an opt-in
    after the decline (the contractor changed their mind) shows opted in; a newer invitation, invited."""
    c = svc.client
    people = {n: await make_contractor(svc, email=f"{n}@example.com") for n in ("declined", "changed_mind", "reinvited")}
    pid = {n: p["id"] for n, p in people.items()}

    def at(minutes: int) -> datetime:
        return NOW + timedelta(minutes=minutes)

    for who in pid.values():
        await stream.publish(_invitation(who), occurred_at=at(1))
    await stream.publish(_declined(pid["declined"]), occurred_at=at(5))
    await stream.publish(_declined(pid["declined"]), occurred_at=at(5))  # the same decline again
    await stream.publish(_declined(pid["declined"], "other", "older"), occurred_at=at(3))  # an older one, late
    await stream.publish(_completed(pid["changed_mind"]), occurred_at=at(10))
    await stream.publish(_declined(pid["changed_mind"], "does_not_want", None), occurred_at=at(5))
    await stream.publish(_declined(pid["reinvited"]), occurred_at=at(5))
    await stream.publish(_invitation(pid["reinvited"], "inv_2"), occurred_at=at(20))
    expected = {"declined": "declined", "changed_mind": "opted_in", "reinvited": "invited"}

    async def rows() -> dict[str, Any] | None:
        data = (await c.get("/v1/roster", params={"limit": 100})).json()["data"]
        got = {r["email"].split("@")[0]: r for r in data}
        return got if {k: r["status"] for k, r in got.items()} == expected else None

    got = await wait_until(rows)
    assert got["declined"]["decline_reason"] == "has_own_insurance"
    assert got["changed_mind"]["decline_reason"] is None and got["reinvited"]["decline_reason"] is None
    roster = (await c.get("/v1/roster", params={"status": "declined"})).json()
    assert [r["email"] for r in roster["data"]] == ["declined@example.com"]
    assert roster["summary"]["by_status"]["declined"] == 1
    async with svc.db.session() as s:
        t = svc.runtime.definition.metadata.tables["roster_status"]
        row = (await s.execute(select(t).where(t.c.contractor_id == pid["declined"]))).mappings().one()
    assert (row["declined_at"], row["decline_reason"], row["decline_note"]) == (at(5), "has_own_insurance", "Own policy.")
