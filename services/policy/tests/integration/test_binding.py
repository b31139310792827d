"""Binding on opt-in and on repeat enrollment, against real PostgreSQL and NATS JetStream."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from policy.adapters.db import metadata
from policy.bootstrap import definition
from policy_world import NOW, TODAY, World, days, pdf_text
from ten99_contracts.enrollment_v1 import AssignmentEnrolledV1
from ten99_contracts.policy_v1 import (
    CertificateIssuedV1,
    CoverageActivatedV1,
    CoverageBoundV1,
    CoverageRetimedV1,
    PolicyActivatedV1,
)
from ten99_testing import quiescent, wait_until
from ten99kit.migrations import schema_drift, upgrade

pytestmark = pytest.mark.integration


async def test_migrations_match_the_models(database_url: str) -> None:
    await asyncio.to_thread(upgrade, definition.migrations, database_url)
    assert await schema_drift(database_url, metadata) == []


async def test_an_opt_in_binds_a_policy_one_coverage_per_assignment_and_a_certificate_each(world: World, start_policy) -> None:
    ada = world.contractor("Ada", "Lovelace")
    starts_today = world.assignment(ada, start=TODAY, end=TODAY + days(20), entity="Nike")
    starts_later = world.assignment(ada, start=TODAY + days(8), end=TODAY + days(37), entity="Adidas", job="Photographer")
    async with start_policy() as svc:
        await world.send(world.company("Acme Talent Agency"))
        for a in (starts_today, starts_later):
            await world.send(a, version=1)
        done = await world.send(world.completion(ada, [world.quote(starts_today), world.quote(starts_later)]))

        certificates = await world.wait_for(CertificateIssuedV1.SUBJECT, 2)
        [policy] = await world.published(PolicyActivatedV1.SUBJECT)
        bound = await world.published(CoverageBoundV1.SUBJECT)
        [activated] = await world.published(CoverageActivatedV1.SUBJECT)

        assert policy.data.contractor_id == ada.contractor_id and policy.data.session_id == done.data.session_id
        assert policy.data.policy_number.startswith(f"T99-{NOW.year}-") and policy.data.effective_date == TODAY
        by_assignment = {b.data.terms.assignment_id: b.data.terms for b in bound}
        assert set(by_assignment) == {starts_today.assignment_id, starts_later.assignment_id}
        assert by_assignment[starts_today.assignment_id].status == "active"
        assert by_assignment[starts_later.assignment_id].status == "scheduled"
        later = by_assignment[starts_later.assignment_id]
        assert (later.effective_date, later.end_date, later.net_rate, later.policy_id) == (
            starts_later.effective_date,
            starts_later.end_date,
            65,
            policy.data.policy_id,
        )
        assert activated.data.terms.assignment_id == starts_today.assignment_id
        assert activated.aggregate_version == 2  # bound is version 1 of the same coverage

        # one certificate per assignment, naming the contractor, the end client, the dates and its number
        for cert in certificates:
            a = starts_today if cert.data.assignment_id == starts_today.assignment_id else starts_later
            text = pdf_text(cert.data.pdf)
            assert "CERTIFICATE OF INSURANCE" in text
            assert "Ada Lovelace" in text and "2211 Mission St" in text
            assert a.job.entity.name in text and "c/o Acme Talent Agency" in text
            assert a.effective_date.isoformat() in text and a.end_date.isoformat() in text
            assert cert.data.certificate_number in text and policy.data.policy_number in text
            assert "$1,000,000" in text and "$2,000,000" in text
            assert cert.data.contractor_email == ada.email and cert.data.contractor_name == "Ada Lovelace"
            assert cert.data.holder_name == a.job.entity.name and cert.data.supersedes is None
            assert cert.data.download_url.startswith(
                "http://127.0.0.1:8000/certificates/" + cert.data.certificate_id + ".pdf?token="
            )

        # the API: the policy in 1099Policy's shape, the coverages for the profile page, the PDFs
        headers = {"x-tenant-id": world.tenant}
        r = await svc.client.get("/v1/policies", params={"contractor": ada.contractor_id}, headers=headers)
        assert r.status_code == 200, r.text
        page = r.json()
        assert page["object"] == "list" and page["has_more"] is False and page["url"] == "/v1/policies"
        [p] = page["data"]
        assert p["id"] == policy.data.policy_id and p["object"] == "policy" and p["status"] == "active"
        assert p["effective_date"] == int(NOW.replace(hour=0).timestamp())
        assert p["expiration_date"] == int(NOW.replace(hour=0).timestamp()) + 37 * 86400
        assert p["certificates"]["gl_coi_pdf_url"] and p["certificates"]["wc_coi_pdf_url"]
        assert (await svc.client.get(f"/v1/policies/{p['id']}", headers=headers)).json()["policy_number"] == p["policy_number"]

        r = await svc.client.get("/v1/coverages", params={"contractor": ada.contractor_id}, headers=headers)
        rows = {c["assignment_id"]: c for c in r.json()["data"]}
        assert rows[starts_later.assignment_id]["status"] == "scheduled"
        assert rows[starts_later.assignment_id]["effective_date"] == starts_later.effective_date.isoformat()
        for cert in certificates:
            row = rows[cert.data.assignment_id]
            assert row["certificate"]["certificate_id"] == cert.data.certificate_id
            assert row["certificate"]["number"] == cert.data.certificate_number
            pdf = await svc.client.get(row["certificate"]["pdf_url"], headers=headers)
            assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
            assert pdf.content == cert.data.pdf


async def test_repeat_enrollment_binds_on_the_existing_policy_without_a_new_opt_in(world: World, start_policy) -> None:
    ada = world.contractor()
    first = world.assignment(ada, start=TODAY + days(1), end=TODAY + days(30))
    second = world.assignment(ada, start=TODAY + days(40), end=TODAY + days(70), entity="Meta")
    async with start_policy():
        await world.send(world.company())
        await world.send(first, version=1)
        await world.send(second, version=1)
        opt_in = world.completion(ada, [world.quote(first)])
        await world.send(opt_in)
        [policy] = await world.wait_for(PolicyActivatedV1.SUBJECT, 1)
        await world.send(
            AssignmentEnrolledV1(session_id=opt_in.session_id, contractor_id=ada.contractor_id, quote=world.quote(second))
        )

        certificates = await world.wait_for(CertificateIssuedV1.SUBJECT, 2)
        bound = await world.published(CoverageBoundV1.SUBJECT)
        assert {b.data.terms.policy_id for b in bound} == {policy.data.policy_id}
        assert {b.data.terms.assignment_id for b in bound} == {first.assignment_id, second.assignment_id}
        assert len(await world.published(PolicyActivatedV1.SUBJECT)) == 1
        second_cert = next(c for c in certificates if c.data.assignment_id == second.assignment_id)
        assert "Meta" in pdf_text(second_cert.data.pdf) and second_cert.data.policy_number == policy.data.policy_number


async def test_binding_uses_the_latest_dates_even_when_the_update_overtook_the_creation(world: World, start_policy) -> None:
    ada = world.contractor()
    created = world.assignment(ada, start=TODAY + days(5), end=TODAY + days(30))
    moved = world.updated(created, effective_date=TODAY + days(7), end_date=TODAY + days(45))
    async with start_policy() as svc:
        await world.send(world.company())
        await world.send(moved, version=2)  # the update arrives first ...
        await world.send(created, version=1)  # ... and the older creation must not undo it
        await quiescent(svc)
        # enrollment quoted the dates it knew (the original ones)
        await world.send(world.completion(ada, [world.quote(created)]))
        [cert] = await world.wait_for(CertificateIssuedV1.SUBJECT, 1)
        [bound] = await world.published(CoverageBoundV1.SUBJECT)
        assert (bound.data.terms.effective_date, bound.data.terms.end_date) == (TODAY + days(7), TODAY + days(45))
        assert (cert.data.effective_date, cert.data.end_date) == (TODAY + days(7), TODAY + days(45))
        await quiescent(svc)  # all it would publish is out: no retiming among it
        assert await world.published(CoverageRetimedV1.SUBJECT) == []


async def test_an_opt_in_before_the_assignment_and_company_are_known_binds_and_certifies_once_they_arrive(
    world: World, start_policy
) -> None:
    ada = world.contractor()
    a = world.assignment(ada, start=TODAY + days(3), end=TODAY + days(20), entity="Unilever")
    async with start_policy() as svc:
        await world.send(world.completion(ada, [world.quote(a)]))
        [bound] = await world.wait_for(CoverageBoundV1.SUBJECT, 1)
        assert bound.data.terms.status == "scheduled"
        await world.send(a, version=1)  # the assignment's snapshot: still no company name

        async def coverage_row() -> dict | None:
            r = await svc.client.get(
                "/v1/coverages", params={"assignment": a.assignment_id}, headers={"x-tenant-id": world.tenant}
            )
            data = r.json()["data"]
            return data[0] if data else None

        assert (await wait_until(coverage_row))["certificate"] is None
        await quiescent(svc)
        assert await world.published(CertificateIssuedV1.SUBJECT) == []

        await world.send(world.company("Globex Staffing"))
        [cert] = await world.wait_for(CertificateIssuedV1.SUBJECT, 1)
        text = pdf_text(cert.data.pdf)
        assert "Unilever" in text and "c/o Globex Staffing" in text and "Ada Lovelace" in text
        assert cert.data.coverage_id == bound.data.terms.coverage_id


async def test_a_certificate_stops_waiting_for_an_unknown_company_after_the_grace_period(world: World, start_policy) -> None:
    ada = world.contractor()
    a = world.assignment(ada, start=TODAY + days(3), end=TODAY + days(20))
    async with start_policy(company_wait_s=60) as svc:
        await world.send(a, version=1)
        await world.send(world.completion(ada, [world.quote(a)]))
        await world.wait_for(CoverageBoundV1.SUBJECT, 1)
        await quiescent(svc)
        assert (await svc.runtime.scheduler.run_due())["waiting_certificates"] == 0
        svc.clock.freeze(NOW + timedelta(seconds=61))
        assert (await svc.runtime.scheduler.run_due())["waiting_certificates"] == 1
        [cert] = await world.wait_for(CertificateIssuedV1.SUBJECT, 1)
        assert "c/o" not in pdf_text(cert.data.pdf) and "Nike" in pdf_text(cert.data.pdf)


async def test_a_repeat_enrollment_that_overtakes_the_opt_in_creates_the_policy_the_opt_in_then_completes(
    world: World, start_policy
) -> None:
    ada = world.contractor()
    first = world.assignment(ada, start=TODAY + days(1), end=TODAY + days(30))
    second = world.assignment(ada, start=TODAY + days(2), end=TODAY + days(30), entity="Meta")
    async with start_policy() as svc:
        await world.send(world.company())
        await world.send(first, version=1)
        await world.send(second, version=1)
        opt_in = world.completion(ada, [world.quote(first)])
        await world.send(
            AssignmentEnrolledV1(session_id=opt_in.session_id, contractor_id=ada.contractor_id, quote=world.quote(second))
        )
        [policy] = await world.wait_for(PolicyActivatedV1.SUBJECT, 1)
        [cert] = await world.wait_for(CertificateIssuedV1.SUBJECT, 1)
        assert cert.data.assignment_id == second.assignment_id and "Ada Lovelace" in pdf_text(cert.data.pdf)
        await world.send(opt_in)
        certs = await world.wait_for(CertificateIssuedV1.SUBJECT, 2)
        assert {c.data.policy_id for c in certs} == {policy.data.policy_id}
        assert len(await world.published(PolicyActivatedV1.SUBJECT)) == 1
        [p] = (await svc.client.get("/v1/policies", headers={"x-tenant-id": world.tenant})).json()["data"]
        assert p["assignments"] == 2 and p["status"] == "active"
