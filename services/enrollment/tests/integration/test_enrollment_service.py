"""The enrollment service on a real PostgreSQL and NATS JetStream: other contexts' messages in,
invitations and applications out, the opt-in form and the 1099Policy-style API over HTTP."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from enrollment.adapters.db import assignment_cancellations, assignments, metadata
from enrollment.bootstrap import definition
from enrollment_support import (
    H2,
    NOW,
    OTHER_TENANT,
    TENANT,
    TODAY,
    H,
    assignment,
    company,
    contractor,
    emitted,
    envelope,
    good_form,
    job,
    publish,
    rates,
    row_counts,
    token_of,
)
from sqlalchemy import func, select
from ten99_contracts.contractor_v1 import AssignmentCancelledV1
from ten99_contracts.enrollment_v1 import (
    ApplicationCompletedV1,
    ApplicationDeclinedV1,
    ApplicationIneligibleV1,
    ApplicationStartedV1,
    AssignmentEnrolledV1,
    InvitationExpiredV1,
    InvitationIssuedV1,
    InvitationReminderDueV1,
    InvitationRevokedV1,
)
from ten99_testing import quiescent, wait_until
from ten99_testing.openapi import assert_documented, component
from ten99_testing.service import RunningService
from ten99kit.migrations import schema_drift, upgrade

pytestmark = pytest.mark.integration


async def handled(svc: RunningService, n: int) -> None:
    """Wait until ``n`` assignments are known and decided."""

    async def decided() -> int:
        async with svc.db.session() as s:
            q = (
                select(func.count())
                .select_from(assignments)
                .where((assignments.c.enrollment.is_not(None)) | (assignments.c.status == "cancelled"))
            )
            return int((await s.execute(q)).scalar_one())

    await wait_until(decided, satisfies=lambda found: found >= n, what=f"{n} assignments decided")


async def link_of(svc: RunningService, contractor_id: str, headers: dict[str, str] = H) -> str:
    r = await svc.client.get("/v1/invitations/current", params={"contractor": contractor_id}, headers=headers)
    assert r.status_code == 200, r.text
    return token_of(r.json()["opt_in_url"])


async def test_migrations_match_the_models(database_url: str) -> None:
    await asyncio.to_thread(upgrade, definition.migrations, database_url)
    assert await schema_drift(database_url, metadata) == []


async def test_one_invitation_per_contractor_and_later_assignments_attach(svc: RunningService) -> None:
    ada, bob = contractor(1), contractor(2, first="Bob", last="Smith")
    a1, a2, a3 = assignment(1, ada, job(1)), assignment(2, ada, job(2)), assignment(3, bob, job(3))
    first = envelope(a1)
    await publish(svc, company(), first, envelope(a2), envelope(a3))
    await handled(svc, 3)
    issued = await emitted(svc, InvitationIssuedV1.SUBJECT)
    assert sorted(e.data.contractor_id for e in issued) == [ada.contractor_id, bob.contractor_id]
    ada_issue = next(e for e in issued if e.data.contractor_id == ada.contractor_id)
    # a2 is in the email too when it arrived in the same consumer batch as a1, else attached quietly
    assert ada_issue.data.assignment_ids in ([a1.assignment_id], [a1.assignment_id, a2.assignment_id])
    assert ada_issue.tenant_id == TENANT and ada_issue.data.email == ada.email
    assert ada_issue.data.opt_in_url.startswith("http://gw.test/opt-in/")
    assert ada_issue.data.expires_at == NOW + timedelta(days=30)
    r = await svc.client.get("/v1/invitations/current", params={"contractor": ada.contractor_id}, headers=H)
    body = r.json()
    assert body["status"] == "pending" and body["assignment_ids"] == sorted([a1.assignment_id, a2.assignment_id])
    assert body["opt_in_url"] == ada_issue.data.opt_in_url and body["reminders_sent"] == 0

    # the same envelope again (past JetStream's duplicate window: another Nats-Msg-Id), and the same
    # business event in a new envelope: neither makes a second invitation
    await publish(svc, first, msg_id="replayed-copy")
    await publish(svc, envelope(a2), envelope(assignment(4, contractor(3), job(4))))
    await handled(svc, 4)
    issued = await emitted(svc, InvitationIssuedV1.SUBJECT)
    assert len(issued) == 3 and issued[-1].data.contractor_id == contractor(3).contractor_id
    # the profile page of another company sees nothing
    r = await svc.client.get("/v1/invitations/current", params={"contractor": ada.contractor_id}, headers=H2)
    assert r.status_code == 404


async def test_opening_the_link_changes_nothing_and_submitting_opts_in_once(svc: RunningService) -> None:
    ada = contractor(1, state="TX")
    in_ca = assignment(1, ada, job(1, category="jc_photographer", work_state="CA"))
    in_nd = assignment(2, ada, job(2, category="jc_event_staff", work_state="ND"), start=TODAY + timedelta(days=10), days=5)
    remote = assignment(3, ada, job(3, category="jc_writer", work_state=None), coverage=["general"])
    await publish(svc, company(), envelope(in_ca), envelope(in_nd), envelope(remote))
    await handled(svc, 3)
    token = await link_of(svc, ada.contractor_id)
    await quiescent(svc)

    before = await row_counts(svc.db)
    for _ in range(3):
        page = (await svc.client.get(f"/v1/opt-in/{token}")).json()
    assert await row_counts(svc.db) == before  # mail scanners open links: no write at all
    assert page["state"] == "open" and page["company_name"] == "Acme Creators"
    assert page["prefill"]["first_name"] == "Ada" and page["prefill"]["email"] == ada.email
    assert page["prefill"]["address"]["region"] == "TX"
    by_id = {a["assignment_id"]: a for a in page["prefill"]["assignments"]}
    assert by_id[in_ca.assignment_id]["work_state"] == "CA" and by_id[in_ca.assignment_id]["entity"] == "Nike"
    assert by_id[in_ca.assignment_id]["effective_date"] == in_ca.effective_date.isoformat()
    assert by_id[in_nd.assignment_id]["coverage_types"] == ["general"]
    assert "not offered" in by_id[in_nd.assignment_id]["notes"][0]
    assert by_id[remote.assignment_id]["remote"] is True and by_id[remote.assignment_id]["work_state"] == "TX"
    assert {q["id"] for q in page["questions"]} >= {"is_adult", "works_in_us", "claims_last_3_years"}
    assert "electronically" in page["consent_text"]

    # the contractor corrects their address (now in Nevada) and opts in
    form = good_form(address={"line1": "9 Strip Rd", "locality": "Reno", "region": "nv", "postalcode": "89501"})
    r = await svc.client.post(f"/v1/opt-in/{token}", json=form, headers={"x-forwarded-for": "198.51.100.1, 10.0.0.1"})
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["state"] == "completed" and len(result["quotes"]) == 3
    table = await rates(svc)
    [started] = await emitted(svc, ApplicationStartedV1.SUBJECT)
    [completed] = await emitted(svc, ApplicationCompletedV1.SUBJECT)
    assert started.data.session_id == completed.data.session_id == result["session_id"]
    done = completed.data
    assert done.address.region == "NV" and done.address.locality == "Reno" and done.consent.signed_name == "Ada Lovelace"
    assert done.consent.ip_address == "203.0.113.9" and done.consent.user_agent == "Mozilla/5.0 (test)"
    assert done.consent.signed_at == NOW and done.invitation_id
    quotes = {q.assignment_id: q for q in done.assignments}
    ca, nd, rm = quotes[in_ca.assignment_id], quotes[in_nd.assignment_id], quotes[remote.assignment_id]
    assert ca.coverage_types == ["general", "workers-comp"] and (ca.home_state, ca.work_state) == ("NV", "CA")
    assert ca.gl_net_rate == table[("jc_photographer", "NV", "general")]
    assert ca.wc_net_rate == table[("jc_photographer", "CA", "workers-comp")]
    assert ca.net_rate == ca.gl_net_rate + ca.wc_net_rate
    assert (ca.effective_date, ca.end_date) == (in_ca.effective_date, in_ca.end_date) and ca.job_id == in_ca.job.job_id
    assert nd.coverage_types == ["general"] and nd.wc_net_rate == 0 and ("jc_event_staff", "ND", "workers-comp") not in table
    assert nd.net_rate == table[("jc_event_staff", "NV", "general")]
    assert rm.coverage_types == ["general"] and rm.work_state == "NV"  # remote work: the (corrected) home state

    after = await row_counts(svc.db)
    again = await svc.client.post(f"/v1/opt-in/{token}", json=form)
    assert again.status_code == 200 and again.json()["state"] == "answered"
    assert again.json()["session_id"] == result["session_id"] and again.json()["outcome"] == "completed"
    assert await row_counts(svc.db) == after
    assert len(await emitted(svc, ApplicationCompletedV1.SUBJECT)) == 1
    assert (await svc.client.get(f"/v1/opt-in/{token}")).json()["state"] == "answered"
    current = (await svc.client.get("/v1/invitations/current", params={"contractor": ada.contractor_id}, headers=H)).json()
    assert current["status"] == "answered" and current["session_id"] == result["session_id"]


async def test_tokens_stay_out_of_the_logs(svc: RunningService, capsys: pytest.CaptureFixture[str]) -> None:
    await publish(svc, envelope(assignment(1, contractor(1), job(1))))
    await handled(svc, 1)
    token = await link_of(svc, contractor(1).contractor_id)
    capsys.readouterr()
    assert (await svc.client.get(f"/v1/opt-in/{token}")).status_code == 200
    assert (await svc.client.post(f"/v1/opt-in/{token}", json=good_form())).status_code == 200
    logged = capsys.readouterr().out
    assert "/v1/opt-in/<token>" in logged and token not in logged


async def test_bad_input_is_a_400_with_field_messages_and_writes_nothing(svc: RunningService) -> None:
    await publish(svc, envelope(assignment(1, contractor(1), job(1))))
    await handled(svc, 1)
    token = await link_of(svc, contractor(1).contractor_id)
    before = await row_counts(svc.db)
    bad = good_form(first_name="", address={"line1": "1 Main", "locality": "X", "region": "ZZ", "postalcode": "1"})
    bad["answers"].pop("is_adult")
    bad["consent"] = {"agreed": False, "signed_name": "Grace Hopper"}
    r = await svc.client.post(f"/v1/opt-in/{token}", json=bad)
    assert r.status_code == 400 and r.json()["error_code"] == "invalid_input"
    assert {"first_name", "address.region", "address.postalcode", "answers.is_adult", "consent.agreed"} <= set(
        r.json()["message"]
    )
    r = await svc.client.post(f"/v1/opt-in/{token}", json=good_form(consent={"agreed": True, "signed_name": "Grace Hopper"}))
    assert r.status_code == 400 and "consent.signed_name" in r.json()["message"]
    r = await svc.client.post(f"/v1/opt-in/{token}", content=b"{broken", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert await row_counts(svc.db) == before
    assert (await svc.client.get(f"/v1/opt-in/{token}")).json()["state"] == "open"
    assert (await svc.client.get("/v1/opt-in/unknown-token")).status_code == 404


async def test_ineligible_answers_are_recorded_with_reasons(svc: RunningService) -> None:
    await publish(svc, envelope(assignment(1, contractor(1), job(1))))
    await handled(svc, 1)
    token = await link_of(svc, contractor(1).contractor_id)
    form = good_form()
    form["answers"]["claims_last_3_years"] = "yes"
    r = await svc.client.post(f"/v1/opt-in/{token}", json=form)
    assert r.status_code == 200 and r.json()["state"] == "ineligible"
    [ineligible] = await emitted(svc, ApplicationIneligibleV1.SUBJECT)
    assert "claims or losses" in ineligible.data.reasons[0] and ineligible.data.session_id == r.json()["session_id"]
    assert await emitted(svc, ApplicationCompletedV1.SUBJECT) == []
    again = (await svc.client.post(f"/v1/opt-in/{token}", json=good_form())).json()
    assert again["state"] == "answered" and again["outcome"] == "ineligible"
    # the company can give them a new link (for example after an underwriter's review)
    r = await svc.client.post("/v1/invitations/reissue", json={"contractor": contractor(1).contractor_id}, headers=H)
    assert r.status_code == 201 and r.json()["status"] == "pending"


async def test_expired_revoked_and_used_links_and_reissue(svc: RunningService) -> None:
    ada = contractor(1)
    await publish(svc, envelope(assignment(1, ada, job(1))))
    await handled(svc, 1)
    old = await link_of(svc, ada.contractor_id)
    r = await svc.client.post("/v1/invitations/reissue", json={"contractor": ada.contractor_id}, headers=H)
    assert r.status_code == 201
    new = token_of(r.json()["opt_in_url"])
    assert (await svc.client.get(f"/v1/opt-in/{old}")).json()["state"] == "revoked"
    posted = await svc.client.post(f"/v1/opt-in/{old}", json=good_form())
    assert posted.status_code == 200 and posted.json()["state"] == "revoked"
    [revoked] = await emitted(svc, InvitationRevokedV1.SUBJECT)
    assert revoked.data.replaced_by == r.json()["invitation_id"]
    issued = await emitted(svc, InvitationIssuedV1.SUBJECT)
    assert [e.data.reissue for e in issued] == [False, True] and issued[1].data.opt_in_url.endswith(new)
    # another company cannot reissue it
    assert (
        await svc.client.post("/v1/invitations/reissue", json={"contractor": ada.contractor_id}, headers=H2)
    ).status_code == 404

    svc.clock.freeze(NOW + timedelta(days=31))
    page = (await svc.client.get(f"/v1/opt-in/{new}")).json()
    assert page["state"] == "expired" and page["prefill"] is None
    tick = (await svc.ops.post("/_ops/tick")).json()
    assert tick["jobs"]["expire_invitations"] == 1 and tick["jobs"]["invitation_reminders"] == 0
    assert (await svc.ops.post("/_ops/tick")).json()["jobs"]["expire_invitations"] == 0
    [expired] = await emitted(svc, InvitationExpiredV1.SUBJECT)
    assert expired.data.invitation_id == r.json()["invitation_id"]
    assert (await svc.client.post(f"/v1/opt-in/{new}", json=good_form())).json()["state"] == "expired"
    # after expiry a reissue gives a working link again
    r = await svc.client.post("/v1/invitations/reissue", json={"contractor": ada.contractor_id}, headers=H)
    third = token_of(r.json()["opt_in_url"])
    assert (await svc.client.post(f"/v1/opt-in/{third}", json=good_form())).json()["state"] == "completed"
    assert (await svc.client.post(f"/v1/opt-in/{third}", json=good_form())).json()["state"] == "answered"
    r = await svc.client.post("/v1/invitations/reissue", json={"contractor": ada.contractor_id}, headers=H)
    assert r.status_code == 409 and r.json()["error_code"] == "application_already_complete"


async def test_declining_over_http_then_opting_in_after_all(svc: RunningService) -> None:
    """A decline is published once and stops the reminders; the same link opts in later, as usual."""
    await publish(svc, envelope(assignment(1, contractor(1), job(1))), envelope(assignment(2, contractor(2), job(2))))
    await handled(svc, 2)
    token = await link_of(svc, contractor(1).contractor_id)
    bad = await svc.client.post(f"/v1/opt-in/{token}/decline", json={"reason": "nope", "note": "x"})
    assert bad.status_code == 400 and bad.json()["error_code"] == "invalid_input" and "reason" in bad.json()["message"]
    body = {"reason": "does_not_want", "note": "Not for me."}
    first = await svc.client.post(f"/v1/opt-in/{token}/decline", json=body)
    assert first.status_code == 200, first.text
    page = first.json()
    assert (page["state"], page["decline_reason"], page["decline_note"], page["can_change"]) == (
        "declined",
        "does_not_want",
        "Not for me.",
        True,
    )
    counts = await row_counts(svc.db)
    assert (await svc.client.post(f"/v1/opt-in/{token}/decline", json=body)).json()["declined_at"] == page["declined_at"]
    assert await row_counts(svc.db) == counts
    [declined] = await emitted(svc, ApplicationDeclinedV1.SUBJECT)
    assert (declined.tenant_id, declined.data.contractor_id, declined.data.note) == (
        TENANT,
        contractor(1).contractor_id,
        "Not for me.",
    )
    params = {"contractor": contractor(1).contractor_id}
    current = (await svc.client.get("/v1/invitations/current", params=params, headers=H)).json()
    assert (current["status"], current["decline_reason"]) == ("declined", "does_not_want")
    # another company sees nothing of it
    other = await svc.client.get("/v1/invitations/current", params=params, headers=H2)
    assert other.status_code == 404
    svc.clock.freeze(NOW + timedelta(days=2, minutes=1))
    assert (await svc.ops.post("/_ops/tick")).json()["jobs"]["invitation_reminders"] == 1  # contractor 2 only
    [reminder] = await emitted(svc, InvitationReminderDueV1.SUBJECT)
    assert reminder.data.contractor_id == contractor(2).contractor_id
    again = await svc.client.post(f"/v1/opt-in/{token}", json=good_form())
    assert again.status_code == 200 and again.json()["state"] == "completed"
    [completed] = await emitted(svc, ApplicationCompletedV1.SUBJECT)
    assert completed.data.contractor_id == contractor(1).contractor_id
    assert (await svc.client.get(f"/v1/opt-in/{token}")).json()["state"] == "answered"


async def test_reminders_after_2_and_5_clock_days_exactly_once(svc: RunningService) -> None:
    await publish(svc, envelope(assignment(1, contractor(1), job(1))), envelope(assignment(2, contractor(2), job(2))))
    await handled(svc, 2)
    answered = await link_of(svc, contractor(2).contractor_id)
    svc.clock.freeze(NOW + timedelta(days=1))
    assert (await svc.client.post(f"/v1/opt-in/{answered}", json=good_form())).json()["state"] == "completed"
    ticks = []
    for day in (1, 2, 2, 3, 5, 5, 6, 29):
        svc.clock.freeze(NOW + timedelta(days=day, minutes=1))
        ticks.append((await svc.ops.post("/_ops/tick")).json()["jobs"]["invitation_reminders"])
    assert ticks == [0, 1, 0, 0, 1, 0, 0, 0]
    reminders = await emitted(svc, InvitationReminderDueV1.SUBJECT)
    assert [(r.data.contractor_id, r.data.reminder_number) for r in reminders] == [
        (contractor(1).contractor_id, 1),
        (contractor(1).contractor_id, 2),
    ]
    assert reminders[0].data.opt_in_url.endswith(await link_of(svc, contractor(1).contractor_id))
    current = (
        await svc.client.get("/v1/invitations/current", params={"contractor": contractor(1).contractor_id}, headers=H)
    ).json()
    assert current["reminders_sent"] == 2


async def test_repeat_coverage_enrolls_matching_assignments_and_invites_for_others(svc: RunningService) -> None:
    ada = contractor(1, state="CA")
    await publish(svc, envelope(assignment(1, ada, job(1, category="jc_creator", work_state="NY"))))
    await handled(svc, 1)
    token = await link_of(svc, ada.contractor_id)
    result = (await svc.client.post(f"/v1/opt-in/{token}", json=good_form())).json()
    assert result["state"] == "completed"
    same = assignment(2, ada, job(2, category="jc_creator", work_state="NY"), start=TODAY + timedelta(days=40))
    other_category = assignment(3, ada, job(3, category="jc_model", work_state="NY"))
    other_state = assignment(4, ada, job(4, category="jc_creator", work_state="NJ"))
    await publish(svc, envelope(same))
    await handled(svc, 2)
    [enrolled] = await emitted(svc, AssignmentEnrolledV1.SUBJECT)
    q = enrolled.data.quote
    assert enrolled.data.session_id == result["session_id"] and q.assignment_id == same.assignment_id
    assert (q.effective_date, q.end_date, q.work_state, q.home_state) == (same.effective_date, same.end_date, "NY", "CA")
    assert (
        q.net_rate
        == (await rates(svc))[("jc_creator", "CA", "general")] + (await rates(svc))[("jc_creator", "NY", "workers-comp")]
    )
    assert len(await emitted(svc, InvitationIssuedV1.SUBJECT)) == 1  # no new opt-in for it
    await publish(svc, envelope(other_category), envelope(other_state))
    await handled(svc, 4)
    issued = await emitted(svc, InvitationIssuedV1.SUBJECT)
    assert len(issued) == 2 and issued[1].data.assignment_ids in (
        [other_category.assignment_id],
        [other_category.assignment_id, other_state.assignment_id],  # when both came in one batch
    )
    r = await svc.client.get("/v1/invitations/current", params={"contractor": ada.contractor_id}, headers=H)
    assert sorted(r.json()["assignment_ids"]) == sorted([other_category.assignment_id, other_state.assignment_id])
    assert len(await emitted(svc, AssignmentEnrolledV1.SUBJECT)) == 1


async def test_cancelled_assignments_leave_the_invitation_and_an_empty_one_is_revoked(svc: RunningService) -> None:
    ada, bob = contractor(1), contractor(2)
    a1, a2, b1 = assignment(1, ada, job(1)), assignment(2, ada, job(2)), assignment(3, bob, job(3))
    # bob's cancellation arrives before the assignment it cancels
    cancel_b1 = envelope(
        AssignmentCancelledV1(
            assignment_id=b1.assignment_id, contractor_id=bob.contractor_id, reason="client_request", cancelled_at=NOW
        )
    )
    await publish(svc, cancel_b1)

    async def cancellation_recorded() -> bool:
        async with svc.db.session() as s:
            return (await s.execute(select(func.count()).select_from(assignment_cancellations))).scalar_one() == 1

    await wait_until(cancellation_recorded)  # other subjects have no order: wait for it
    await publish(svc, envelope(a1), envelope(a2), envelope(b1))
    await handled(svc, 3)
    assert [e.data.contractor_id for e in await emitted(svc, InvitationIssuedV1.SUBJECT)] == [ada.contractor_id]
    await publish(
        svc,
        envelope(
            AssignmentCancelledV1(assignment_id=a1.assignment_id, contractor_id=ada.contractor_id, reason="x", cancelled_at=NOW)
        ),
    )
    token = await link_of(svc, ada.contractor_id)

    async def only_a2_left() -> bool:
        page = (await svc.client.get(f"/v1/opt-in/{token}")).json()
        return [a["assignment_id"] for a in page["prefill"]["assignments"]] == [a2.assignment_id]

    await wait_until(only_a2_left)
    await publish(svc, envelope(assignment(2, ada, job(2), status="cancelled", updated=True), version=2))

    async def revoked() -> bool:
        return (await svc.client.get(f"/v1/opt-in/{token}")).json()["state"] == "revoked"

    await wait_until(revoked)
    [rev] = await emitted(svc, InvitationRevokedV1.SUBJECT)
    assert rev.data.replaced_by is None


async def test_quotes_api(svc: RunningService) -> None:
    ada = contractor(1, state="TX")
    await publish(svc, company(), envelope(assignment(1, ada, job(1, category="jc_designer", work_state="WA"))))
    await handled(svc, 1)
    start = int((NOW + timedelta(days=2)).replace(hour=0, minute=0).timestamp())
    body = {
        "contractor": ada.contractor_id,
        "job": job(1).job_id,
        "coverage_type": ["general", "workers-comp"],
        "effective_date": start,
    }
    r = await svc.client.post("/v1/quotes", json=body, headers=H)
    assert r.status_code == 200, r.text
    quote = r.json()
    table = await rates(svc)
    # WA is monopolistic for workers' comp: the quote says so and cannot be bound
    assert quote["object"] == "quote" and quote["id"].startswith("qt_") and quote["eligible"] is False
    assert quote["coverage_type"] == ["general", "workers-comp"] and "not offered" in quote["eligibility_message"]
    assert quote["net_rate"] == quote["gl_net_rate"] == table[("jc_designer", "TX", "general")] and quote["wc_net_rate"] == 0
    assert quote["quote_json"] == {
        "gl": {"net_rate": quote["gl_net_rate"], "stamping_fee": None, "risk_purchasing_group_fee": None},
        "wc": {"net_rate": 0},
    }
    r = await svc.client.post("/v1/apply/sessions", json={"quote": quote["id"]}, headers=H)
    assert (r.status_code, r.json()["error_code"]) == (400, "invalid_input") and "not eligible" in r.text

    assert quote["effective_date"] == start and quote["end_date"] == start + 30 * 86400
    assert quote["assignment"] == assignment(1, ada, job(1)).assignment_id
    assert (await svc.client.get(f"/v1/quotes/{quote['id']}", headers=H)).json() == quote

    r = await svc.client.put(f"/v1/quotes/{quote['id']}", json={"end_date": start + 10 * 86400}, headers=H)
    assert r.status_code == 200 and r.json()["end_date"] == start + 10 * 86400

    errors = [
        ({**body, "effective_date": start - 5 * 86400}, "effective_date_invalid"),
        ({**body, "end_date": start - 86400}, "end_date_invalid"),
        ({**body, "end_date": start + 400 * 86400}, "end_date_invalid"),
        ({**body, "coverage_type": ["professional"]}, "invalid_input"),
        ({**body, "job": "jb_unknown00000000000000"}, "invalid_job_id"),
        ({**body, "contractor": "cn_unknown00000000000000"}, "invalid_contractor_id"),
        ({k: v for k, v in body.items() if k != "contractor"}, "missing_contractor_id"),
    ]
    for bad, code in errors:
        r = await svc.client.post("/v1/quotes", json=bad, headers=H)
        assert (r.status_code, r.json()["error_code"]) == (400, code), (bad, r.text)
    assert (await svc.client.get("/v1/quotes/qt_nope", headers=H)).json()["error_code"] == "invalid_quote_id"

    more = []
    for _ in range(3):
        svc.clock.advance(timedelta(seconds=1))  # lists are newest first, by creation time
        more.append((await svc.client.post("/v1/quotes", json=body, headers=H)).json()["id"])
    page1 = (await svc.client.get("/v1/quotes", params={"limit": 2}, headers=H)).json()
    assert page1["object"] == "list" and page1["has_more"] is True and [q["id"] for q in page1["data"]] == more[::-1][:2]
    page2 = (await svc.client.get("/v1/quotes", params={"limit": 2, "starting_after": more[1]}, headers=H)).json()
    assert [q["id"] for q in page2["data"]] == [more[0], quote["id"]] and page2["has_more"] is False
    back = (await svc.client.get("/v1/quotes", params={"limit": 2, "ending_before": quote["id"]}, headers=H)).json()
    assert [q["id"] for q in back["data"]] == [more[1], more[0]] and back["has_more"] is True
    assert (await svc.client.get("/v1/quotes", params={"limit": 0}, headers=H)).status_code == 400

    # tenant isolation: another company sees and changes none of it
    assert (await svc.client.get("/v1/quotes", headers=H2)).json()["data"] == []
    assert (await svc.client.get(f"/v1/quotes/{quote['id']}", headers=H2)).status_code == 404
    assert (await svc.client.put(f"/v1/quotes/{quote['id']}", json={"end_date": start + 86400}, headers=H2)).status_code == 404
    r = await svc.client.post("/v1/quotes", json=body, headers=H2)
    assert r.json()["error_code"] == "invalid_contractor_id"
    assert (await svc.client.get("/v1/quotes")).json()["error_code"] == "no_tenant_found"


async def test_sessions_api(svc: RunningService) -> None:
    ada = contractor(1)
    await publish(svc, envelope(assignment(1, ada, job(1))))
    await handled(svc, 1)
    quote = (await svc.client.post("/v1/quotes", json={"contractor": ada.contractor_id, "job": job(1).job_id}, headers=H)).json()
    r = await svc.client.post("/v1/apply/sessions", json={"quote": quote["id"], "success_url": "https://acme.test/ok"}, headers=H)
    assert r.status_code == 200, r.text
    session = r.json()
    assert session["id"].startswith("ias_") and len(session["id"]) == 30 and session["object"] == "application_session"
    assert session["step"] == "verify_info" and session["expired"] is False and session["quote"] == quote["id"]
    assert session["url"].endswith(await link_of(svc, ada.contractor_id))  # the contractor's open link
    assert len(await emitted(svc, InvitationIssuedV1.SUBJECT)) == 1  # the link already existed: no second email

    r = await svc.client.put(f"/v1/apply/sessions/{session['id']}", json={"cancel_url": "https://acme.test/no"}, headers=H)
    assert r.json()["cancel_url"] == "https://acme.test/no" and r.json()["success_url"] == "https://acme.test/ok"
    assert (
        await svc.client.put(f"/v1/apply/sessions/{session['id']}", json={"cancel_url": "ftp://x"}, headers=H)
    ).status_code == 400
    listed = (await svc.client.get("/v1/apply/sessions", params={"contractor": ada.contractor_id}, headers=H)).json()
    assert [s["id"] for s in listed["data"]] == [session["id"]]
    assert (await svc.client.get(f"/v1/apply/sessions/{session['id']}", headers=H2)).json()["error_code"] == "invalid_session_id"
    assert (await svc.client.post(f"/v1/apply/sessions/{session['id']}/expire", headers=H2)).status_code == 404

    # submitting the link completes this very session
    token = token_of(session["url"])
    result = (await svc.client.post(f"/v1/opt-in/{token}", json=good_form())).json()
    assert result["state"] == "completed" and result["session_id"] == session["id"]
    done = (await svc.client.get(f"/v1/apply/sessions/{session['id']}", headers=H)).json()
    assert done["status"] == "complete" and done["step"] == "application_complete" and len(done["quotes"]) == 1
    r = await svc.client.post(f"/v1/apply/sessions/{session['id']}/expire", headers=H)
    assert r.status_code == 400 and r.json()["error_code"] == "application_already_complete"
    r = await svc.client.post("/v1/apply/sessions", json={"quote": quote["id"]}, headers=H)
    assert r.json()["error_code"] == "application_already_complete"  # the session bound this very quote
    r = await svc.client.post("/v1/quotes", json={"contractor": ada.contractor_id, "job": job(1).job_id}, headers=H)
    assert r.json()["error_code"] == "contractor_has_matching_policy"
    r = await svc.client.put(f"/v1/quotes/{done['quotes'][0]}", json={"end_date": 0}, headers=H)
    assert r.json()["error_code"] == "cant_update_create_new_quote"

    # a session that is expired: its link shows "expired", and it can no longer change
    bob = contractor(2)
    await publish(svc, envelope(assignment(2, bob, job(2))))
    await handled(svc, 2)
    r = await svc.client.post(
        "/v1/apply/sessions",
        json={"is_general_opt_in": True, "contractor": bob.contractor_id, "general_opt_in_work_state": "CA"},
        headers=H,
    )
    assert r.status_code == 200, r.text
    general = r.json()
    expired = (await svc.client.post(f"/v1/apply/sessions/{general['id']}/expire", headers=H)).json()
    assert expired["expired"] is True and expired["status"] == "expired"
    assert (await svc.client.get(f"/v1/opt-in/{token_of(general['url'])}")).json()["state"] == "expired"
    r = await svc.client.put(f"/v1/apply/sessions/{general['id']}", json={"cancel_url": "https://a.test/"}, headers=H)
    assert r.json()["error_code"] == "session_expired"
    assert (await svc.client.post(f"/v1/apply/sessions/{general['id']}/expire", headers=H)).status_code == 200
    for bad, code in [
        ({"quote": "qt_nope"}, "invalid_quote_id"),
        ({"is_general_opt_in": True, "general_opt_in_work_state": "CA"}, "missing_contractor_id"),
        ({"is_general_opt_in": True, "contractor": bob.contractor_id, "general_opt_in_work_state": "XX"}, "invalid_input"),
        ({}, "invalid_input"),
    ]:
        r = await svc.client.post("/v1/apply/sessions", json=bad, headers=H)
        assert (r.status_code, r.json()["error_code"]) == (400, code), r.text


async def test_rates_endpoint(svc: RunningService) -> None:
    body = (await svc.client.get("/v1/rates")).json()
    assert body["unit"] == "cents per $100 of pay" and body["monopolistic_wc_states"] == ["ND", "OH", "WA", "WY"]
    base = {(b["category_code"], b["coverage_type"]): b["base_rate"] for b in body["base_rates"]}
    for row in body["data"]:  # the documented formula reproduces every resolved rate
        factor = body["state_factors"][row["coverage_type"]].get(row["state"], 100)
        assert row["net_rate"] == (base[(row["category_code"], row["coverage_type"])] * factor + 50) // 100
    one = (await svc.client.get("/v1/rates", params={"category_code": "jc_tutor", "state": "ca"})).json()["data"]
    assert {(r["state"], r["coverage_type"]) for r in one} == {("CA", "general"), ("CA", "workers-comp")}
    assert (await svc.client.get("/v1/rates", params={"category_code": "jc_nope"})).status_code == 400


async def test_two_submits_at_once_make_one_application(svc: RunningService) -> None:
    await publish(svc, envelope(assignment(1, contractor(1), job(1))))
    await handled(svc, 1)
    token = await link_of(svc, contractor(1).contractor_id)
    results = await asyncio.gather(*(svc.client.post(f"/v1/opt-in/{token}", json=good_form()) for _ in range(4)))
    states = sorted(r.json()["state"] for r in results)
    assert all(r.status_code == 200 for r in results) and states == ["answered", "answered", "answered", "completed"]
    assert len({r.json()["session_id"] for r in results}) == 1
    assert len(await emitted(svc, ApplicationCompletedV1.SUBJECT)) == 1


async def test_companies_never_see_each_other_even_with_the_same_ids(svc: RunningService) -> None:
    ada = contractor(1)
    same = assignment(1, ada, job(1))
    await publish(svc, company(), company(OTHER_TENANT, "Other Co"), envelope(same), envelope(same, tenant=OTHER_TENANT))
    await handled(svc, 2)
    issued = await emitted(svc, InvitationIssuedV1.SUBJECT)
    assert sorted(e.tenant_id for e in issued) == sorted([TENANT, OTHER_TENANT])
    mine, theirs = await link_of(svc, ada.contractor_id, H), await link_of(svc, ada.contractor_id, H2)
    assert mine != theirs
    assert (await svc.client.get(f"/v1/opt-in/{theirs}")).json()["company_name"] == "Other Co"
    result = (await svc.client.post(f"/v1/opt-in/{mine}", json=good_form())).json()
    assert result["state"] == "completed"
    # the other company's invitation, sessions and quotes are untouched
    assert (await svc.client.get(f"/v1/opt-in/{theirs}")).json()["state"] == "open"
    assert (await svc.client.get("/v1/apply/sessions", headers=H2)).json()["data"] == []
    assert (await svc.client.get("/v1/quotes", headers=H2)).json()["data"] == []
    assert (await svc.client.get(f"/v1/apply/sessions/{result['session_id']}", headers=H2)).status_code == 404
    assert [s["id"] for s in (await svc.client.get("/v1/apply/sessions", headers=H)).json()["data"]] == [result["session_id"]]
    # a repeat assignment in the other company is not "repeat coverage": it was never opted into there
    second = assignment(2, ada, job(1), start=TODAY + timedelta(days=20))
    await publish(svc, envelope(second, tenant=OTHER_TENANT), envelope(second))
    await handled(svc, 4)
    enrolled = await emitted(svc, AssignmentEnrolledV1.SUBJECT)
    assert [e.tenant_id for e in enrolled] == [TENANT]


async def test_the_openapi_documents_every_response_body_and_the_error_shape(svc: RunningService) -> None:
    schema = (await svc.ops.get("/schema/openapi.json")).json()
    assert (
        len(assert_documented(schema)) == 22
    )  # 15 + the portal's links, sessions, current session, its end, details, coverage answer and decline

    def properties(path: str, method: str) -> set[str]:
        ok = schema["paths"][path][method]["responses"]
        body = next(r for status, r in ok.items() if status.startswith("2"))
        return set(component(schema, body["content"]["application/json"]["schema"])["properties"])

    assert {"object", "url", "has_more", "data"} <= properties("/v1/quotes", "get")
    assert {"id", "object", "quote_json", "net_rate", "created"} <= properties("/v1/quotes/{quote_id}", "get")
    assert {"invitation_id", "opt_in_url", "assignment_ids"} <= properties("/v1/invitations/current", "get")
    assert {"state", "prefill", "questions", "consent_text"} <= properties("/v1/opt-in/{token}", "get")
    assert {"state", "declined_at", "decline_reason", "can_change"} <= properties("/v1/opt-in/{token}/decline", "post")
