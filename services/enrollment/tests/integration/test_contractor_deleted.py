"""A contractor the company deleted (ContractorDeletedV1), on PostgreSQL + NATS: their open
session and link expire (the link answers the "expired" page and sends the contractor to the
cancel_url), their quotes can no longer open a session or change, no new quote is priced for
them, a registration arriving late does not bring them back, and the message twice changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from enrollment.adapters.db import contractors, jobs
from enrollment_support import H, company, emitted, envelope, good_form, publish, token_of
from sqlalchemy import select
from ten99_contracts import Address, EntitySnapshot
from ten99_contracts.contractor_v1 import ContractorDeletedV1, ContractorRegisteredV1, JobUpsertedV1
from ten99_contracts.enrollment_v1 import InvitationExpiredV1
from ten99_testing import quiescent, wait_until
from ten99_testing.service import RunningService

pytestmark = pytest.mark.integration

JOB = "jb_Deleted00000000000000001"


def registered(n: int) -> ContractorRegisteredV1:
    return ContractorRegisteredV1(
        contractor_id=f"cn_Deleted{n:014d}",
        first_name="Ada",
        last_name="Lovelace",
        email=f"d{n}@example.com",
        phone="+1 415 555 0100",
        address=Address(line1="1 Main St", locality="Springfield", region="CA", postalcode="94110"),
    )


def job_state() -> JobUpsertedV1:
    return JobUpsertedV1(
        job_id=JOB,
        name="Content creator",
        description="Two sponsored videos.",
        entity=EntitySnapshot(entity_id="en_Entity000000000000001", name="Nike", required_coverage=["general"]),
        category_code="jc_creator",
        work_state="CA",
        wage_cents=250_000,
        wage_type="flatfee",
        created=True,
    )


async def known(svc: RunningService) -> None:
    async def held() -> Any:
        async with svc.db.session() as s:
            return (await s.execute(select(jobs.c.version).where(jobs.c.job_id == JOB))).scalar()

    await wait_until(held, what="the job")


async def contractor_known(svc: RunningService, contractor_id: str) -> None:
    async def held() -> Any:
        async with svc.db.session() as s:
            q = select(contractors.c.first_name).where(contractors.c.contractor_id == contractor_id)
            return (await s.execute(q)).scalar()

    await wait_until(held, what=f"contractor {contractor_id}")


async def _open_session(svc: RunningService, quote_id: str) -> dict[str, Any]:
    body = {"quote": quote_id, "success_url": "https://acme.test/ok", "cancel_url": "https://acme.test/no"}
    r = await svc.client.post("/v1/apply/sessions", json=body, headers=H)
    assert r.status_code == 200, r.text
    session: dict[str, Any] = r.json()
    return session


async def _deleted_at(svc: RunningService, contractor_id: str) -> Any:
    async with svc.db.session() as s:
        q = select(contractors.c.deleted_at).where(contractors.c.contractor_id == contractor_id)
        return (await s.execute(q)).scalar()


async def test_a_deleted_contractors_session_quotes_and_link_stop_being_usable(svc: RunningService) -> None:
    ada = registered(31)
    await publish(svc, company(), envelope(ada), envelope(job_state(), aggregate_id=JOB))
    await known(svc)
    await contractor_known(svc, ada.contractor_id)
    body = {"contractor": ada.contractor_id, "job": JOB, "coverage_type": ["general"]}
    quote = (await svc.client.post("/v1/quotes", json=body, headers=H)).json()
    spare = (await svc.client.post("/v1/quotes", json=body, headers=H)).json()
    session = await _open_session(svc, quote["id"])
    token = token_of(session["url"])

    deleted = envelope(ContractorDeletedV1(contractor_id=ada.contractor_id, email=ada.email), version=3)
    await publish(svc, deleted)
    await wait_until(lambda: _deleted_at(svc, ada.contractor_id), what="the contractor marked deleted")
    await quiescent(svc)

    got = (await svc.client.get(f"/v1/apply/sessions/{session['id']}", headers=H)).json()
    assert (got["status"], got["expired"]) == ("expired", True)
    page = (await svc.client.get(f"/v1/opt-in/{token}")).json()
    assert (page["state"], page["redirect_url"]) == ("expired", "https://acme.test/no")
    assert page["prefill"] is None and "expired" in page["message"]
    answered = (await svc.client.post(f"/v1/opt-in/{token}", json=good_form())).json()
    assert (answered["state"], answered["redirect_url"]) == ("expired", "https://acme.test/no")  # nothing applied
    expiries = await emitted(svc, InvitationExpiredV1.SUBJECT)
    assert [e.data.contractor_id for e in expiries] == [ada.contractor_id]  # application.expired

    r = await svc.client.post("/v1/apply/sessions", json={"quote": spare["id"]}, headers=H)
    assert (r.status_code, r.json()["error_code"]) == (400, "invalid_contractor_id"), r.text
    r = await svc.client.put(f"/v1/quotes/{spare['id']}", json={"coverage_type": ["general", "workers-comp"]}, headers=H)
    assert (r.status_code, r.json()["error_code"]) == (400, "invalid_contractor_id"), r.text
    r = await svc.client.post("/v1/quotes", json=body, headers=H)
    assert (r.status_code, r.json()["error_code"]) == (400, "invalid_contractor_id"), r.text
    assert (await svc.client.get(f"/v1/quotes/{quote['id']}", headers=H)).status_code == 200  # history stays

    # the same message again, and a late registration (another subject): nothing comes back
    stamp = await _deleted_at(svc, ada.contractor_id)
    await publish(svc, deleted, msg_id=f"again-{deleted.id}")
    await publish(svc, envelope(ada, version=2))
    await quiescent(svc)
    assert await _deleted_at(svc, ada.contractor_id) == stamp
    r = await svc.client.post("/v1/quotes", json=body, headers=H)
    assert (r.status_code, r.json()["error_code"]) == (400, "invalid_contractor_id"), r.text
    assert len(await emitted(svc, InvitationExpiredV1.SUBJECT)) == 1


async def test_a_deletion_that_arrives_before_the_contractor_is_kept(svc: RunningService) -> None:
    bob = registered(32)
    await publish(svc, company(), envelope(job_state(), aggregate_id=JOB))
    await publish(svc, envelope(ContractorDeletedV1(contractor_id=bob.contractor_id, email=bob.email), version=2))
    await wait_until(lambda: _deleted_at(svc, bob.contractor_id), what="the tombstone")
    await publish(svc, envelope(bob))
    await known(svc)
    await quiescent(svc)
    body = {"contractor": bob.contractor_id, "job": JOB, "coverage_type": ["general"]}
    r = await svc.client.post("/v1/quotes", json=body, headers=H)
    assert (r.status_code, r.json()["error_code"]) == (400, "invalid_contractor_id"), r.text
