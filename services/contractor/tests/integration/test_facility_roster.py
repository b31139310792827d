"""The facility view's roster (``GET /v1/entities/<id>/facility``): the entity's live assignments
running today or starting within the window, names and dates only, and only the company's own."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from contractor_testkit import NOW, OTHER_TENANT, make_assignment, make_contractor, make_entity, make_job
from ten99_testing.service import RunningService

pytestmark = pytest.mark.integration


async def roster(svc: RunningService, entity_id: str, **params: Any) -> dict[str, Any]:
    r = await svc.client.get(f"/v1/entities/{entity_id}/facility", params=params)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_lists_the_entitys_current_and_soon_assignments_and_nothing_private(svc: RunningService) -> None:
    venue, elsewhere = await make_entity(svc, "Madison Square Garden"), await make_entity(svc, "Elsewhere Inc")
    job = await make_job(svc, venue["id"], name="Stagehand")
    other_job = await make_job(svc, elsewhere["id"], name="Usher")
    ada = await make_contractor(svc, "ada@example.com", tax_identification="123-45-6789")
    bob = await make_contractor(svc, "bob@example.com", first_name="Bob", last_name="Builder")
    ending = await make_assignment(svc, ada["id"], job["id"], effective_date="2026-11-03", end_date="2026-11-04")
    soon = await make_assignment(svc, bob["id"], job["id"], effective_date="2026-11-10", end_date="2026-12-09")
    far = await make_assignment(svc, ada["id"], job["id"], effective_date="2026-11-25", end_date="2026-12-09")
    await make_assignment(svc, bob["id"], other_job["id"], effective_date="2026-11-10", end_date="2026-12-09")
    cancelled = await make_assignment(svc, ada["id"], job["id"], effective_date="2026-11-12", end_date="2026-11-20")
    assert (await svc.client.post(f"/v1/assignments/{cancelled['id']}/cancel", json={})).status_code == 200

    svc.clock.set(NOW + timedelta(days=2))  # 2026-11-04: the first one's last day
    found = await roster(svc, venue["id"])
    assert found["entity_name"] == "Madison Square Garden"
    assert (found["first_day"], found["last_day"], found["truncated"]) == ("2026-11-04", "2026-11-18", False)
    assert [(a["assignment_id"], a["contractor_name"], a["job_name"]) for a in found["assignments"]] == [
        (ending["id"], "Ada Lovelace", "Stagehand"),
        (soon["id"], "Bob Builder", "Stagehand"),
    ]
    assert set(found["assignments"][0]) == {
        "assignment_id", "contractor_name", "job_name", "effective_date", "end_date", "own_insurance",
    }  # fmt: skip
    assert not any(a["own_insurance"] for a in found["assignments"])
    text = str(found)
    for private in ("ada@example.com", "6789", "Mission", "94110", "+1415", "250000", "wage"):
        assert private not in text, private

    svc.clock.set(NOW + timedelta(days=3))  # the first one ended yesterday
    assert [a["assignment_id"] for a in (await roster(svc, venue["id"]))["assignments"]] == [soon["id"]]
    # a narrower window: nothing starts by tomorrow
    assert (await roster(svc, venue["id"], within_days=1))["assignments"] == []
    wider = await roster(svc, venue["id"], within_days=60)
    assert [a["assignment_id"] for a in wider["assignments"]] == [soon["id"], far["id"]]


async def test_another_companys_entity_and_a_bad_window_are_refused(svc: RunningService) -> None:
    venue = await make_entity(svc, "Madison Square Garden")
    r = await svc.client.get(f"/v1/entities/{venue['id']}/facility", headers={"x-tenant-id": OTHER_TENANT})
    assert r.status_code == 404 and r.json()["error_code"] == "invalid_entity_id"
    for bad in ("61", "-1", "x"):
        r = await svc.client.get(f"/v1/entities/{venue['id']}/facility", params={"within_days": bad})
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["error_code"] and r.json()["message"]
    r = await svc.client.get("/v1/entities/en_nothing/facility")
    assert r.status_code == 404 and r.json()["error_code"] == "invalid_entity_id"
