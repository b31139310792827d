"""A contractor corrects their details from the portal (issue 15): only under an open portal
session, only at a company that has them under the session's email, only valid details (a 4xx
changes nothing); a correction is recorded and ContractorDetailsCorrectedV1 emitted once, under
that company; the same details again change nothing."""

from __future__ import annotations

from typing import Any

import pytest
from enrollment.adapters.db import portal_corrections
from enrollment_support import (
    OTHER_TENANT,
    TENANT,
    apply,
    assignment,
    contractor,
    emitted,
    envelope,
    job,
    portal_session,
    two_portal_companies,
)
from sqlalchemy import func, select
from ten99_contracts.enrollment_v1 import ContractorDetailsCorrectedV1
from ten99_testing.service import RunningService

pytestmark = pytest.mark.integration

CORRECTED = ContractorDetailsCorrectedV1.SUBJECT
MOVED = {"line1": "9 New Rd", "line2": "Apt 2", "locality": "Austin", "region": "tx", "postalcode": "78701"}


async def _corrections(svc: RunningService) -> int:
    async with svc.db.session() as s:
        return int((await s.execute(select(func.count()).select_from(portal_corrections))).scalar_one())


def _path(tenant: str) -> str:
    return f"/v1/portal/companies/{tenant}/details"


async def test_a_correction_needs_a_session_and_a_company_that_has_the_contractor(svc: RunningService) -> None:
    await two_portal_companies(svc)
    body = {"last_name": "King"}
    missing = await svc.client.post(_path(TENANT), json=body)
    assert missing.status_code == 400 and "error_code" in missing.json()
    forged = await svc.client.post(_path(TENANT), json=body, headers={"x-portal-session": "y" * 43})
    assert forged.status_code == 401 and forged.json()["error_code"] == "portal_session_invalid"
    ada = await portal_session(svc, "c1@example.com")
    for tenant in (OTHER_TENANT, "portal", "co_Nobody00000000000000009"):
        refused = await svc.client.post(_path(tenant), json=body, headers=ada)
        assert refused.status_code == 404, refused.text
        assert refused.json() == {"error_code": "resource_not_found", "message": "You have no details at this company."}
    ended = await svc.client.post("/v1/portal/sessions/current/end", headers=ada)
    assert ended.status_code == 200
    assert (await svc.client.post(_path(TENANT), json=body, headers=ada)).status_code == 401
    assert await _corrections(svc) == 0
    assert await emitted(svc, CORRECTED) == []


async def test_bad_details_are_refused_field_by_field_and_change_nothing(svc: RunningService) -> None:
    await two_portal_companies(svc)
    ada = await portal_session(svc, "c1@example.com")
    bad: dict[str, Any] = {
        "first_name": "  ",
        "last_name": "x" * 101,
        "phone": "call me",
        "address": {"line1": "", "locality": "Austin", "region": "ZZ", "postalcode": "7870"},
    }
    r = await svc.client.post(_path(TENANT), json=bad, headers=ada)
    assert r.status_code == 400, r.text
    assert r.json()["error_code"] == "invalid_input"
    assert set(r.json()["message"]) == {
        "first_name",
        "last_name",
        "phone",
        "address.line1",
        "address.region",
        "address.postalcode",
    }
    not_json = await svc.client.post(_path(TENANT), content=b"{", headers={**ada, "content-type": "application/json"})
    assert not_json.status_code == 400 and "error_code" in not_json.json()
    assert await _corrections(svc) == 0
    assert await emitted(svc, CORRECTED) == []


async def test_a_correction_is_recorded_and_sent_to_its_company_once(svc: RunningService) -> None:
    await two_portal_companies(svc)
    # Ada works for Beta too: her correction at Acme is Acme's only
    await apply(svc.db, envelope(assignment(3, contractor(1), job(3)), tenant=OTHER_TENANT))
    ada = await portal_session(svc, "c1@example.com")
    body = {"first_name": " Ada ", "last_name": "King", "phone": "+1 512 555 0100", "address": MOVED}
    r = await svc.client.post(_path(TENANT), json=body, headers=ada)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["changed"] is True and answer["correction_id"].startswith("dc_")
    assert (answer["first_name"], answer["last_name"], answer["phone"]) == ("Ada", "King", "+1 512 555 0100")
    assert answer["address"] == {**MOVED, "region": "TX", "country": "US"}

    # the same details again (a double click, a reload): nothing more
    again = await svc.client.post(_path(TENANT), json=body, headers=ada)
    assert again.status_code == 200 and again.json()["changed"] is False
    [sent] = await emitted(svc, CORRECTED)
    assert sent.tenant_id == TENANT and sent.aggregate_id == contractor(1).contractor_id
    assert sent.data.correction_id == answer["correction_id"]
    assert (sent.data.first_name, sent.data.last_name, sent.data.address.region) == ("Ada", "King", "TX")
    assert await _corrections(svc) == 1

    # a further change is a second correction
    r = await svc.client.post(_path(TENANT), json={**body, "phone": None}, headers=ada)
    assert r.status_code == 200 and r.json()["changed"] is True
    assert [e.data.last_name for e in await emitted(svc, CORRECTED)] == ["King", "King"]
