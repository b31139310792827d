"""The dashboard's rough edges a new user met (issue 15), in headless Chromium against every service
as a real process, with the development mail catcher on (so the Mailbox shows the caught mail):

- the upload notice is gone once the import says Completed; a re-upload says unchanged, not imported;
- implausible pay (an hourly "4500") waits for the user, who drops it on the import's page;
- an email imported in capitals is shown in its one form; dates in the assignments table stay on one
  line; a WA assignment lists only the coverage the opt-in form offers (no workers' comp);
- after opt-in, the profile offers no "Resend invitation";
- the Mailbox's Attachments column names the certificate's PDF."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from ten99_testing import wait_until
from ten99_testing.system import System

from tests.conftest import Company
from tests.e2e.flow import Row, csv_bytes

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]


async def reload_until(page: Page, locator: str, timeout_s: float = 180) -> None:
    """Server-rendered pages show news on reload: reload until ``locator`` is there (news crosses
    services by message, which a busy shared machine slows)."""

    async def shown() -> int:
        if found := await page.locator(locator).count():
            return found
        await page.reload()
        return await page.locator(locator).count()

    await wait_until(shown, timeout=timeout_s, interval=0.5, what=f"{locator} on {page.url}")


async def upload(page: Page, path: Path) -> None:
    await page.goto("/imports")
    await page.get_by_test_id("import-file").set_input_files(str(path))
    await page.get_by_test_id("import-submit").click()
    await expect(page).to_have_url(re.compile(r"/imports/ib_"))


async def finished(page: Page) -> None:
    await expect(page.get_by_test_id("import-progress")).to_have_attribute("data-finished", "true", timeout=60_000)


async def opt_in(page: Page, url: str, name: str) -> None:
    await page.goto(url)
    for q in await page.get_by_test_id("question").all():
        key = await q.get_attribute("data-question")
        answer = "no" if key in ("claims_last_3_years", "coverage_declined_last_3_years") else "yes"
        await page.get_by_test_id(f"q_{key}-{answer}").check()
    await page.get_by_test_id("opt-in-consent").check()
    await page.get_by_test_id("opt-in-signed_name").fill(name)
    await page.get_by_test_id("opt-in-submit").click()
    await expect(page.get_by_test_id("opt-in-state")).to_have_attribute("data-state", "done")


async def lines_of(page: Page, selector: str) -> list[int]:
    """How many lines each element matching ``selector`` is laid out on (an inline box broken
    across lines has one client rectangle per line)."""
    return await page.locator(selector).evaluate_all("els => els.map(e => e.getClientRects().length)")


async def test_the_rough_edges_are_gone(with_mailbox: tuple[System, Company], browser: Browser, tmp_path: Path) -> None:
    system, company = with_mailbox
    start = datetime.now(UTC).date() + timedelta(days=4)
    ada = Row("Nike", "Ada", "Lovelace", "ADA.LOVELACE@EXAMPLE.COM", "CA", "Content creator", "CA", "$2,500.00", "flatfee", start, start + timedelta(days=20))  # fmt: skip
    walt = Row("Nike", "Walt", "Whitman", "walt@example.com", "WA", "Photographer", "WA", "$900.00", "flatfee", start, start + timedelta(days=5))  # fmt: skip
    first = tmp_path / "contractors.csv"
    first.write_bytes(csv_bytes([ada, walt]))
    cents = tmp_path / "cents.csv"
    hourly = Row("Nike", "Grace", "Hopper", "grace@example.com", "NY", "Videographer", "NY", "4500", "hourly", start, start + timedelta(days=3))  # fmt: skip
    cents.write_bytes(csv_bytes([hourly, Row("Nike", "Alan", "Turing", "alan@example.com", "NY", "Photographer", "NY", "$45.00", "hourly", start, start + timedelta(days=3))]))  # fmt: skip

    # a laptop-narrow window, where a date could break at its hyphens
    context = await browser.new_context(
        accept_downloads=True, base_url=system.gateway_url, viewport={"width": 900, "height": 900}
    )
    page = await context.new_page()
    context.set_default_timeout(30_000)
    try:
        await page.goto("/login")
        await page.get_by_test_id("login-email").fill(company.email)
        await page.get_by_test_id("login-password").fill(company.password)
        await page.get_by_test_id("login-submit").click()
        await expect(page).to_have_url(re.compile(r"/contractors"))

        # the import: once Completed, the upload notice is gone; a re-upload is all unchanged
        await upload(page, first)
        await finished(page)
        await expect(page.get_by_test_id("import-status")).to_have_attribute("data-status", "completed")
        await expect(page.get_by_text("Upload received: importing now.")).to_have_count(0)
        await expect(page.get_by_test_id("rows-imported")).to_have_text("2")
        await upload(page, first)
        await finished(page)
        await expect(page.get_by_test_id("rows-imported")).to_have_text("0")
        await expect(page.get_by_test_id("rows-unchanged")).to_have_text("2")

        # implausible pay waits for the user, who drops it: the rest is imported
        await upload(page, cents)
        await expect(page.get_by_test_id("import-status")).to_have_attribute("data-status", "needs_confirmation", timeout=60_000)
        await expect(page.get_by_test_id("import-warning")).to_have_count(1)
        await expect(page.get_by_test_id("import-warning")).to_contain_text("$4,500.00")
        await page.get_by_test_id("confirm-drop").click()
        await finished(page)
        await expect(page.get_by_test_id("rows-imported")).to_have_text("1")
        await expect(page.get_by_test_id("rows-dropped")).to_have_text("1")

        # Walt works in WA: his profile lists no workers' comp, which the form would not offer
        await page.goto("/contractors")
        await page.get_by_test_id("contractor-link").filter(has_text="Walt").click()
        await expect(page.get_by_test_id("assignment-row")).to_have_count(1)
        await expect(page.get_by_test_id("assignment-row")).not_to_contain_text("workers-comp")
        await expect(page.get_by_test_id("assignment-row")).to_contain_text("general")

        # Ada: her email in its one form, her dates each on one line
        await page.goto("/contractors")
        await page.get_by_test_id("contractor-link").filter(has_text="Ada").click()
        await expect(page.get_by_test_id("contractor-email")).to_have_text("ada.lovelace@example.com")
        assert await lines_of(page, '[data-testid="assignment-row"] .date') == [1, 1]
        await reload_until(page, '[data-testid="opt-in-url"]')
        url = await page.get_by_test_id("opt-in-url").input_value()
        profile = page.url

        # after opt-in: "Answered", and no active "Resend invitation" beside it
        await opt_in(await context.new_page(), url, "Ada Lovelace")
        await page.goto(profile)
        await reload_until(page, '[data-testid="invitation-status"][data-status="answered"]')
        await expect(page.get_by_test_id("resend-invitation")).to_have_count(0)
        await reload_until(page, '[data-testid="certificate-download"]')
        assert await lines_of(page, '[data-testid="assignment-row"] .date') == [1, 1, 1, 1]

        # the Mailbox names the certificate's PDF in the Attachments column
        await page.goto("/mailbox")
        await reload_until(page, '[data-testid="mail-attachment"]')
        row = page.get_by_test_id("mail-row").filter(has=page.get_by_test_id("mail-attachment"))
        await expect(row.first.get_by_test_id("mail-attachment").first).to_have_text(re.compile(r"\.pdf$"))
        async with page.expect_download() as download_info:
            await row.first.get_by_test_id("mail-attachment").first.click()
        pdf = Path(await (await download_info.value).path()).read_bytes()
        assert pdf.startswith(b"%PDF")
    finally:
        await page.screenshot(path=str(tmp_path / "last.png"), full_page=True)
        await context.close()
