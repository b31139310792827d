"""A public API create retried with its idempotency key makes one thing (found by the chaos harness,
bench/chaos.py): the gateway records a key's response only after the service committed, so a
retry after a crash or a database restart in between reaches the service again, and must get the
resource the first request made, not a second one (or "duplicate email")."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from contractor.adapters.db import assignments, contractors, entities, jobs, request_keys
from contractor_testkit import ADDRESS, TENANT, Stream, subjects
from sqlalchemy import func, select
from ten99_testing.service import RunningService
from ten99kit.request_keys import IDEMPOTENCY_KEY_HEADER, purge_request_keys

pytestmark = pytest.mark.integration


def keyed(key: str) -> dict[str, str]:
    return {IDEMPOTENCY_KEY_HEADER: key}


async def count(svc: RunningService, table: Any) -> int:
    async with svc.runtime.db.session() as s:
        return int((await s.execute(select(func.count()).select_from(table).where(table.c.tenant_id == TENANT))).scalar_one())


async def test_a_retried_create_answers_with_what_the_first_made(svc: RunningService, stream: Stream) -> None:
    c = svc.client
    entity = {"name": "Nike"}
    first = await c.post("/v1/entities", json=entity, headers=keyed("k-entity"))
    again = await c.post("/v1/entities", json=entity, headers=keyed("k-entity"))
    assert first.status_code == again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    entity_id = first.json()["id"]

    job = {
        "entity": entity_id,
        "category_code": "jc_photographer",
        "name": "Photographer",
        "description": "Shoots the spring lookbook",
        "wage": 250_000,
        "wage_type": "flatfee",
        "work_state": "CA",
    }
    jobs_made = [await c.post("/v1/jobs", json=job, headers=keyed("k-job")) for _ in range(2)]
    assert {r.json()["id"] for r in jobs_made} == {jobs_made[0].json()["id"]}

    person = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "address": ADDRESS}
    people = [await c.post("/v1/contractors", json=person, headers=keyed("k-contractor")) for _ in range(2)]
    assert [r.status_code for r in people] == [200, 200], people[1].text  # not "duplicate_email"
    assert people[1].json()["id"] == people[0].json()["id"]
    # without the key, the same email is still refused
    assert (await c.post("/v1/contractors", json=person)).json()["error_code"] == "duplicate_email"

    assignment = {
        "contractor": people[0].json()["id"],
        "job": jobs_made[0].json()["id"],
        "effective_date": "2026-11-10",
        "end_date": "2026-12-09",
    }
    made = [await c.post("/v1/assignments", json=assignment, headers=keyed("k-assignment")) for _ in range(2)]
    assert [r.status_code for r in made] == [200, 200], made[1].text  # not "already covers"
    assert made[1].json()["id"] == made[0].json()["id"]

    for table in (entities, jobs, contractors, assignments):
        assert await count(svc, table) == 1, table.name
    await svc.settle()
    # one of each message: the retries emitted nothing
    assert sorted(subjects(await stream.messages())) == ["assignment_created", "contractor_registered", "job_upserted"]


async def test_concurrent_creates_with_one_key_make_one(svc: RunningService) -> None:
    answers = await asyncio.gather(
        *(svc.client.post("/v1/entities", json={"name": "Adidas"}, headers=keyed("k-race")) for _ in range(6))
    )
    assert {r.status_code for r in answers} == {200}
    assert len({r.json()["id"] for r in answers}) == 1
    assert await count(svc, entities) == 1


async def test_a_key_is_the_tenants_own_and_keeps_its_kind(svc: RunningService) -> None:
    c = svc.client
    mine = await c.post("/v1/entities", json={"name": "Puma"}, headers=keyed("k-shared"))
    theirs = await c.post(
        "/v1/entities", json={"name": "Puma"}, headers={**keyed("k-shared"), "x-tenant-id": "co_BBBBBBBBBBBBBBBBBBBBBB"}
    )
    assert theirs.status_code == 200 and theirs.json()["id"] != mine.json()["id"]
    job = {"entity": mine.json()["id"], "category_code": "jc_model", "name": "M", "description": "d", "wage": 500_00}
    reused = await c.post("/v1/jobs", json={**job, "wage_type": "flatfee"}, headers=keyed("k-shared"))
    assert reused.status_code == 409 and reused.json()["error_code"] == "idempotency_key_reused"
    # a refused create records nothing: the key stays free for the corrected request
    bad = await c.post("/v1/entities", json={"name": ""}, headers=keyed("k-fresh"))
    assert bad.status_code == 400
    good = await c.post("/v1/entities", json={"name": "Reebok"}, headers=keyed("k-fresh"))
    assert good.status_code == 200
    assert await count(svc, request_keys) == 2  # k-shared and k-fresh of this tenant


async def test_old_keys_are_purged(svc: RunningService) -> None:
    await svc.client.post("/v1/entities", json={"name": "Asics"}, headers=keyed("k-old"))
    db = svc.runtime.db
    assert await purge_request_keys(db, request_keys) == 0
    svc.clock.advance(timedelta(days=3))
    assert await purge_request_keys(db, request_keys) == 1
