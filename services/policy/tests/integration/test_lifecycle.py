"""The coverage lifecycle on real PostgreSQL and NATS: clock-driven activation and expiry,
cancellation, extension and re-timing, each exactly once, with certificates reissued."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from policy.adapters.db import assignments
from policy_world import NOW, TODAY, World, days, pdf_text, tick
from sqlalchemy import select
from ten99_contracts.contractor_v1 import (
    AssignmentCancelledV1,
    AssignmentExtendedV1,
    ContractorDeletedV1,
    ContractorUpdatedV1,
)
from ten99_contracts.policy_v1 import (
    CertificateIssuedV1,
    CoverageActivatedV1,
    CoverageBoundV1,
    CoverageCancelledV1,
    CoverageExpiredV1,
    CoverageExtendedV1,
    CoverageRetimedV1,
    PolicyCancelledV1,
    PolicyReactivatedV1,
)
from ten99_testing import quiescent, wait_until
from ten99_testing.service import RunningService

pytestmark = pytest.mark.integration


def noon(day: Any) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


async def bound_with_certificate(world: World, *assignments: Any) -> tuple[Any, list[Any]]:
    """Opt the contractor of ``assignments`` in; wait for one certificate per assignment."""
    contractor = assignments[0].contractor
    await world.send(world.company())
    for a in assignments:
        await world.send(a, version=1)
    completion = world.completion(contractor, [world.quote(a) for a in assignments])
    await world.send(completion)
    certificates = await world.wait_for(CertificateIssuedV1.SUBJECT, len(assignments))
    return completion, certificates


async def coverage(svc: RunningService, world: World, assignment_id: str) -> dict[str, Any]:
    r = await svc.client.get("/v1/coverages", params={"assignment": assignment_id}, headers={"x-tenant-id": world.tenant})
    [row] = r.json()["data"]
    return row


async def test_the_clock_activates_then_expires_each_coverage_exactly_once(world: World, start_policy) -> None:
    ada = world.contractor()
    a = world.assignment(ada, start=TODAY + days(2), end=TODAY + days(4))
    b = world.assignment(ada, start=TODAY + days(3), end=TODAY + days(30), entity="Meta")
    async with start_policy() as svc:
        await bound_with_certificate(world, a, b)
        assert (await tick(svc, NOW))["coverage_lifecycle"] == 0
        assert (await tick(svc, noon(TODAY + days(2))))["coverage_lifecycle"] == 1  # a starts
        assert (await tick(svc, noon(TODAY + days(2)) + timedelta(hours=3)))["coverage_lifecycle"] == 0  # a repeated tick
        [activated] = await world.published(CoverageActivatedV1.SUBJECT)
        assert activated.data.terms.assignment_id == a.assignment_id and activated.data.terms.status == "active"
        assert activated.aggregate_version == 2
        assert (await coverage(svc, world, a.assignment_id))["status"] == "active"

        # the end date is still covered; the day after it is not
        assert (await tick(svc, datetime(2026, 11, 6, 23, 59, tzinfo=UTC)))["coverage_lifecycle"] == 1  # b starts
        assert (await tick(svc, noon(TODAY + days(5))))["coverage_lifecycle"] == 1  # a expires
        assert (await tick(svc, noon(TODAY + days(5))))["coverage_lifecycle"] == 0
        [expired] = await world.published(CoverageExpiredV1.SUBJECT)
        assert expired.data.terms.assignment_id == a.assignment_id and expired.data.terms.status == "expired"
        assert expired.aggregate_version == 3
        assert len(await world.published(CoverageActivatedV1.SUBJECT)) == 2
        headers = {"x-tenant-id": world.tenant}
        [policy] = (await svc.client.get("/v1/policies", headers=headers)).json()["data"]
        assert policy["status"] == "active"  # b still runs

        assert (await tick(svc, noon(TODAY + days(31))))["coverage_lifecycle"] == 1
        [policy] = (await svc.client.get("/v1/policies", headers=headers)).json()["data"]
        assert policy["status"] == "expired"
        assert len(await world.published(CoverageExpiredV1.SUBJECT)) == 2


async def test_a_coverage_whose_whole_span_passed_unseen_is_activated_then_expired(world: World, start_policy) -> None:
    ada = world.contractor()
    a = world.assignment(ada, start=TODAY + days(1), end=TODAY + days(2))
    async with start_policy() as svc:
        await bound_with_certificate(world, a)
        assert (await tick(svc, noon(TODAY + days(10))))["coverage_lifecycle"] == 2
        [activated] = await world.published(CoverageActivatedV1.SUBJECT)
        [expired] = await world.published(CoverageExpiredV1.SUBJECT)
        assert (activated.aggregate_version, expired.aggregate_version) == (2, 3)


async def test_a_cancellation_before_the_start_cancels_the_coverage_and_voids_its_certificate(world: World, start_policy) -> None:
    ada = world.contractor()
    a = world.assignment(ada, start=TODAY + days(5), end=TODAY + days(30))
    async with start_policy() as svc:
        _, [cert] = await bound_with_certificate(world, a)
        cancel = AssignmentCancelledV1(
            assignment_id=a.assignment_id, contractor_id=ada.contractor_id, reason="client_request", cancelled_at=NOW
        )
        env = await world.send(cancel, version=2)
        [cancelled] = await world.wait_for(CoverageCancelledV1.SUBJECT, 1)
        assert cancelled.data.reason == "client_request" and cancelled.data.terms.status == "cancelled"
        assert cancelled.data.contractor_email == ada.email and cancelled.data.contractor_name == "Ada Lovelace"
        row = await coverage(svc, world, a.assignment_id)
        assert row["status"] == "cancelled" and row["cancel_reason"] == "client_request"

        pdf = await svc.client.get(f"/v1/certificates/{cert.data.certificate_id}/pdf", headers={"x-tenant-id": world.tenant})
        assert pdf.headers["x-ten99-certificate-status"] == "void"
        assert "VOID: coverage cancelled on 2026-11-02 (client_request)" in pdf_text(pdf.content)

        # the same cancellation again (a copy past the inbox: a new envelope), and the start date passing
        await world.send(cancel, version=2)
        await world.resend(env, nats_msg_id="copy")
        assert (await tick(svc, noon(TODAY + days(6))))["coverage_lifecycle"] == 0
        await quiescent(svc)
        assert len(await world.published(CoverageCancelledV1.SUBJECT)) == 1
        assert await world.published(CoverageActivatedV1.SUBJECT) == []


async def test_a_cancellation_after_the_start_keeps_the_coverage(world: World, start_policy) -> None:
    ada = world.contractor()
    a = world.assignment(ada, start=TODAY, end=TODAY + days(30))
    async with start_policy() as svc:
        await bound_with_certificate(world, a)
        late = AssignmentCancelledV1(
            assignment_id=a.assignment_id, contractor_id=ada.contractor_id, reason="client_request", cancelled_at=NOW
        )
        await world.send(late, version=2)

        async def assignment_marked_cancelled() -> bool:
            async with svc.db.session() as s:
                return (await s.execute(select(assignments.c.status))).scalar_one() == "cancelled"

        await wait_until(assignment_marked_cancelled)
        await quiescent(svc)
        assert (await coverage(svc, world, a.assignment_id))["status"] == "active"
        assert await world.published(CoverageCancelledV1.SUBJECT) == []


async def test_an_extension_reissues_the_certificate_superseding_the_old_one(world: World, start_policy) -> None:
    ada = world.contractor()
    a = world.assignment(ada, start=TODAY + days(1), end=TODAY + days(30))
    async with start_policy() as svc:
        _, [first] = await bound_with_certificate(world, a)
        extend = AssignmentExtendedV1(
            assignment_id=a.assignment_id,
            contractor_id=ada.contractor_id,
            previous_end_date=a.end_date,
            end_date=TODAY + days(60),
            send_email=False,
        )
        await world.send(extend, version=2)
        [extended] = await world.wait_for(CoverageExtendedV1.SUBJECT, 1)
        assert extended.data.previous_end_date == a.end_date and extended.data.terms.end_date == TODAY + days(60)
        assert extended.data.send_email is False and extended.data.contractor_email == ada.email
        [_, second] = await world.wait_for(CertificateIssuedV1.SUBJECT, 2)
        assert second.data.supersedes == first.data.certificate_id and second.data.reason == "extended"
        assert second.data.send_email is False and second.data.end_date == TODAY + days(60)
        text = pdf_text(second.data.pdf)
        assert (TODAY + days(60)).isoformat() in text and f"Replaces {first.data.certificate_number}" in text

        headers = {"x-tenant-id": world.tenant}
        old = await svc.client.get(f"/v1/certificates/{first.data.certificate_id}/pdf", headers=headers)
        assert old.headers["x-ten99-certificate-status"] == "superseded"
        assert old.headers["x-ten99-superseded-by"] == second.data.certificate_id
        assert f"SUPERSEDED on 2026-11-02 by certificate {second.data.certificate_number}" in pdf_text(old.content)
        assert (await coverage(svc, world, a.assignment_id))["certificate"]["certificate_id"] == second.data.certificate_id
        history = (await svc.client.get("/v1/certificates", params={"assignment": a.assignment_id}, headers=headers)).json()
        assert [c["status"] for c in history["data"]] == ["current", "superseded"]

        # the same end again is a no-op; more than a year after the start is refused
        await world.send(extend, version=3)
        too_long = AssignmentExtendedV1(
            assignment_id=a.assignment_id,
            contractor_id=ada.contractor_id,
            previous_end_date=TODAY + days(60),
            end_date=TODAY + days(1) + timedelta(days=366),
        )
        await world.send(too_long, version=4)
        await quiescent(svc)
        assert len(await world.published(CoverageExtendedV1.SUBJECT)) == 1
        assert len(await world.published(CertificateIssuedV1.SUBJECT)) == 2
        assert (await coverage(svc, world, a.assignment_id))["end_date"] == (TODAY + days(60)).isoformat()


async def test_new_dates_before_the_start_retime_the_coverage_and_after_the_start_do_not(world: World, start_policy) -> None:
    ada = world.contractor()
    a = world.assignment(ada, start=TODAY + days(5), end=TODAY + days(30))
    async with start_policy() as svc:
        _, [first] = await bound_with_certificate(world, a)
        moved = world.updated(a, effective_date=TODAY + days(10), end_date=TODAY + days(40))
        await world.send(moved, version=2)
        [retimed] = await world.wait_for(CoverageRetimedV1.SUBJECT, 1)
        assert (retimed.data.previous_effective_date, retimed.data.previous_end_date) == (a.effective_date, a.end_date)
        assert (retimed.data.terms.effective_date, retimed.data.terms.end_date) == (TODAY + days(10), TODAY + days(40))
        assert retimed.data.terms.status == "scheduled" and retimed.aggregate_version == 2
        [_, second] = await world.wait_for(CertificateIssuedV1.SUBJECT, 2)
        assert second.data.supersedes == first.data.certificate_id and second.data.reason == "retimed"
        assert (TODAY + days(10)).isoformat() in pdf_text(second.data.pdf)

        # a stale copy of the first snapshot changes nothing
        await world.send(a, version=1)
        await quiescent(svc)  # (a row a handler holds is left to the next tick)
        # once started, the coverage's dates no longer follow updates (an extension is its own message)
        await tick(svc, noon(TODAY + days(10)))
        await world.wait_for(CoverageActivatedV1.SUBJECT, 1)
        await world.send(world.updated(a, effective_date=TODAY + days(10), end_date=TODAY + days(50)), version=3)
        await quiescent(svc)
        assert len(await world.published(CoverageRetimedV1.SUBJECT)) == 1
        assert len(await world.published(CertificateIssuedV1.SUBJECT)) == 2
        row = await coverage(svc, world, a.assignment_id)
        assert (row["effective_date"], row["end_date"]) == ((TODAY + days(10)).isoformat(), (TODAY + days(40)).isoformat())


async def test_redelivered_and_repeated_messages_duplicate_nothing(world: World, start_policy) -> None:
    ada = world.contractor()
    a = world.assignment(ada, start=TODAY + days(1), end=TODAY + days(30))
    b = world.assignment(ada, start=TODAY + days(2), end=TODAY + days(30), entity="Meta")
    async with start_policy() as svc:
        completion, _ = await bound_with_certificate(world, a, b)
        # a redelivery of the very same envelope (past JetStream's de-duplication), the same
        # business event in a new envelope (an operator's replay), and a second opt-in
        again = world.envelope(completion)
        await world.resend(again)
        await world.resend(again, nats_msg_id="redelivered")
        await world.send(world.completion(ada, [world.quote(a), world.quote(b)]))
        await world.send(world.company())
        await world.send(a, version=1)
        await quiescent(svc)
        assert len(await world.published(CoverageBoundV1.SUBJECT)) == 2
        assert len(await world.published(CertificateIssuedV1.SUBJECT)) == 2
        headers = {"x-tenant-id": world.tenant}
        assert len((await svc.client.get("/v1/policies", headers=headers)).json()["data"]) == 1
        assert len((await svc.client.get("/v1/coverages", headers=headers)).json()["data"]) == 2


async def test_the_embedded_default_on_sqlite_binds_certifies_and_runs_the_jobs(
    world: World, sqlite_url: str, jetstream_url: str
) -> None:
    from policy.bootstrap import definition
    from ten99_testing.service import running_service
    from ten99kit.clock import SettableClock

    ada = world.contractor()
    a = world.assignment(ada, start=TODAY + days(1), end=TODAY + days(3))
    clock = SettableClock(frozen_at=NOW)
    async with running_service(definition, database_url=sqlite_url, nats_url=jetstream_url, clock=clock) as svc:
        _, [first] = await bound_with_certificate(world, a)
        await world.send(
            AssignmentExtendedV1(
                assignment_id=a.assignment_id,
                contractor_id=ada.contractor_id,
                previous_end_date=a.end_date,
                end_date=TODAY + days(9),
            ),
            version=2,
        )
        [_, second] = await world.wait_for(CertificateIssuedV1.SUBJECT, 2)
        assert second.data.supersedes == first.data.certificate_id
        assert (await tick(svc, noon(TODAY + days(1))))["coverage_lifecycle"] == 1
        assert (await tick(svc, noon(TODAY + days(10))))["coverage_lifecycle"] == 1
        assert [e.data.terms.status for e in await world.published(CoverageExpiredV1.SUBJECT)] == ["expired"]


async def test_a_contractor_corrected_after_opting_in_is_named_on_later_certificates(world: World, start_policy) -> None:
    ada = world.contractor("Ada", "Lovelace")
    a = world.assignment(ada, start=TODAY + days(1), end=TODAY + days(30))

    def update(first: str, last: str) -> ContractorUpdatedV1:
        return ContractorUpdatedV1(contractor_id=ada.contractor_id, first_name=first, last_name=last, email=ada.email)

    async with start_policy() as svc:
        await world.send(world.company())
        await world.send(a, version=1)
        completed = await world.send(world.completion(ada, [world.quote(a)]))
        [first] = await world.wait_for(CertificateIssuedV1.SUBJECT, 1)
        assert "Ada Lovelace" in pdf_text(first.data.pdf)

        # an update made before the opt-in, arriving after it: the confirmed details stand
        stale = world.envelope(update("Stale", "Name"), aggregate_id=ada.contractor_id, version=2)
        await world.resend(msgspec.structs.replace(stale, occurred_at=completed.occurred_at - timedelta(minutes=1)))
        # the company corrects the name later; the message comes twice
        fresh = await world.send(update("Ada", "King"))
        await world.resend(fresh, nats_msg_id=f"again-{fresh.id}")
        await quiescent(svc)

        await world.send(
            AssignmentExtendedV1(
                assignment_id=a.assignment_id,
                contractor_id=ada.contractor_id,
                previous_end_date=a.end_date,
                end_date=TODAY + days(40),
            ),
            version=2,
        )
        [_, second] = await world.wait_for(CertificateIssuedV1.SUBJECT, 2)
        text = pdf_text(second.data.pdf)
        assert "Ada King" in text and "Stale" not in text and "Lovelace" not in text
        assert "Ada Lovelace" in pdf_text(first.data.pdf)  # what was issued stays as it was


async def test_a_correction_that_overtakes_the_opt_in_is_on_the_first_certificate(world: World, start_policy) -> None:
    """The company corrects a contractor just after they opted in, and the correction reaches
    policy before the opt-in does: the policy, created later, takes it. A correction made before
    the opt-in, or older than the one kept, does not override the newer details."""
    ada, bob = world.contractor("Ada", "Lovelace"), world.contractor("Bob", "Brown")
    a, b = (world.assignment(c, start=TODAY + days(1), end=TODAY + days(30)) for c in (ada, bob))

    def update(who: Any, first: str, last: str, at: datetime) -> Any:
        message = ContractorUpdatedV1(contractor_id=who.contractor_id, first_name=first, last_name=last, email=who.email)
        return msgspec.structs.replace(world.envelope(message, aggregate_id=who.contractor_id, version=2), occurred_at=at)

    async with start_policy() as svc:
        await world.send(world.company())
        for x in (a, b):
            await world.send(x, version=1)
        ada_opts_in = world.envelope(world.completion(ada, [world.quote(a)]), aggregate_id=ada.contractor_id)
        bob_opts_in = world.envelope(world.completion(bob, [world.quote(b)]), aggregate_id=bob.contractor_id)
        fix = update(ada, "Ada", "King", ada_opts_in.occurred_at + timedelta(minutes=2))
        await world.resend(fix)
        await world.resend(fix, nats_msg_id=f"again-{fix.id}")
        await world.resend(update(ada, "Older", "Fix", ada_opts_in.occurred_at + timedelta(minutes=1)))
        await world.resend(update(bob, "Before", "Optin", bob_opts_in.occurred_at - timedelta(minutes=1)))
        await quiescent(svc)

        await world.resend(ada_opts_in)
        await world.resend(bob_opts_in)
        certificates = await world.wait_for(CertificateIssuedV1.SUBJECT, 2)
        text = {c.data.contractor_id: pdf_text(c.data.pdf) for c in certificates}
        assert "Ada King" in text[ada.contractor_id] and "Lovelace" not in text[ada.contractor_id]
        assert "Older" not in text[ada.contractor_id]
        assert "Bob Brown" in text[bob.contractor_id] and "Optin" not in text[bob.contractor_id]


async def test_an_extension_seen_after_the_expiry_reactivates_the_expired_policy_once(world: World, start_policy) -> None:
    ada = world.contractor()
    a = world.assignment(ada, start=TODAY + days(1), end=TODAY + days(2))
    headers = {"x-tenant-id": world.tenant}
    async with start_policy() as svc:
        await bound_with_certificate(world, a)
        assert (await tick(svc, noon(TODAY + days(4))))["coverage_lifecycle"] == 2  # activated, then expired
        [policy] = (await svc.client.get("/v1/policies", headers=headers)).json()["data"]
        assert policy["status"] == "expired"

        # made before the end, seen after it: the coverage and its policy come back
        extend = AssignmentExtendedV1(
            assignment_id=a.assignment_id,
            contractor_id=ada.contractor_id,
            previous_end_date=a.end_date,
            end_date=TODAY + days(20),
        )
        await world.send(extend, version=2)
        [back] = await world.wait_for(PolicyReactivatedV1.SUBJECT, 1)
        assert (back.data.policy_id, back.data.contractor_id, back.data.assignment_id) == (
            policy["id"],
            ada.contractor_id,
            a.assignment_id,
        )
        assert back.aggregate_id == policy["id"]
        assert (await svc.client.get(f"/v1/policies/{policy['id']}", headers=headers)).json()["status"] == "active"

        # the same extension again, and a later one while the policy runs: no second reactivation
        await world.send(extend, version=3)
        later = AssignmentExtendedV1(
            assignment_id=a.assignment_id,
            contractor_id=ada.contractor_id,
            previous_end_date=TODAY + days(20),
            end_date=TODAY + days(25),
        )
        await world.send(later, version=4)
        await world.wait_for(CoverageExtendedV1.SUBJECT, 2)
        await quiescent(svc)
        assert len(await world.published(PolicyReactivatedV1.SUBJECT)) == 1


async def test_a_deleted_contractors_active_policy_is_cancelled_once(world: World, start_policy) -> None:
    ada = world.contractor()
    a = world.assignment(ada, start=TODAY + days(5), end=TODAY + days(30))
    headers = {"x-tenant-id": world.tenant}
    async with start_policy() as svc:
        await bound_with_certificate(world, a)
        cancel = AssignmentCancelledV1(
            assignment_id=a.assignment_id, contractor_id=ada.contractor_id, reason="client_request", cancelled_at=NOW
        )
        await world.send(cancel, version=2)
        await world.wait_for(CoverageCancelledV1.SUBJECT, 1)
        [policy] = (await svc.client.get("/v1/policies", headers=headers)).json()["data"]
        assert policy["status"] == "active"

        # the contractor service lets the company delete them now (no live assignment, no coverage)
        deleted = await world.send(ContractorDeletedV1(contractor_id=ada.contractor_id, email=ada.email), version=3)
        [gone] = await world.wait_for(PolicyCancelledV1.SUBJECT, 1)
        assert (gone.data.policy_id, gone.data.contractor_id, gone.data.reason) == (
            policy["id"],
            ada.contractor_id,
            "contractor_deleted",
        )
        assert gone.data.policy_number == policy["policy_number"]
        got = (await svc.client.get("/v1/policies", params={"status": "cancelled"}, headers=headers)).json()["data"]
        assert [p["id"] for p in got] == [policy["id"]]

        # the same message again (a copy past the inbox), and the policy's end passing: once
        await world.resend(deleted, nats_msg_id="copy")
        await tick(svc, noon(TODAY + days(40)))
        await quiescent(svc)
        assert len(await world.published(PolicyCancelledV1.SUBJECT)) == 1
        assert (await svc.client.get(f"/v1/policies/{policy['id']}", headers=headers)).json()["status"] == "cancelled"
