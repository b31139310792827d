"""A contractor's own insurance and the audit ledger in headless Chromium, against every service as
a real process (docs/uploaded-certificates.md, docs/audit-ledger.md): the company's integration adds
a contractor and their work with its API key; in the dashboard the company uploads the contractor's
certificate of insurance from their profile, sees it flagged with the check that failed (the
certificate holder), approves it, and the roster shows the contractor as covered by their own
insurance. The contractor's timeline on the profile and the Audit log page then say who did each
of these things, and what the decision changed."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, expect
from ten99_testing import wait_until_sync

from tests.browser.support import log_in
from tests.browser.test_dashboard import reload_until
from tests.documents import own_certificate_pdf
from tests.e2e.flow import idle

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

#: how the dashboard names the API key `create-company` made (web/audit.py)
API_KEY_NAME = "API key “created by create-company”"


def work_through_the_api(running: Any, start: date) -> tuple[str, str]:
    """Nike, a job there, Ada and her assignment, created with the company's API key: (contractor, assignment)."""
    begin = int(datetime.combine(start, datetime.min.time(), UTC).timestamp())
    headers = {"Authorization": f"Bearer {running.company.api_key}"}
    with httpx.Client(base_url=f"{running.system.gateway_url}/api/v1", headers=headers, timeout=60) as api:

        def made(path: str, body: dict[str, Any]) -> str:
            r = api.post(path, json=body)
            assert r.status_code == 200, (path, r.text)
            return str(r.json()["id"])

        entity = made("/entities", {"name": "Nike"})
        job = made("/jobs", {"name": "Photographer", "description": "Shoots the spring campaign", "entity": entity,
                             "category_code": "jc_photographer", "wage": 120_000, "wage_type": "flatfee"})  # fmt: skip
        address = {"line1": "1 Main St", "locality": "Oakland", "region": "CA", "postalcode": "94607"}
        ada = made("/contractors", {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@compliance.test",
                                    "address": address})  # fmt: skip
        assignment = made("/assignments", {"contractor": ada, "job": job, "effective_date": begin, "end_date": begin + 9 * 86400})
    return ada, assignment


def ledger_has(running: Any, contractor: str, action: str, count: int) -> list[dict[str, Any]]:
    """Wait until the ledger has ``count`` entries ``kind.action`` about the contractor (it is built from the bus)."""

    def entries() -> list[dict[str, Any]]:
        with running.client("notification") as notification:
            r = notification.get("/v1/ledger", params={"contractor": contractor, "limit": 100})
        assert r.status_code == 200, r.text
        return [e for e in r.json()["data"] if f"{e['entity_kind']}.{e['action']}" == action]

    return wait_until_sync(
        entries, satisfies=lambda found: len(found) >= count, timeout=60, what=f"{count} {action} in the ledger"
    )


async def test_a_company_reviews_a_contractors_own_certificate_and_reads_who_did_what(running: Any, browser: Browser) -> None:
    company, today = running.company, datetime.now(UTC).date()
    ada, assignment = work_through_the_api(running, today + timedelta(days=3))
    idle(running)  # policy knows the assignment (it travels on the bus): an upload is reviewed against it
    context = await browser.new_context(base_url=running.system.gateway_url)
    try:
        page = await log_in(context, company)

        # upload from the profile, for the assignment: the holder is not the end client, so a person decides
        await page.goto(f"/contractors/{ada}")
        card = page.get_by_test_id("own-insurance")
        await card.locator('input[name="certificate"]').set_input_files(
            {"name": "ada-coi.pdf", "mimeType": "application/pdf",
             "buffer": own_certificate_pdf("Ada Lovelace", "Reebok")}
        )  # fmt: skip
        await card.locator('select[name="assignment"]').select_option(assignment)
        await page.get_by_test_id("own-insurance-upload").click()
        await expect(page).to_have_url(re.compile(rf"/contractors/{ada}/certificates$"))
        await expect(page.get_by_test_id("flash-notice")).to_contain_text("flagged")
        row = page.get_by_test_id("upload-row")
        await expect(row).to_have_count(1)
        await expect(row.get_by_test_id("upload-status")).to_have_attribute("data-status", "flagged")
        failures = row.get_by_test_id("upload-failures").locator("li")
        await expect(failures).to_have_count(1)
        await expect(failures).to_have_attribute("data-rule", "certificate_holder")
        await expect(row.get_by_test_id("upload-download")).to_have_text("ada-coi.pdf")

        # the company approves it: the contractor's own insurance covers the assignment
        await row.get_by_test_id("upload-approve").click()
        await expect(page.get_by_test_id("flash-notice")).to_contain_text("Approved")
        await expect(row.get_by_test_id("upload-status")).to_have_attribute("data-status", "approved")
        await expect(row).to_contain_text(f"by {company.email}")
        await expect(row.get_by_test_id("upload-approve")).to_have_count(0)
        await page.goto("/contractors")
        await reload_until(page, f'[data-contractor-id="{ada}"] [data-status="own_insurance"]')

        # the profile's timeline: the review and the decision by the user, Ada and her work by the API key
        ledger_has(running, ada, "uploaded_certificate.reviewed", 2)
        await page.goto(f"/contractors/{ada}")
        timeline = page.get_by_test_id("contractor-timeline")
        reviews = timeline.locator('[data-testid="audit-entry"][data-action="uploaded_certificate.reviewed"]')
        await expect(reviews).to_have_count(2)
        for actor in await reviews.get_by_test_id("audit-actor").all_inner_texts():
            assert actor == company.email
        decision = reviews.first  # newest first
        await decision.locator("summary").click()
        await expect(decision.locator("dd").filter(has_text="approved")).to_contain_text("flagged")
        created = timeline.locator('[data-testid="audit-entry"][data-action="contractor.created"]')
        await expect(created.get_by_test_id("audit-actor")).to_have_text(API_KEY_NAME)
        await expect(timeline.locator('[data-testid="audit-entry"][data-action="assignment.created"]')).to_have_count(1)

        # the Audit log page: the company's uploaded certificates, then what its API key did
        await page.get_by_test_id("nav-audit-log").click()
        await expect(page.locator("h1")).to_have_text("Audit log")
        await page.get_by_test_id("audit-filter-kind").select_option("uploaded_certificate")
        await page.get_by_test_id("audit-filter-apply").click()
        await expect(page).to_have_url(re.compile(r"entity_kind=uploaded_certificate"))
        entries = page.get_by_test_id("audit-entry")
        await expect(entries).to_have_count(2)
        await expect(entries.first.get_by_test_id("audit-what")).to_have_text("Uploaded certificate reviewed")
        await page.get_by_test_id("audit-filter-kind").select_option("")
        await page.get_by_test_id("audit-filter-actor").select_option("api_key")
        await page.get_by_test_id("audit-filter-apply").click()
        await expect(page).to_have_url(re.compile(r"actor=api_key"))
        await expect(entries.first).to_be_visible()
        kinds = {await e.get_attribute("data-action") for e in await entries.all()}
        assert {"contractor.created", "assignment.created"} <= kinds, kinds
        for actor in await entries.get_by_test_id("audit-actor").all_inner_texts():
            assert actor == API_KEY_NAME
    finally:
        await context.close()
