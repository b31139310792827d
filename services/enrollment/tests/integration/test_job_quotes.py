"""Issue 13 on PostgreSQL + NATS: 1099Policy's documented flow job -> contractor -> quote ->
application session -> completion, with no assignment. The job is known from JobUpsertedV1; the
quote sums its parts from the seeded rate table; completing the application binds that quote as
priced (no re-pricing) and says where to send the contractor."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from enrollment.adapters.db import contractors, jobs
from enrollment_support import H2, NOW, TENANT, TODAY, H, company, emitted, envelope, good_form, publish, rates, token_of
from sqlalchemy import select
from ten99_contracts import Address, EntitySnapshot
from ten99_contracts.contractor_v1 import ContractorRegisteredV1, JobDeletedV1, JobUpsertedV1
from ten99_contracts.enrollment_v1 import ApplicationCompletedV1, ApplicationIneligibleV1
from ten99_testing import quiescent, wait_until
from ten99_testing.service import RunningService

pytestmark = pytest.mark.integration

DAY = 86_400
JOB = "jb_Creator00000000000000001"
ND_JOB = "jb_Fargo000000000000000001"


def registered(n: int, state: str = "CA") -> ContractorRegisteredV1:
    return ContractorRegisteredV1(
        contractor_id=f"cn_Quoted{n:015d}",
        first_name="Ada",
        last_name="Lovelace",
        email=f"q{n}@example.com",
        phone="+1 415 555 0100",
        address=Address(line1="1 Main St", locality="Springfield", region=state, postalcode="94110"),
    )


def job_state(job_id: str = JOB, *, category: str = "jc_creator", work_state: str | None = "CA") -> JobUpsertedV1:
    return JobUpsertedV1(
        job_id=job_id,
        name="Content creator",
        description="Two sponsored videos.",
        entity=EntitySnapshot(entity_id="en_Entity000000000000001", name="Nike", required_coverage=["general"]),
        category_code=category,
        work_state=work_state,
        wage_cents=250_000,
        wage_type="flatfee",
        custom_metadata={"purchase_order_number": "PO-1"},
        purchase_order_number="PO-1",
        created=True,
    )


async def known(svc: RunningService, job_id: str, *, version: int, deleted: bool = False) -> None:
    async def held() -> Any:
        async with svc.db.session() as s:
            q = select(jobs.c.version, jobs.c.deleted).where(jobs.c.tenant_id == TENANT, jobs.c.job_id == job_id)
            return (await s.execute(q)).first()

    await wait_until(held, satisfies=lambda row: row is not None and tuple(row) == (version, deleted), what=f"job v{version}")


async def contractor_known(svc: RunningService, contractor_id: str) -> None:
    async def held() -> Any:
        async with svc.db.session() as s:
            q = select(contractors.c.contractor_id).where(contractors.c.contractor_id == contractor_id)
            return (await s.execute(q)).scalar()

    await wait_until(held, what=f"contractor {contractor_id}")


def epoch_day(days_from_today: int) -> int:
    return int((NOW.replace(hour=0, minute=0) + timedelta(days=days_from_today)).timestamp())


async def test_quote_from_a_job_and_a_contractor_is_bound_as_priced(svc: RunningService) -> None:
    ada = registered(1)
    await publish(svc, company(), envelope(ada), envelope(job_state(), aggregate_id=JOB))
    await known(svc, JOB, version=1)
    await contractor_known(svc, ada.contractor_id)
    table = await rates(svc)
    gl, wc = table[("jc_creator", "CA", "general")], table[("jc_creator", "CA", "workers-comp")]
    assert (gl, wc) == (23, 59)  # the example: 82 = 23 + 59

    body = {"contractor": ada.contractor_id, "job": JOB, "coverage_type": ["general", "workers-comp"]}
    r = await svc.client.post("/v1/quotes", json=body, headers=H)
    assert r.status_code == 200, r.text
    quote = r.json()
    assert (quote["eligible"], quote["assignment"], quote["coverage_type"]) == (True, None, ["general", "workers-comp"])
    assert (quote["net_rate"], quote["gl_net_rate"], quote["wc_net_rate"]) == (82, 23, 59)
    assert quote["quote_json"] == {
        "gl": {"net_rate": 23, "stamping_fee": None, "risk_purchasing_group_fee": None},
        "wc": {"net_rate": 59},
    }
    # defaults: effective tomorrow, end 30 days later
    assert (quote["effective_date"], quote["end_date"]) == (epoch_day(1), epoch_day(31))

    session = await _open_session(svc, quote["id"])
    r = await svc.client.put(f"/v1/quotes/{quote['id']}", json={"coverage_type": ["general"]}, headers=H)
    assert (r.status_code, r.json()["error_code"]) == (400, "cant_update_create_new_quote")  # its application is open
    page = (await svc.client.get(f"/v1/opt-in/{token_of(session['url'])}")).json()
    assert page["state"] == "open" and page["prefill"]["assignments"] == []
    assert page["quote"] == {**page["quote"], "quote_id": quote["id"], "assignment_id": None, "job": "Content creator"}
    assert (page["quote"]["net_rate"], page["success_url"], page["cancel_url"]) == (
        82,
        "https://acme.test/ok",
        "https://acme.test/no",
    )

    answer = (await svc.client.post(f"/v1/opt-in/{token_of(session['url'])}", json=good_form())).json()
    assert answer["state"] == "completed" and answer["session_id"] == session["id"], answer
    assert (answer["success_url"], answer["redirect_url"]) == ("https://acme.test/ok", "https://acme.test/ok")
    assert [(q["quote_id"], q["net_rate"], q["coverage_types"]) for q in answer["quotes"]] == [
        (quote["id"], 82, ["general", "workers-comp"])
    ]

    # the session keeps its quote; the quote is unchanged, now part of the application
    done = (await svc.client.get(f"/v1/apply/sessions/{session['id']}", headers=H)).json()
    assert (done["status"], done["quote"], done["quotes"]) == ("complete", quote["id"], [quote["id"]])
    after = (await svc.client.get(f"/v1/quotes/{quote['id']}", headers=H)).json()
    assert after == {**quote, "session": session["id"], "updated": after["updated"]}

    [completed] = await emitted(svc, ApplicationCompletedV1.SUBJECT)
    message = completed.data
    assert message.session_id == session["id"] and message.assignments == [] and message.quote is not None
    bound = message.quote
    assert (bound.quote_id, bound.job_id, bound.assignment_id, bound.category_code) == (quote["id"], JOB, None, "jc_creator")
    assert (bound.coverage_types, bound.net_rate, bound.gl_net_rate, bound.wc_net_rate) == (
        ["general", "workers-comp"],
        82,
        23,
        59,
    )
    assert (bound.effective_date, bound.end_date) == (TODAY + timedelta(days=1), TODAY + timedelta(days=31))
    assert (bound.home_state, bound.work_state) == ("CA", "CA")

    # the answered link says where to go; the quote cannot open a second application
    closed = (await svc.client.get(f"/v1/opt-in/{token_of(session['url'])}")).json()
    assert (closed["state"], closed["outcome"], closed["redirect_url"]) == ("answered", "completed", "https://acme.test/ok")
    r = await svc.client.post("/v1/apply/sessions", json={"quote": quote["id"]}, headers=H)
    assert (r.status_code, r.json()["error_code"]) == (400, "application_already_complete")


async def _open_session(svc: RunningService, quote_id: str) -> dict[str, Any]:
    body = {"quote": quote_id, "success_url": "https://acme.test/ok", "cancel_url": "https://acme.test/no"}
    r = await svc.client.post("/v1/apply/sessions", json=body, headers=H)
    assert r.status_code == 200, r.text
    session: dict[str, Any] = r.json()
    assert (session["quote"], session["status"], session["success_url"]) == (quote_id, "open", "https://acme.test/ok")
    return session


async def test_quote_validation_and_ineligible_answers_go_to_the_cancel_url(svc: RunningService) -> None:
    bob = registered(2, state="TX")
    await publish(svc, company(), envelope(bob), envelope(job_state(), aggregate_id=JOB))
    await publish(svc, envelope(job_state(ND_JOB, category="jc_event_staff", work_state="ND"), aggregate_id=ND_JOB))
    await known(svc, JOB, version=1)
    await known(svc, ND_JOB, version=1)
    await contractor_known(svc, bob.contractor_id)
    body = {"contractor": bob.contractor_id, "job": JOB, "coverage_type": ["general", "workers-comp"]}
    start = epoch_day(3)
    for bad, code in [
        ({**body, "effective_date": epoch_day(-2)}, "effective_date_invalid"),
        ({**body, "effective_date": start, "end_date": start - DAY}, "end_date_invalid"),
        ({**body, "effective_date": start, "end_date": start + 400 * DAY}, "end_date_invalid"),
        ({**body, "job": "jb_unknown00000000000000"}, "invalid_job_id"),
        ({**body, "contractor": "cn_unknown00000000000000"}, "invalid_contractor_id"),
        ({**body, "coverage_type": ["cyber"]}, "invalid_input"),
    ]:
        r = await svc.client.post("/v1/quotes", json=bad, headers=H)
        assert (r.status_code, r.json()["error_code"]) == (400, code), (bad, r.text)
    assert (await svc.client.post("/v1/quotes", json=body, headers=H2)).json()["error_code"] == "invalid_contractor_id"

    # an end on the start day moves to the next day; the entity's required coverage is the default
    same_day = (await svc.client.post("/v1/quotes", json={**body, "effective_date": start, "end_date": start}, headers=H)).json()
    assert (same_day["effective_date"], same_day["end_date"]) == (start, start + DAY)
    default = (await svc.client.post("/v1/quotes", json={"contractor": bob.contractor_id, "job": JOB}, headers=H)).json()
    assert (default["coverage_type"], default["net_rate"]) == (["general"], 20)  # creator GL, home TX

    # workers' comp for work in North Dakota: a quote that says why, and cannot be applied for
    nd = (await svc.client.post("/v1/quotes", json={**body, "job": ND_JOB}, headers=H)).json()
    assert nd["eligible"] is False and "North Dakota" in nd["eligibility_message"] and nd["wc_net_rate"] == 0
    r = await svc.client.post("/v1/apply/sessions", json={"quote": nd["id"]}, headers=H)
    assert (r.status_code, r.json()["error_code"]) == (400, "invalid_input")

    session = await _open_session(svc, same_day["id"])
    form = good_form(answers={**good_form()["answers"], "is_adult": False})
    answer = (await svc.client.post(f"/v1/opt-in/{token_of(session['url'])}", json=form)).json()
    assert answer["state"] == "ineligible" and answer["redirect_url"] == "https://acme.test/no"
    [ineligible] = await emitted(svc, ApplicationIneligibleV1.SUBJECT)
    assert (ineligible.data.quote_id, ineligible.data.assignment_ids) == (same_day["id"], [])
    assert (await svc.client.get(f"/v1/quotes/{same_day['id']}", headers=H)).json()["session"] is None


async def test_the_job_copy_keeps_the_newest_version_and_a_deletion(svc: RunningService) -> None:
    ada = registered(3)
    newer = job_state(category="jc_tutor")
    # version 2 first, then version 1 late, each twice: version 2 stays
    await publish(svc, company(), envelope(ada), envelope(newer, aggregate_id=JOB, version=2))
    await publish(svc, envelope(newer, aggregate_id=JOB, version=2), envelope(job_state(), aggregate_id=JOB, version=1))
    await known(svc, JOB, version=2)
    await contractor_known(svc, ada.contractor_id)
    body = {"contractor": ada.contractor_id, "job": JOB, "coverage_type": ["general"]}
    tutor = (await svc.client.post("/v1/quotes", json=body, headers=H)).json()
    assert tutor["category_code"] == "jc_tutor", tutor

    await publish(svc, envelope(JobDeletedV1(job_id=JOB), aggregate_id=JOB, version=3))
    await known(svc, JOB, version=3, deleted=True)
    await publish(svc, envelope(newer, aggregate_id=JOB, version=2))  # a late copy cannot revive it
    await quiescent(svc)
    r = await svc.client.post("/v1/quotes", json=body, headers=H)
    assert (r.status_code, r.json()["error_code"]) == (400, "invalid_job_id")
    await known(svc, JOB, version=3, deleted=True)


async def test_a_quote_before_the_jobs_message_arrived_is_refused_at_once_then_priced(svc: RunningService) -> None:
    """No waiting in the service: an id it has not heard of is invalid_job_id at once (the gateway
    tells a caller whose job is still on its way: docs/public-api.md); once the job's message has
    arrived, the same request is priced."""
    ada = registered(4)
    await publish(svc, company(), envelope(ada))
    await contractor_known(svc, ada.contractor_id)
    body = {"contractor": ada.contractor_id, "job": JOB, "coverage_type": ["general", "workers-comp"]}
    r = await svc.client.post("/v1/quotes", json=body, headers=H)
    assert (r.status_code, r.json()["error_code"]) == (400, "invalid_job_id"), r.text
    await publish(svc, envelope(job_state(), aggregate_id=JOB))
    await known(svc, JOB, version=1)
    r = await svc.client.post("/v1/quotes", json=body, headers=H)
    assert r.status_code == 200, r.text
    assert r.json()["net_rate"] == 82
