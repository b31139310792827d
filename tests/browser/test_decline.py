"""A contractor declines coverage on their opt-in page, in headless Chromium against every service
as a real process: the company sees "Declined" (and why) on the Contractors page and the profile;
the contractor opens the same link again, sees when they declined, opts in after all, and the
Contractors page follows."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect
from ten99_testing import wait_until

from tests.e2e.flow import Row, csv_bytes

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]


async def reload_until(page: Page, locator: str, timeout_s: float = 60) -> None:
    """Server-rendered pages show news on reload: reload until ``locator`` is there."""

    async def shown() -> int:
        if found := await page.locator(locator).count():
            return found
        await page.reload()
        return await page.locator(locator).count()

    await wait_until(shown, timeout=timeout_s, interval=0.5, what=f"{locator} on {page.url}")


async def _log_in_and_import(page: Page, company: Any, csv_path: Path) -> None:
    await page.goto("/login")
    await page.get_by_test_id("login-email").fill(company.email)
    await page.get_by_test_id("login-password").fill(company.password)
    await page.get_by_test_id("login-submit").click()
    await expect(page).to_have_url(re.compile(r"/contractors"))
    await page.goto("/imports")
    await page.get_by_test_id("import-file").set_input_files(str(csv_path))
    await page.get_by_test_id("import-submit").click()
    await expect(page.get_by_test_id("import-progress")).to_have_attribute("data-finished", "true", timeout=60_000)
    await expect(page.get_by_test_id("rows-imported")).to_have_text("1")


async def _opt_in(contractor_page: Page) -> None:
    for q in await contractor_page.get_by_test_id("question").all():
        key = await q.get_attribute("data-question")
        answer = "no" if key in ("claims_last_3_years", "coverage_declined_last_3_years") else "yes"
        await contractor_page.get_by_test_id(f"q_{key}-{answer}").check()
    await contractor_page.get_by_test_id("opt-in-consent").check()
    await contractor_page.get_by_test_id("opt-in-signed_name").fill("Grace Hopper")
    await contractor_page.get_by_test_id("opt-in-submit").click()
    await expect(contractor_page.get_by_test_id("opt-in-state")).to_have_attribute("data-state", "done")


async def test_a_contractor_declines_then_changes_their_mind(running: Any, browser: Browser, tmp_path: Path) -> None:
    base, company = running.system.gateway_url, running.company
    start = datetime.now(UTC).date() + timedelta(days=5)
    row = Row("Nike", "Grace", "Hopper", "grace@example.com", "CA", "Content creator", "CA", "$1,200.00", "flatfee", start, start + timedelta(days=20))  # fmt: skip
    csv_path = tmp_path / "contractors.csv"
    csv_path.write_bytes(csv_bytes([row]))

    context = await browser.new_context(base_url=base)
    page = await context.new_page()
    contractor_page = await context.new_page()
    try:
        await _log_in_and_import(page, company, csv_path)
        await page.goto("/contractors")
        await page.get_by_test_id("contractor-link").filter(has_text="Grace").click()
        await reload_until(page, '[data-testid="opt-in-url"]')
        url = await page.get_by_test_id("opt-in-url").input_value()
        profile = page.url

        # the contractor declines: a reason is needed first (the form again, nothing recorded)
        await contractor_page.goto(url)
        await contractor_page.get_by_test_id("decline-submit").click()
        await expect(contractor_page.get_by_test_id("error-reason")).to_be_visible()
        await contractor_page.get_by_test_id("decline-reason-has_own_insurance").check()
        await contractor_page.get_by_test_id("decline-note").fill("Covered by my own business policy.")
        await contractor_page.get_by_test_id("decline-submit").click()
        await expect(contractor_page.get_by_test_id("opt-in-state")).to_have_attribute("data-state", "declined")
        await expect(contractor_page.get_by_test_id("declined-on")).to_contain_text("You declined on")
        await expect(contractor_page.get_by_test_id("declined-on")).to_contain_text("I have my own insurance")

        # the company sees "Declined" on the Contractors page and, with the reason, on the profile
        await page.goto("/contractors")
        await reload_until(page, '[data-testid="status"][data-status="declined"]')
        await expect(page.get_by_test_id("status").first).to_have_text("Declined")
        await expect(page.get_by_test_id("decline-reason").first).to_have_text("Has own insurance")
        await page.goto(profile)
        await expect(page.get_by_test_id("invitation-status")).to_have_text("Declined")
        await expect(page.get_by_test_id("invitation-declined")).to_contain_text("Has own insurance")
        await expect(page.get_by_test_id("decline-note")).to_contain_text("Covered by my own business policy.")

        # the same link, later: when they declined, and the button to opt in after all
        await contractor_page.goto(url)
        await expect(contractor_page.get_by_test_id("declined-on")).to_contain_text("You declined on")
        await contractor_page.get_by_test_id("opt-in-after-all").click()
        await expect(contractor_page.get_by_test_id("reconsidering")).to_be_visible()
        await expect(contractor_page.get_by_test_id("opt-in-first_name")).to_have_value("Grace")
        await expect(contractor_page.get_by_test_id("decline-form")).to_have_count(0)
        await _opt_in(contractor_page)

        # the Contractors page follows: opted in (or covered, once the policy is bound)
        await page.goto("/contractors")
        await reload_until(page, '[data-testid="status"][data-status="opted_in"], [data-testid="status"][data-status="covered"]')
        await expect(page.locator('[data-testid="status"][data-status="declined"]')).to_have_count(0)
        await contractor_page.goto(url)
        await expect(contractor_page.get_by_test_id("opt-in-state")).to_have_attribute("data-state", "answered")
    finally:
        await page.screenshot(path=str(tmp_path / "last.png"), full_page=True)
        await context.close()
