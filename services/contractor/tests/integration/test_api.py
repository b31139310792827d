"""The 1099Policy-shaped API on PostgreSQL + NATS: entities, contractors, jobs, assignments,
validation codes, pagination, tenant isolation, tax-id encryption, the assignment lifecycle, and
the messages that reach JetStream."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from contractor.adapters.db import contractors
from contractor_testkit import (
    ADDRESS,
    OTHER_TENANT,
    TENANT,
    make_assignment,
    make_contractor,
    make_entity,
    make_job,
    subjects,
)
from sqlalchemy import select
from ten99_contracts import CoverageTerms
from ten99_contracts.policy_v1 import CoverageBoundV1
from ten99_testing import quiescent, wait_until
from ten99_testing.service import RunningService
from ten99kit.clock import SettableClock

pytestmark = pytest.mark.integration


def epoch(day: str) -> int:
    from datetime import UTC, datetime

    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp())


async def test_create_read_and_validate_resources_in_1099policy_shape(svc: RunningService, stream: Any) -> None:
    c = svc.client
    entity = await make_entity(
        svc, required_coverage=["general"], coverage_limit={"aggregate_limit": "300000000", "occurrence_limit": 100000000}
    )
    assert entity["id"].startswith("en_") and entity["object"] == "entity" and isinstance(entity["created"], int)
    assert entity["coverage_limit"] == {"aggregate_limit": 300_000_000, "occurrence_limit": 100_000_000}

    person = await make_contractor(svc, tax_identification="123-45-6789", custom_metadata={"team": "west", "n": 3})
    assert person["id"].startswith("cn_")
    assert person["tax_identification"] == "***-**-6789"
    assert person["custom_metadata"] == {"team": "west", "n": "3"}
    assert person["address"]["region"] == "CA" and person["address"]["country"] == "US"
    # the tax id is encrypted at rest: the clear value is nowhere in the row
    async with svc.db.session() as s:
        row = (await s.execute(select(contractors).where(contractors.c.id == person["id"]))).mappings().one()
    assert "6789" not in str(row["tax_id_encrypted"]) and row["tax_id_masked"] == "***-**-6789"

    job = await make_job(svc, entity["id"])
    assert job["id"].startswith("jb_") and job["entity"] == entity["id"] and job["work_state"] == "CA"
    assignment = await make_assignment(svc, person["id"], job["id"])
    assert assignment["id"].startswith("an_")
    assert assignment["effective_date"] == epoch("2026-11-10") and assignment["end_date"] == epoch("2026-12-09")
    assert assignment["coverage_type"] == ["general"]  # the entity's required coverage
    assert assignment["status"] == "pending" and assignment["coverage_status"] == "not_bound"

    # epoch input works too, and coverage defaults to both lines when the entity sets none
    plain = await make_entity(svc, "Acme")
    job2 = await make_job(svc, plain["id"], work_state="remote", wage_type="Hourly", wage=5000)
    assert job2["work_state"] is None and job2["wage_type"] == "hourly"
    a2 = await make_assignment(svc, person["id"], job2["id"], effective_date=epoch("2026-11-05"), end_date=epoch("2027-01-05"))
    assert a2["coverage_type"] == ["general", "workers-comp"]

    codes = (await c.get("/v1/category_codes")).json()
    assert codes["object"] == "list" and len(codes["data"]) == 14
    assert {"id": "jc_creator", "object": "job_category", "code": "jc_creator"}.items() <= codes["data"][0].items()

    async def error(method: str, url: str, body: dict[str, Any]) -> tuple[int, str]:
        r = await c.request(method, url, json=body)
        return r.status_code, r.json()["error_code"]

    pid, jid, eid = person["id"], job["id"], entity["id"]
    dated = {"contractor": pid, "job": jid, "effective_date": "2026-11-10"}
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("/v1/contractors", {"first_name": "A", "last_name": "B", "email": "ADA@example.com", "address": ADDRESS},
         "duplicate_email"),
        ("/v1/contractors", {"first_name": "A", "email": "x@example.com", "address": ADDRESS}, "invalid_input"),
        ("/v1/contractors", {"first_name": "A", "last_name": "B", "email": "bad", "address": ADDRESS}, "invalid_input"),
        ("/v1/contractors", {"first_name": "A", "last_name": "B", "email": "b@example.com"}, "invalid_input"),
        ("/v1/jobs", {"entity": "en_nope", "category_code": "jc_model"}, "invalid_entity_id"),
        ("/v1/jobs", {"entity": eid, "category_code": "jc_astronaut"}, "invalid_job_category_code"),
        ("/v1/jobs", {"entity": eid}, "missing_job_category_code"),
        ("/v1/jobs", {"entity": eid, "category_code": "jc_model", "name": "M", "description": "d", "wage": 5,
                      "wage_type": "flatfee"}, "invalid_input"),
        ("/v1/assignments", {"contractor": "cn_nope", "job": jid}, "invalid_contractor_id"),
        ("/v1/assignments", {"contractor": pid, "job": "jb_nope"}, "invalid_job_id"),
        ("/v1/assignments", {**dated, "effective_date": "2026-11-01"}, "effective_date_invalid"),
        ("/v1/assignments", {**dated, "end_date": "2026-11-09"}, "end_date_invalid"),
        ("/v1/assignments", {**dated, "end_date": "2027-11-11"}, "end_date_invalid"),
        ("/v1/assignments", {**dated, "end_date": "2026-12-09"}, "invalid_input"),  # the same one again
        ("/v1/entities", {"name": "X", "required_coverage": ["cyber"]}, "invalid_input"),
        ("/v1/entities", {"name": 5}, "invalid_input"),
    ]  # fmt: skip
    for url, body, code in cases:
        assert await error("POST", url, body) == (400, code), (url, body)

    # messages: registered contractor, and each assignment's full snapshot (no tax id anywhere)
    await quiescent(svc)
    everything = await stream.messages()
    assert subjects(everything) == [
        "contractor_registered",
        "job_upserted",
        "assignment_created",
        "job_upserted",
        "assignment_created",
    ]
    msgs = [m for m in everything if ".job_" not in m[0]]
    registered = msgs[0][1]
    assert (
        registered["tenant_id"] == TENANT and registered["aggregate_id"] == person["id"] and registered["aggregate_version"] == 1
    )
    assert registered["data"]["custom_metadata"] == {"team": "west", "n": "3"}
    assert "6789" not in str(msgs)
    created = msgs[1][1]["data"]
    assert created["assignment_id"] == assignment["id"]
    assert created["contractor"]["email"] == "ada@example.com"
    assert created["job"]["entity"]["name"] == "Nike" and created["job"]["entity"]["aggregate_limit_cents"] == 300_000_000
    assert (created["effective_date"], created["end_date"], created["coverage_types"]) == (
        "2026-11-10",
        "2026-12-09",
        ["general"],
    )
    assert created["source"] == "api"


async def test_lists_page_newest_first_and_filter(svc: RunningService) -> None:
    c = svc.client
    made = [await make_contractor(svc, email=f"p{i}@example.com") for i in range(5)]
    ids = [m["id"] for m in reversed(made)]  # newest first
    first = (await c.get("/v1/contractors", params={"limit": 2})).json()
    assert first["object"] == "list" and first["url"] == "/v1/contractors"
    assert [x["id"] for x in first["data"]] == ids[:2] and first["has_more"] is True
    second = (await c.get("/v1/contractors", params={"limit": 2, "starting_after": ids[1]})).json()
    assert [x["id"] for x in second["data"]] == ids[2:4] and second["has_more"] is True
    last = (await c.get("/v1/contractors", params={"limit": 2, "starting_after": ids[3]})).json()
    assert [x["id"] for x in last["data"]] == ids[4:] and last["has_more"] is False
    back = (await c.get("/v1/contractors", params={"limit": 2, "ending_before": ids[4]})).json()
    assert [x["id"] for x in back["data"]] == ids[2:4] and back["has_more"] is True
    by_email = (await c.get("/v1/contractors", params={"email": "P3@Example.com"})).json()
    assert [x["id"] for x in by_email["data"]] == [made[3]["id"]]
    assert (await c.get("/v1/contractors", params={"limit": 0})).json()["error_code"] == "invalid_input"
    assert (await c.get("/v1/contractors", params={"starting_after": "cn_nope"})).json()["error_code"] == "invalid_contractor_id"


async def test_contractors_are_read_in_one_request_by_ids_of_the_company(svc: RunningService) -> None:
    c = svc.client
    ada, bob = await make_contractor(svc, email="ada@example.com"), await make_contractor(svc, email="bob@example.com")
    await make_contractor(svc, email="cy@example.com")
    r = await c.post(
        "/v1/contractors",
        json={"first_name": "Eve", "last_name": "O", "email": "eve@example.com", "address": ADDRESS},
        headers={"x-tenant-id": OTHER_TENANT},
    )
    eve = r.json()
    unknown = "cn_" + "0" * 22
    asked = ",".join([ada["id"], eve["id"], bob["id"], unknown, ada["id"]])
    found = (await c.get("/v1/contractors", params={"ids": asked, "limit": 100})).json()
    # the list envelope as ever, newest first; another company's id and an unknown one simply do not come back
    assert found["object"] == "list" and found["url"] == "/v1/contractors" and found["has_more"] is False
    assert [x["id"] for x in found["data"]] == [bob["id"], ada["id"]]
    assert found["data"][0]["first_name"] == "Ada" and found["data"][0]["tax_identification"] is None
    theirs = (await c.get("/v1/contractors", params={"ids": asked}, headers={"x-tenant-id": OTHER_TENANT})).json()
    assert [x["id"] for x in theirs["data"]] == [eve["id"]]
    # a bad id (or an empty part) or too many ids: 400 naming the filter
    for bad in ("cn_nope", f"{ada['id']},", f"{ada['id']},en_{'0' * 22}", ",".join([unknown] * 101)):
        r = await c.get("/v1/contractors", params={"ids": bad})
        assert (r.status_code, r.json()["error_code"]) == (400, "invalid_input"), bad
        assert set(r.json()["message"]) == {"ids"}, bad
    assert (await c.get("/v1/contractors", params={"ids": ",".join([unknown] * 100)})).json()["data"] == []


async def test_one_tenant_cannot_see_or_change_anothers_data(svc: RunningService) -> None:
    entity = await make_entity(svc)
    person = await make_contractor(svc)
    job = await make_job(svc, entity["id"])
    assignment = await make_assignment(svc, person["id"], job["id"])
    other = {"x-tenant-id": OTHER_TENANT}
    c = svc.client
    # an id that names nothing of the company's: 1099Policy's code for the resource (the SDK raises
    # InvalidEntityIdError, InvalidContractorIdError, ...), on reads, changes and deletes
    for url, code in (
        (f"/v1/entities/{entity['id']}", "invalid_entity_id"),
        (f"/v1/contractors/{person['id']}", "invalid_contractor_id"),
        (f"/v1/jobs/{job['id']}", "invalid_job_id"),
        (f"/v1/assignments/{assignment['id']}", "invalid_assignment_id"),
        (f"/v1/contractors/{person['id']}/assignments", "invalid_contractor_id"),
    ):
        r = await c.get(url, headers=other)
        assert (r.status_code, r.json()["error_code"]) == (404, code), url
    for url, code in (
        (f"/v1/entities/{entity['id']}", "invalid_entity_id"),
        (f"/v1/contractors/{person['id']}", "invalid_contractor_id"),
        (f"/v1/jobs/{job['id']}", "invalid_job_id"),
        (f"/v1/assignments/{assignment['id']}", "invalid_assignment_id"),
    ):
        r = await c.delete(url, headers=other)
        assert (r.status_code, r.json()["error_code"]) == (404, code), url
        r = await c.put(url, json={}, headers=other)
        assert (r.status_code, r.json()["error_code"]) == (404, code), url
    for listing in ("/v1/entities", "/v1/contractors", "/v1/jobs", "/v1/assignments"):
        assert (await c.get(listing, headers=other)).json()["data"] == []
    assert (await c.put(f"/v1/contractors/{person['id']}", json={"first_name": "Eve"}, headers=other)).status_code == 404
    assert (await c.post(f"/v1/assignments/{assignment['id']}/cancel", json={}, headers=other)).status_code == 404
    r = await c.post("/v1/jobs", json={"entity": entity["id"], "category_code": "jc_model"}, headers=other)
    assert r.json()["error_code"] == "invalid_entity_id"
    r = await c.post("/v1/assignments", json={"contractor": person["id"], "job": job["id"]}, headers=other)
    assert r.json()["error_code"] == "invalid_contractor_id"
    # the same email is free in another company
    r = await c.post(
        "/v1/contractors",
        json={"first_name": "Ada", "last_name": "L", "email": "ada@example.com", "address": ADDRESS},
        headers=other,
    )
    assert r.status_code == 200
    assert (await c.get(f"/v1/contractors/{person['id']}")).json()["first_name"] == "Ada"
    # in its own company: coverage as a single string (the older form); contractor and job are fixed
    r = await c.put(f"/v1/assignments/{assignment['id']}", json={"coverage_type": "general"})
    assert r.status_code == 200 and r.json()["coverage_type"] == ["general"]
    r = await c.put(f"/v1/assignments/{assignment['id']}", json={"job": "jb_other"})
    assert (r.status_code, r.json()["error_code"]) == (400, "invalid_input")
    assert (await c.get("/v1/contractors", headers={"x-tenant-id": ""})).json()["error_code"] == "no_tenant_found"


async def test_updates_follow_1099policy_rules_and_publish_full_state(svc: RunningService, stream: Any) -> None:
    c = svc.client
    entity = await make_entity(svc)
    person = await make_contractor(svc, custom_metadata={"a": "1", "b": "2"})
    r = await c.put(f"/v1/contractors/{person['id']}", json={"phone": "+1 212 555 0100", "custom_metadata": {"a": ""}})
    assert r.json()["phone"] == "+1 212 555 0100" and r.json()["custom_metadata"] == {"b": "2"}
    r = await c.put(f"/v1/contractors/{person['id']}", json={"custom_metadata": {}})
    assert r.json()["custom_metadata"] == {}
    # nothing changed: no message
    await c.put(f"/v1/contractors/{person['id']}", json={"phone": "+1 212 555 0100"})
    other = await make_contractor(svc, email="grace@example.com")
    r = await c.put(f"/v1/contractors/{other['id']}", json={"email": "Ada@Example.com"})
    assert r.json()["error_code"] == "duplicate_email"

    job = await make_job(svc, entity["id"])
    a = await make_assignment(svc, person["id"], job["id"])
    r = await c.put(
        f"/v1/assignments/{a['id']}", json={"end_date": "2026-12-20", "po_number": "PO-9", "po_contact_email": "ap@nike.com"}
    )
    assert r.status_code == 200 and r.json()["end_date"] == epoch("2026-12-20") and r.json()["po_number"] == "PO-9"
    r = await c.put(f"/v1/jobs/{job['id']}", json={"wage": 300_000})
    assert r.json()["wage"] == 300_000

    await quiescent(svc)
    everything = await stream.messages()
    assert subjects(everything) == [
        "contractor_registered",
        "contractor_updated",
        "contractor_updated",
        "contractor_registered",
        "job_upserted",
        "assignment_created",
        "assignment_updated",
        "po_number_set",
        "job_upserted",
        "assignment_updated",
    ]
    job_versions = [
        (m["aggregate_version"], m["data"]["created"], m["data"]["wage_cents"]) for s, m in everything if ".job_" in s
    ]
    assert job_versions == [(1, True, 250_000), (2, False, 300_000)]
    msgs = [m for m in everything if ".job_" not in m[0]]
    versions = [m["aggregate_version"] for _, m in msgs if m["aggregate_id"] == person["id"]]
    assert versions == [1, 2, 3]
    updated = msgs[5][1]
    assert updated["aggregate_version"] == 2 and updated["data"]["end_date"] == "2026-12-20"
    assert updated["data"]["po_number"] == "PO-9"
    po = msgs[6][1]["data"]
    assert po == {
        **po,
        "assignment_id": a["id"],
        "po_number": "PO-9",
        "po_contact_email": "ap@nike.com",
        "previous_po_number": None,
    }
    rewage = msgs[7][1]
    assert rewage["aggregate_version"] == 3 and rewage["data"]["job"]["wage_cents"] == 300_000


async def test_cancel_and_extend_rules(svc: RunningService, stream: Any, clock: SettableClock) -> None:
    c = svc.client
    entity = await make_entity(svc)
    person = await make_contractor(svc)
    job = await make_job(svc, entity["id"])
    a = await make_assignment(svc, person["id"], job["id"])  # 2026-11-10 .. 2026-12-09
    b = await make_assignment(svc, person["id"], job["id"], effective_date="2026-11-03", end_date="2026-11-30")

    # extend: only later, within a year of the start; the same end again is a no-op
    r = await c.post(f"/v1/assignments/{a['id']}/extend", json={"end_date": "2026-12-01"})
    assert (r.status_code, r.json()["error_code"]) == (400, "end_date_invalid")
    r = await c.post(f"/v1/assignments/{a['id']}/extend", json={"end_date": "2027-11-11"})
    assert (r.status_code, r.json()["error_code"]) == (400, "end_date_invalid")
    r = await c.post(f"/v1/assignments/{a['id']}/extend", json={"end_date": "2027-01-31"})
    assert r.status_code == 200 and r.json()["end_date"] == epoch("2027-01-31")
    r = await c.post(f"/v1/assignments/{a['id']}/extend", json={"end_date": epoch("2027-01-31")})
    assert r.status_code == 200

    # cancel: only before the start, immediate, final
    r = await c.post(f"/v1/assignments/{a['id']}/cancel", json={"reason": "client_request"})
    assert r.status_code == 200 and r.json()["status"] == "cancelled" and r.json()["cancel_reason"] == "client_request"
    assert (await c.post(f"/v1/assignments/{a['id']}/cancel", json={"reason": "again"})).json()[
        "cancel_reason"
    ] == "client_request"
    r = await c.put(f"/v1/assignments/{a['id']}", json={"po_number": "PO-1"})
    assert (r.status_code, r.json()["error_code"]) == (400, "invalid_input")
    r = await c.post(f"/v1/assignments/{a['id']}/extend", json={"end_date": "2027-02-28"})
    assert (r.status_code, r.json()["error_code"]) == (400, "invalid_input")

    clock.advance(timedelta(days=2))  # 2026-11-04: b has started
    r = await c.post(f"/v1/assignments/{b['id']}/cancel", json={})
    assert (r.status_code, r.json()["error_code"]) == (400, "invalid_input")
    r = await c.put(f"/v1/assignments/{b['id']}", json={"effective_date": "2026-11-20"})
    assert (r.status_code, r.json()["error_code"]) == (400, "effective_date_invalid")
    r = await c.put(f"/v1/assignments/{b['id']}", json={"po_number": "PO-B"})  # the PO can still be set
    assert r.status_code == 200 and r.json()["po_number"] == "PO-B"
    r = await c.delete(f"/v1/assignments/{b['id']}")
    assert r.status_code == 400

    await quiescent(svc)
    msgs = [m for m in await stream.messages() if ".job_" not in m[0]]
    assert subjects(msgs)[3:] == ["assignment_extended", "assignment_cancelled", "assignment_updated", "po_number_set"]
    extended = msgs[3][1]
    assert extended["data"] == {
        **extended["data"],
        "previous_end_date": "2026-12-09",
        "end_date": "2027-01-31",
        "send_email": True,
    }
    assert extended["aggregate_version"] == 2
    cancelled = msgs[4][1]
    assert cancelled["data"]["reason"] == "client_request" and cancelled["aggregate_version"] == 3

    # deleting a pending, not-started assignment cancels it and hides it
    d = await make_assignment(svc, person["id"], job["id"], effective_date="2026-11-20", end_date="2026-11-25")
    r = await c.delete(f"/v1/assignments/{d['id']}")
    assert r.json() == {**r.json(), "id": d["id"], "deleted": True}
    assert (await c.get(f"/v1/assignments/{d['id']}")).status_code == 404


async def test_bound_assignment_end_date_changes_only_through_extend(svc: RunningService, stream: Any) -> None:
    entity = await make_entity(svc)
    person = await make_contractor(svc)
    job = await make_job(svc, entity["id"])
    a = await make_assignment(svc, person["id"], job["id"])
    terms = CoverageTerms(
        coverage_id="cv_1",
        policy_id="pl_1",
        assignment_id=a["id"],
        contractor_id=person["id"],
        coverage_types=["general"],
        effective_date=date(2026, 11, 10),
        end_date=date(2026, 12, 9),
        status="scheduled",
        net_rate=65,
    )
    await stream.publish(CoverageBoundV1(terms=terms))

    async def bound() -> bool:
        return (await svc.client.get(f"/v1/assignments/{a['id']}")).json()["coverage_status"] == "scheduled"

    await wait_until(bound)
    r = await svc.client.put(f"/v1/assignments/{a['id']}", json={"end_date": "2026-12-20"})
    assert (r.status_code, r.json()["error_code"]) == (400, "end_date_invalid")
    r = await svc.client.post(f"/v1/assignments/{a['id']}/extend", json={"end_date": "2026-12-20"})
    assert r.status_code == 200


async def test_the_same_assignment_twice_is_refused_naming_the_first(svc: RunningService, stream: Any) -> None:
    c = svc.client
    entity = await make_entity(svc)
    person = await make_contractor(svc)
    job = await make_job(svc, entity["id"])
    first = await make_assignment(svc, person["id"], job["id"], po_number="PO-1")
    body = {
        "contractor": person["id"],
        "job": job["id"],
        "effective_date": first["effective_date"],
        "end_date": first["end_date"],
    }
    r = await c.post("/v1/assignments", json=body)
    assert (r.status_code, r.json()["error_code"]) == (400, "invalid_input")
    assert first["id"] in r.json()["message"]
    listed = (await c.get("/v1/assignments", params={"contractor": person["id"]})).json()["data"]
    assert [a["id"] for a in listed] == [first["id"]]
    await quiescent(svc)
    assert subjects(await stream.messages()).count("assignment_created") == 1
