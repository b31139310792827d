"""1099Policy's policies: the list filters (quote, contractor, status) and a policy bound on a
quote completed without an assignment (entity, job, contractor, quote, session, completion)."""

from __future__ import annotations

from typing import Any

import pytest
from policy_world import TODAY, World, days, tick
from ten99_contracts.policy_v1 import CoverageBoundV1, PolicyActivatedV1
from ten99_testing import quiescent
from ten99kit.clock import epoch
from ten99kit.ids import new_id

pytestmark = pytest.mark.integration


async def _list(svc: Any, tenant: str, **params: Any) -> list[dict[str, Any]]:
    r = await svc.client.get("/v1/policies", params=params, headers={"x-tenant-id": tenant})
    assert r.status_code == 200, r.text
    data: list[dict[str, Any]] = r.json()["data"]
    return data


async def test_a_quote_completed_without_an_assignment_is_bound_as_priced_once(world: World, start_policy) -> None:
    ada = world.contractor()
    quote = world.job_quote(start=TODAY + days(1), end=TODAY + days(30))
    async with start_policy() as svc:
        completion = await world.send(world.completion(ada, [], quote=quote))
        [activated] = await world.wait_for(PolicyActivatedV1.SUBJECT, 1)
        assert activated.data.coverage_types == ["general", "workers-comp"]
        assert activated.data.effective_date == TODAY + days(1)

        [policy] = await _list(svc, world.tenant, quote=quote.quote_id)
        assert policy["id"] == activated.data.policy_id and policy["object"] == "policy"
        assert (policy["quote"], policy["contractor"], policy["status"]) == (quote.quote_id, ada.contractor_id, "active")
        assert policy["effective_date"] == epoch(TODAY + days(1))
        assert policy["expiration_date"] == epoch(TODAY + days(30))
        assert policy["coverage_type"] == ["general", "workers-comp"]
        assert set(policy["certificates"]) == {"gl_coi_pdf_url", "wc_coi_pdf_url"} and "pdf_url" in policy
        retrieved = (await svc.client.get(f"/v1/policies/{policy['id']}", headers={"x-tenant-id": world.tenant})).json()
        assert retrieved == policy

        # the same message again (a redelivery): nothing more is bound or announced
        await world.resend(completion, nats_msg_id=new_id("ev"))
        await quiescent(svc)
        assert len(await world.published(PolicyActivatedV1.SUBJECT)) == 1
        assert await world.published(CoverageBoundV1.SUBJECT) == []  # no assignment: no per-assignment coverage

        # a second quote of the same contractor (another job) is bound on the same policy
        later = world.job_quote(start=TODAY + days(10), end=TODAY + days(60), coverage_types=("general",))
        await world.send(world.completion(ada, [], quote=later))
        await quiescent(svc)
        [same] = await _list(svc, world.tenant, quote=later.quote_id)
        assert same["id"] == policy["id"] and same["expiration_date"] == epoch(TODAY + days(60))
        # announced again (1099Policy's policy.active for every completed application), next version
        first, again = await world.wait_for(PolicyActivatedV1.SUBJECT, 2)
        assert (again.data.policy_id, again.aggregate_version) == (policy["id"], first.aggregate_version + 1)

        # the quotes' spans end: the policy expires (and a repeated tick changes nothing)
        await tick(svc, to=svc.clock.now() + days(61))
        await tick(svc)
        [expired] = await _list(svc, world.tenant, status="expired")
        assert expired["id"] == policy["id"]
        assert await _list(svc, world.tenant, status="active") == []


async def test_a_quote_whose_end_has_passed_binds_nothing_and_an_assignment_quote_binds_as_before(
    world: World, start_policy
) -> None:
    ada, bob = world.contractor(), world.contractor("Bob", "Byte")
    a = world.assignment(bob, start=TODAY + days(1), end=TODAY + days(20))
    async with start_policy() as svc:
        await world.send(world.company())
        await world.send(a, version=1)
        past = world.job_quote(start=TODAY - days(20), end=TODAY - days(1))
        await world.send(world.completion(ada, [], quote=past))
        # the quote names the assignment: it is bound as the assignment's coverage, as always
        assignment_quote = world.quote(a)
        named = world.job_quote(start=a.effective_date, end=a.end_date, job_id=a.job.job_id)
        named = type(named)(**{**{f: getattr(named, f) for f in named.__struct_fields__}, "quote_id": assignment_quote.quote_id})
        await world.send(world.completion(bob, [assignment_quote], quote=named))
        await world.wait_for(CoverageBoundV1.SUBJECT, 1)
        await quiescent(svc)
        [ada_policy] = await _list(svc, world.tenant, contractor=ada.contractor_id)
        assert ada_policy["expiration_date"] is None  # the opt-in stands, the ended quote is not bound
        assert await _list(svc, world.tenant, quote=past.quote_id) == []
        [bob_policy] = await _list(svc, world.tenant, quote=assignment_quote.quote_id)
        assert bob_policy["contractor"] == bob.contractor_id and bob_policy["assignments"] == 1
        assert bob_policy["expiration_date"] == epoch(a.end_date)


async def test_policy_filters_each_combined_refused_and_never_another_companys(world: World, start_policy) -> None:
    ada, bob = world.contractor(), world.contractor("Bob", "Byte")
    a = world.assignment(ada, start=TODAY + days(1), end=TODAY + days(5))
    qa = world.quote(a)
    qb = world.job_quote(start=TODAY + days(1), end=TODAY + days(40))
    other = new_id("co")
    async with start_policy() as svc:
        await world.send(world.company())
        await world.send(a, version=1)
        await world.send(world.completion(ada, [qa]))
        await world.send(world.completion(bob, [], quote=qb))
        await world.wait_for(PolicyActivatedV1.SUBJECT, 2)
        await quiescent(svc)
        ids = {p["contractor"]: p["id"] for p in await _list(svc, world.tenant)}
        assert set(ids) == {ada.contractor_id, bob.contractor_id}

        # ada's coverage ends first: her policy expires, bob's stays active
        await tick(svc, to=svc.clock.now() + days(7))
        assert [p["id"] for p in await _list(svc, world.tenant, status="expired")] == [ids[ada.contractor_id]]
        assert [p["id"] for p in await _list(svc, world.tenant, status="active")] == [ids[bob.contractor_id]]
        assert await _list(svc, world.tenant, status="cancelled") == []
        assert [p["id"] for p in await _list(svc, world.tenant, quote=qa.quote_id)] == [ids[ada.contractor_id]]
        assert [p["id"] for p in await _list(svc, world.tenant, quote=qb.quote_id)] == [ids[bob.contractor_id]]
        assert [p["id"] for p in await _list(svc, world.tenant, contractor=bob.contractor_id)] == [ids[bob.contractor_id]]
        # combined: every filter must hold
        assert await _list(svc, world.tenant, quote=qb.quote_id, status="expired") == []
        assert await _list(svc, world.tenant, quote=qa.quote_id, contractor=bob.contractor_id) == []
        combined = await _list(svc, world.tenant, quote=qb.quote_id, contractor=bob.contractor_id, status="active")
        assert [p["id"] for p in combined] == [ids[bob.contractor_id]]
        assert await _list(svc, world.tenant, quote=new_id("qt")) == []

        r = await svc.client.get("/v1/policies", params={"status": "is_active"}, headers={"x-tenant-id": world.tenant})
        assert (r.status_code, r.json()["error_code"]) == (400, "invalid_input")
        assert "status" in r.json()["message"]

        # another company sees none of it, whatever the filter
        for params in ({}, {"quote": qb.quote_id}, {"contractor": ada.contractor_id}, {"status": "active"}):
            assert await _list(svc, other, **params) == []
