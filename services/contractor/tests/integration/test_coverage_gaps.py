"""Coverage-gap alerts: the rule's boundaries in UTC days (starts in 3 days: a gap; in 4: not;
opted in or covered: not; cancelled, deleted, started or ended: not), the dashboard's list, and
the daily job: one CoverageGapAlertDueV1 per company per UTC day, however often it runs, each
listing only its own company's assignments."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from contractor_testkit import ADDRESS, NOW, OTHER_TENANT, TENANT, make_assignment, make_contractor, make_entity, make_job
from ten99_contracts.contractor_v1 import CoverageGapAlertDueV1
from ten99_contracts.enrollment_v1 import ApplicationIneligibleV1
from ten99_contracts.policy_v1 import CoverageBoundV1
from ten99_testing import wait_until
from ten99_testing.service import RunningService
from test_po_and_roster import _completed, _invitation, _terms

pytestmark = pytest.mark.integration

TODAY = NOW.date()  # 2026-11-02 (UTC)


def day(n: int) -> str:
    return (TODAY + timedelta(days=n)).isoformat()


async def _roster_heard(svc: RunningService, contractor_id: str, status: str) -> bool:
    rows = (await svc.client.get("/v1/roster", params={"limit": 100})).json()["data"]
    return any(r["contractor_id"] == contractor_id and r["status"] == status for r in rows)


async def _setup(svc: RunningService, stream: Any) -> dict[str, str]:
    """Assignments of one company around the boundaries; returns name -> assignment id."""
    job = await make_job(svc, (await make_entity(svc))["id"])
    people = {
        n: (await make_contractor(svc, email=f"{n}@example.com", first_name=n.title()))["id"]
        for n in ("new", "invited", "opted", "covered", "ineligible")
    }
    ids: dict[str, str] = {}

    async def assign(name: str, who: str, start: int, end: int = 30) -> str:
        a = await make_assignment(svc, people[who], job["id"], effective_date=day(start), end_date=day(end))
        ids[name] = a["id"]
        return str(a["id"])

    await assign("today", "new", 0)
    await assign("in_3_days", "new", 3)
    await assign("in_4_days", "new", 4)
    await assign("started_tomorrow", "new", 1, end=1)  # starts (and ends) tomorrow: a gap today
    cancelled = await assign("cancelled", "new", 2)
    assert (await svc.client.post(f"/v1/assignments/{cancelled}/cancel", json={"reason": "client_request"})).status_code == 200
    deleted = await assign("deleted", "new", 2, end=20)
    assert (await svc.client.delete(f"/v1/assignments/{deleted}")).status_code == 200
    await assign("invited", "invited", 2)
    await assign("opted", "opted", 1)
    covered = await assign("covered", "covered", 1)
    await assign("ineligible", "ineligible", 3)

    await stream.publish(_invitation(people["invited"]))
    await stream.publish(_invitation(people["opted"]))
    await stream.publish(_completed(people["opted"]), occurred_at=NOW + timedelta(minutes=1))
    await stream.publish(CoverageBoundV1(terms=_terms(people["covered"], covered)))
    await stream.publish(ApplicationIneligibleV1(session_id="ias_9", contractor_id=people["ineligible"], reasons=["age"]))
    for who, status in (("invited", "invited"), ("opted", "opted_in"), ("covered", "covered"), ("ineligible", "ineligible")):
        await wait_until(lambda w=who, s=status: _roster_heard(svc, people[w], s))  # type: ignore[misc]
    return ids


async def test_the_rule_boundaries_and_the_dashboard_list(svc: RunningService, stream: Any) -> None:
    ids = await _setup(svc, stream)
    answer = (await svc.client.get("/v1/coverage_gaps")).json()
    gaps = {g["assignment_id"] for g in answer["gaps"]}
    expected = {ids[n] for n in ("today", "started_tomorrow", "invited", "in_3_days", "ineligible")}
    assert gaps == expected and answer["count"] == 5
    assert (answer["day"], answer["within_days"]) == ("2026-11-02", 3)
    # soonest first, with the contractor's status
    assert [g["effective_date"] for g in answer["gaps"]] == sorted(g["effective_date"] for g in answer["gaps"])
    by_id = {g["assignment_id"]: g for g in answer["gaps"]}
    assert by_id[ids["invited"]]["status"] == "invited" and by_id[ids["today"]]["status"] == "not_invited"
    assert by_id[ids["ineligible"]]["status"] == "ineligible"
    assert (await svc.client.get("/v1/coverage_gaps", params={"limit": 0})).json() == {**answer, "limit": 0, "gaps": []}

    # three days later: today's and tomorrow's have started or ended; in_4_days now starts in 1
    svc.clock.set(NOW + timedelta(days=3))
    later = {g["assignment_id"] for g in (await svc.client.get("/v1/coverage_gaps")).json()["gaps"]}
    assert later == {ids["in_3_days"], ids["in_4_days"], ids["ineligible"]}

    bad = await svc.client.get("/v1/coverage_gaps", params={"limit": 501})
    assert bad.status_code == 400 and bad.json()["error_code"] == "invalid_input"


async def test_one_alert_per_company_per_day_each_with_its_own_assignments(svc: RunningService, stream: Any) -> None:
    ids = await _setup(svc, stream)
    other = svc.client.headers.copy()
    other["x-tenant-id"] = OTHER_TENANT
    o_job = (await svc.client.post("/v1/jobs", headers=other, json=await _job_body(svc, other))).json()
    o_person = (await svc.client.post("/v1/contractors", headers=other, json=_person("grace@other.test"))).json()
    o_gap = await svc.client.post(
        "/v1/assignments",
        headers=other,
        json={"contractor": o_person["id"], "job": o_job["id"], "effective_date": day(1), "end_date": day(9)},
    )
    assert o_gap.status_code == 200, o_gap.text

    # each company sees only its own gaps
    mine = (await svc.client.get("/v1/coverage_gaps")).json()
    theirs = (await svc.client.get("/v1/coverage_gaps", headers=other)).json()
    assert theirs["count"] == 1 and theirs["gaps"][0]["assignment_id"] == o_gap.json()["id"]
    assert o_gap.json()["id"] not in {g["assignment_id"] for g in mine["gaps"]}

    scheduler = svc.runtime.scheduler
    assert (await scheduler.run_due())["coverage_gap_alerts"] == 2
    assert (await scheduler.run_due())["coverage_gap_alerts"] == 0  # a rerun: nothing more today
    svc.clock.set(NOW + timedelta(hours=8))  # 23:00 UTC: still the same day
    assert (await scheduler.run_due())["coverage_gap_alerts"] == 0

    alerts = await _alerts(stream, 2)
    by_tenant = {env["tenant_id"]: env["data"] for env in alerts}
    assert set(by_tenant) == {TENANT, OTHER_TENANT}
    assert by_tenant[TENANT]["day"] == "2026-11-02" and by_tenant[TENANT]["gap_count"] == 5
    assert {g["assignment_id"] for g in by_tenant[TENANT]["gaps"]} == {
        ids[n] for n in ("today", "started_tomorrow", "invited", "in_3_days", "ineligible")
    }
    assert [g["assignment_id"] for g in by_tenant[OTHER_TENANT]["gaps"]] == [o_gap.json()["id"]]
    assert by_tenant[OTHER_TENANT]["gaps"][0]["contractor_email"] == "grace@other.test"

    # the next UTC day: a new alert for each company (both still have gaps starting within 3 days)
    svc.clock.set(NOW + timedelta(hours=9, minutes=1))  # 2026-11-03 00:01 UTC
    assert (await scheduler.run_due())["coverage_gap_alerts"] == 2
    assert (await scheduler.run_due())["coverage_gap_alerts"] == 0
    days = sorted((env["tenant_id"], env["data"]["day"]) for env in await _alerts(stream, 4))
    assert days == sorted(
        [(TENANT, "2026-11-02"), (OTHER_TENANT, "2026-11-02"), (TENANT, "2026-11-03"), (OTHER_TENANT, "2026-11-03")]
    )


async def test_no_gaps_no_alert(svc: RunningService, stream: Any) -> None:
    job = await make_job(svc, (await make_entity(svc))["id"])
    person = await make_contractor(svc)
    await make_assignment(svc, person["id"], job["id"], effective_date=day(4), end_date=day(9))
    assert (await svc.runtime.scheduler.run_due())["coverage_gap_alerts"] == 0
    assert (await svc.client.get("/v1/coverage_gaps")).json()["count"] == 0


async def _alerts(stream: Any, n: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    async def arrived() -> bool:
        found[:] = [env for subject, env in await stream.messages() if subject == CoverageGapAlertDueV1.SUBJECT]
        return len(found) >= n

    await wait_until(arrived)
    assert len(found) == n
    return found


def _person(email: str) -> dict[str, Any]:
    return {"first_name": "Grace", "last_name": "Hopper", "email": email, "phone": "+14155550101", "address": ADDRESS}


async def _job_body(svc: RunningService, headers: Any) -> dict[str, Any]:
    entity = (await svc.client.post("/v1/entities", headers=headers, json={"name": "Adidas"})).json()
    return {
        "entity": entity["id"],
        "category_code": "jc_photographer",
        "name": "Photographer",
        "description": "Shoots",
        "wage": 100_000,
        "wage_type": "flatfee",
        "work_state": "CA",
    }
