"""The dashboard in headless Chromium (Debian's, driven by Playwright), against every service as a
real process: log in, upload a CSV and watch the import finish, open a profile and see the opt-in
URL, opt in through that link, download the certificate from the profile, set a PO on the missing-PO
page and see the invoice."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect
from pypdf import PdfReader
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


async def test_a_company_runs_the_workflow_in_the_dashboard(running: Any, browser: Browser, tmp_path: Path) -> None:
    base, company = running.system.gateway_url, running.company
    today = datetime.now(UTC).date()
    start = today + timedelta(days=4)
    rows = [
        Row("Nike", "Ada", "Lovelace", "ada@example.com", "CA", "Content creator", "CA", "$2,500.00", "flatfee", start, start + timedelta(days=20), campaign="Spring"),
        Row("Nike", "Alan", "Turing", "alan@example.com", "NY", "Photographer", "NY", "$900.00", "flatfee", start, start + timedelta(days=5), campaign="Spring"),
    ]  # fmt: skip
    csv_path = tmp_path / "contractors.csv"
    csv_path.write_bytes(csv_bytes(rows))

    context = await browser.new_context(accept_downloads=True, base_url=base)
    page = await context.new_page()
    try:
        # log in
        await page.goto("/login")
        await page.get_by_test_id("login-email").fill(company.email)
        await page.get_by_test_id("login-password").fill(company.password)
        await page.get_by_test_id("login-submit").click()
        await expect(page).to_have_url(re.compile(r"/contractors"))

        # upload the CSV and watch the import finish without reloading
        await page.goto("/imports")
        await page.get_by_test_id("import-file").set_input_files(str(csv_path))
        await page.get_by_test_id("import-submit").click()
        await expect(page.get_by_test_id("import-progress")).to_have_attribute("data-finished", "true", timeout=60_000)
        await expect(page.get_by_test_id("rows-imported")).to_have_text("2")
        await expect(page.get_by_test_id("rows-failed")).to_have_text("0")

        # the Contractors page: both listed, two assignments missing a PO
        await page.goto("/contractors")
        await expect(page.get_by_test_id("roster-row")).to_have_count(2)
        await expect(page.get_by_test_id("missing-po-count")).to_have_text("2")

        # the profile shows the opt-in URL
        await page.get_by_test_id("contractor-link").filter(has_text="Ada").click()
        await expect(page.get_by_test_id("contractor-name")).to_contain_text("Ada Lovelace")
        await reload_until(page, '[data-testid="opt-in-url"]')
        url = await page.get_by_test_id("opt-in-url").input_value()
        assert "/opt-in/" in url
        profile = page.url

        # the contractor opts in through that link
        contractor_page = await context.new_page()
        await contractor_page.goto(url)
        await expect(contractor_page.get_by_test_id("opt-in-first_name")).to_have_value("Ada")
        for q in await contractor_page.get_by_test_id("question").all():
            key = await q.get_attribute("data-question")
            answer = "no" if key in ("claims_last_3_years", "coverage_declined_last_3_years") else "yes"
            await contractor_page.get_by_test_id(f"q_{key}-{answer}").check()
        await contractor_page.get_by_test_id("opt-in-consent").check()
        await contractor_page.get_by_test_id("opt-in-signed_name").fill("Ada Lovelace")
        await contractor_page.get_by_test_id("opt-in-submit").click()
        await expect(contractor_page.get_by_test_id("opt-in-state")).to_have_attribute("data-state", "done")

        # back on the profile: coverage bound, the certificate downloads and names her and the dates
        await page.goto(profile)
        await reload_until(page, '[data-testid="certificate-download"]')
        await expect(page.get_by_test_id("coverage-status").first).to_have_attribute("data-status", "scheduled")
        async with page.expect_download() as download_info:
            await page.get_by_test_id("certificate-download").first.click()
        download = await download_info.value
        pdf = Path(await download.path()).read_bytes()
        text = "\n".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf)).pages)
        assert pdf.startswith(b"%PDF") and "Ada Lovelace" in text and start.isoformat() in text

        # set one PO on every assignment missing one; the count falls to zero
        await page.goto("/po/missing")
        await expect(page.get_by_test_id("po-row")).to_have_count(2)
        await page.get_by_test_id("po-select-all").check()
        await page.get_by_test_id("po-number").fill("PO-2026-SPRING")
        await page.get_by_test_id("po-contact-email").fill("ap@nike.test")
        await page.get_by_test_id("po-submit").click()
        await expect(page.get_by_test_id("missing-po-count")).to_have_text("0")

        # the invoice for the covered assignment
        await page.goto("/invoices")
        await reload_until(page, '[data-testid="invoice-row"]')
        await expect(page.get_by_test_id("invoice-po").first).to_contain_text("PO-2026-SPRING")
        await page.get_by_test_id("invoice-link").first.click()
        await expect(page.get_by_test_id("invoice-line")).to_have_count(1)
        await expect(page.get_by_test_id("invoice-line").first).to_contain_text("Ada Lovelace")
    finally:
        await page.screenshot(path=str(tmp_path / "last.png"), full_page=True)
        await context.close()
