"""The facility view in headless Chromium against every service as a real process: the company
opens Facilities, makes a read-only link for its end client, and a stranger's browser (no login)
sees who works there now and soon with the coverage status and a working certificate verification
link, and nothing else about them; a contractor at another end client is not listed. Once the
company revokes the link, the same URL is a "not found" page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from tests.browser.support import log_in
from tests.e2e.flow import seed_covered_assignment

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]


def somebody_elsewhere(running: Any) -> None:
    """Bob works for the same company at another end client, starting tomorrow: not Nike's business."""
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    address = {"line1": "1 Stadium Way", "locality": "Los Angeles", "region": "CA", "postalcode": "90012"}
    with running.client("contractor") as contractor:

        def made(path: str, body: dict[str, Any]) -> str:
            r = contractor.post(path, json=body)
            assert r.status_code == 200, (path, r.text)
            return str(r.json()["id"])

        entity = made("/v1/entities", {"name": "Adidas"})
        bob = made("/v1/contractors", {"first_name": "Bob", "last_name": "Elsewhere", "email": "bob@facility.test",
                                       "phone": "+14155550199", "address": address})  # fmt: skip
        job = made("/v1/jobs", {"entity": entity, "category_code": "jc_photographer", "name": "Usher", "description": "Doors",
                                "wage": 10_000, "wage_type": "flatfee", "work_state": "CA"})  # fmt: skip
        body = {"contractor": bob, "job": job, "effective_date": tomorrow.isoformat(),
                "end_date": (tomorrow + timedelta(days=3)).isoformat()}  # fmt: skip
        r = contractor.post("/v1/assignments", json=body)
        assert r.status_code == 200, r.text


async def test_a_facility_link_shows_who_works_there_with_coverage_and_stops_when_revoked(running: Any, browser: Browser) -> None:
    system, company = running.system, running.company
    seeded = seed_covered_assignment(system, running.smtp, company, domain="facility.test", po_number="PO-FAC-1")
    somebody_elsewhere(running)
    with running.client("contractor") as contractor:
        ada = contractor.get(f"/v1/contractors/{seeded.assignment['contractor']}").json()
    start = datetime.now(UTC).date() + timedelta(days=3)

    company_side = await browser.new_context(base_url=system.gateway_url)
    anyone = await browser.new_context(base_url=system.gateway_url)  # a stranger's browser: no session
    try:
        page = await log_in(company_side, company)
        await page.get_by_test_id("nav-facilities").click()
        nike = page.get_by_test_id("facility-entity").filter(has_text="Nike")
        await nike.get_by_test_id("facility-entity-link").click()
        await expect(page.get_by_test_id("facility-entity-name")).to_have_text("Nike")
        await page.get_by_test_id("facility-link-create").click()
        url = await page.get_by_test_id("new-facility-link").input_value()
        token = re.fullmatch(r"https?://[^/]+/facility/(fac_[A-Za-z0-9_-]{43})", url)
        assert token, url
        await expect(page.get_by_test_id("facility-link-status")).to_have_attribute("data-status", "active")

        visitor = await anyone.new_page()
        response = await visitor.goto(f"/facility/{token.group(1)}")
        assert response is not None and response.status == 200
        assert "/login" not in visitor.url
        assert response.headers["cache-control"] == "no-store" and response.headers["x-robots-tag"] == "noindex"
        await expect(visitor.get_by_test_id("facility-title")).to_have_text("Contractors at Nike")
        await expect(visitor.get_by_test_id("facility-row")).to_have_count(1)
        await expect(visitor.get_by_test_id("facility-contractor")).to_have_text("Ada Lovelace")
        status = visitor.get_by_test_id("facility-status")
        await expect(status).to_have_attribute("data-status", "scheduled")
        await expect(status).to_have_text(f"Covered from {start.isoformat()}")
        text = await visitor.locator("main").inner_text()
        address = ada.get("address") or {}
        hidden = [ada["email"], address.get("line1"), address.get("postalcode"), ada.get("phone"), "Bob", "$", "1,200", "1200"]
        for value in filter(None, hidden):
            assert str(value) not in text, value

        # the certificate's own live page, from the link
        await visitor.get_by_test_id("facility-verify").click()
        await expect(visitor).to_have_url(re.compile(r"/verify/vrf_[A-Za-z0-9_-]{27}$"))
        await expect(visitor.get_by_test_id("verify-status")).to_have_attribute("data-status", "scheduled")
        await expect(visitor.get_by_test_id("verify-insured")).to_have_text("Ada Lovelace")

        # revoked: the same URL shows nothing
        await page.get_by_test_id("revoke-facility-link").click()
        await expect(page.get_by_test_id("facility-link-status")).to_have_attribute("data-status", "revoked")
        response = await visitor.goto(f"/facility/{token.group(1)}")
        assert response is not None and response.status == 404
        await expect(visitor.get_by_test_id("facility-problem")).to_have_attribute("data-state", "not_found")
        assert "Ada" not in await visitor.locator("main").inner_text()
    finally:
        await company_side.close()
        await anyone.close()
