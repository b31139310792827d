"""A contractor declines coverage from the portal (issue 15): only under an open portal session,
only at a company that has them under the session's email, only with a known reason and a bounded
note (a 4xx changes nothing); the open invitation is declined as on the opt-in page
(ApplicationDeclinedV1 once, declining again changes nothing), and the portal shows the decline
with the opt-in page to change their mind until the assignment has ended."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from enrollment_support import (
    H2,
    NOW,
    OTHER_TENANT,
    TENANT,
    H,
    apply,
    assignment,
    contractor,
    emitted,
    envelope,
    good_form,
    job,
    portal_session,
    row_counts,
    token_of,
    two_portal_companies,
)
from ten99_contracts.enrollment_v1 import ApplicationDeclinedV1
from ten99_testing.service import RunningService

pytestmark = pytest.mark.integration

DECLINED = ApplicationDeclinedV1.SUBJECT
BODY = {"reason": "has_own_insurance", "note": " I am insured through my union. "}


def _decline(tenant: str) -> str:
    return f"/v1/portal/companies/{tenant}/decline"


def _answer(tenant: str) -> str:
    return f"/v1/portal/companies/{tenant}/coverage-answer"


async def _status(svc: RunningService, n: int, headers: dict[str, str]) -> str:
    r = await svc.client.get("/v1/invitations/current", params={"contractor": contractor(n).contractor_id}, headers=headers)
    assert r.status_code == 200, r.text
    return str(r.json()["status"])


async def test_a_decline_needs_a_session_and_can_never_reach_another_company_or_person(svc: RunningService) -> None:
    await two_portal_companies(svc)
    missing = await svc.client.post(_decline(TENANT), json=BODY)
    assert missing.status_code == 400 and "error_code" in missing.json()
    forged = await svc.client.post(_decline(TENANT), json=BODY, headers={"x-portal-session": "y" * 43})
    assert forged.status_code == 401 and forged.json()["error_code"] == "portal_session_invalid"
    assert (await svc.client.get(_answer(TENANT), headers={"x-portal-session": "y" * 43})).status_code == 401
    ada = await portal_session(svc, "c1@example.com")
    counts = await row_counts(svc.db)
    # Grace's invitation at Beta: not Ada's to decline, whatever the path says
    for tenant in (OTHER_TENANT, "portal", "co_Nobody00000000000000009"):
        refused = await svc.client.post(_decline(tenant), json=BODY, headers=ada)
        assert refused.status_code == 404, refused.text
        assert refused.json() == {"error_code": "resource_not_found", "message": "You have no details at this company."}
        assert (await svc.client.get(_answer(tenant), headers=ada)).status_code == 404
    assert await _status(svc, 2, H2) == "pending"
    assert (await svc.client.post("/v1/portal/sessions/current/end", headers=ada)).status_code == 200
    assert (await svc.client.post(_decline(TENANT), json=BODY, headers=ada)).status_code == 401
    assert await _status(svc, 1, H) == "pending"
    assert await row_counts(svc.db) == counts
    assert await emitted(svc, DECLINED) == []


async def test_a_bad_reason_or_a_long_note_is_refused_and_changes_nothing(svc: RunningService) -> None:
    await two_portal_companies(svc)
    ada = await portal_session(svc, "c1@example.com")
    counts = await row_counts(svc.db)
    for body, field in (({"reason": "nope"}, "reason"), ({"reason": "other", "note": "x" * 501}, "note"), ({}, "reason")):
        r = await svc.client.post(_decline(TENANT), json=body, headers=ada)
        assert r.status_code == 400, r.text
        assert r.json()["error_code"] == "invalid_input" and field in r.json()["message"]
    not_json = await svc.client.post(_decline(TENANT), content=b"{", headers={**ada, "content-type": "application/json"})
    assert not_json.status_code == 400 and "error_code" in not_json.json()
    assert await row_counts(svc.db) == counts
    assert await emitted(svc, DECLINED) == []
    answer = (await svc.client.get(_answer(TENANT), headers=ada)).json()
    assert (answer["status"], answer["can_decline"], answer["declined_at"]) == ("pending", True, None)
    assert answer["opt_in_url"].startswith("http://gw.test/opt-in/")


async def test_a_portal_decline_is_the_opt_in_pages_once_and_can_change_until_the_assignment_ends(
    svc: RunningService,
) -> None:
    await two_portal_companies(svc)
    # Ada works for Beta too: declining at Acme leaves her Beta invitation open
    await apply(svc.db, envelope(assignment(3, contractor(1), job(3)), tenant=OTHER_TENANT))
    ada = await portal_session(svc, "c1@example.com")
    link = (await svc.client.get(_answer(TENANT), headers=ada)).json()["opt_in_url"]

    first = await svc.client.post(_decline(TENANT), json=BODY, headers=ada)
    assert first.status_code == 200, first.text
    answer = first.json()
    assert (answer["status"], answer["changed"], answer["can_decline"], answer["can_change"]) == ("declined", True, False, True)
    assert (answer["decline_reason"], answer["decline_note"]) == ("has_own_insurance", "I am insured through my union.")
    assert answer["opt_in_url"] == link and answer["changeable_until"] == (NOW.date() + timedelta(days=33)).isoformat()
    counts = await row_counts(svc.db)
    again = await svc.client.post(_decline(TENANT), json={"reason": "other"}, headers=ada)
    assert again.status_code == 200 and again.json()["changed"] is False
    assert (again.json()["declined_at"], again.json()["decline_reason"]) == (answer["declined_at"], "has_own_insurance")
    assert await row_counts(svc.db) == counts
    [declined] = await emitted(svc, DECLINED)
    assert (declined.tenant_id, declined.data.contractor_id, declined.data.reason) == (
        TENANT,
        contractor(1).contractor_id,
        "has_own_insurance",
    )
    assert declined.data.assignment_ids == [assignment(1, contractor(1), job(1)).assignment_id]
    assert declined.actor == f"contractor:{contractor(1).contractor_id}"
    assert await _status(svc, 1, H) == "declined"
    assert await _status(svc, 1, H2) == "pending"
    # the opt-in page shows the same decline
    page = (await svc.client.get(f"/v1/opt-in/{token_of(link)}")).json()
    assert page["state"] == "declined"
    assert datetime.fromisoformat(page["declined_at"]) == datetime.fromisoformat(answer["declined_at"]) == NOW

    # after the assignment's end the decline stands, and the portal no longer offers the link
    svc.clock.freeze(NOW + timedelta(days=34))
    ended = await svc.client.post(_decline(TENANT), json=BODY, headers=await portal_session(svc, "c1@example.com"))
    assert ended.status_code == 409 and ended.json()["error_code"] == "assignment_ended"
    assert await emitted(svc, DECLINED) == [declined]


async def test_nothing_to_decline_once_the_contractor_opted_in(svc: RunningService) -> None:
    await two_portal_companies(svc)
    ada = await portal_session(svc, "c1@example.com")
    link = (await svc.client.get(_answer(TENANT), headers=ada)).json()["opt_in_url"]
    assert (await svc.client.post(f"/v1/opt-in/{token_of(link)}", json=good_form())).json()["state"] == "completed"
    answer = (await svc.client.get(_answer(TENANT), headers=ada)).json()
    assert (answer["status"], answer["can_decline"], answer["opt_in_url"]) == ("answered", False, None)
    counts = await row_counts(svc.db)
    r = await svc.client.post(_decline(TENANT), json=BODY, headers=ada)
    assert r.status_code == 409 and r.json()["error_code"] == "nothing_to_decline", r.text
    assert await row_counts(svc.db) == counts
    assert await emitted(svc, DECLINED) == []
