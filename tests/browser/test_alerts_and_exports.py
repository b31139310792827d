"""Coverage-gap alerts and CSV exports (issue 15, items 4 and 5), in headless Chromium against
every service as a real process, with the development mail catcher on:

- the Contractors page's banner counts the assignments starting within 3 UTC days whose
  contractor has not opted in, and its link lists them (and not the one starting in 5 days);
- the daily job emails the company once (the Mailbox shows it; a second run sends nothing);
- the Contractors page's export buttons download the contractors and the assignments with
  coverage as CSV, a formula-looking cell neutralised; the Invoices page's button downloads a CSV."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.test_rough_edges import finished, reload_until, upload
from tests.conftest import Running
from tests.e2e.flow import Row, csv_bytes, idle

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]


async def download(page: Page, testid: str) -> tuple[str, list[dict[str, str]]]:
    async with page.expect_download() as info:
        await page.get_by_test_id(testid).click()
    got = await info.value
    body = Path(await got.path()).read_bytes().decode("utf-8-sig")
    return got.suggested_filename, list(csv.DictReader(io.StringIO(body)))


async def test_banner_filter_alert_email_and_exports(running: Running, browser: Browser, tmp_path: Path) -> None:
    system, company = running.system, running.company
    today = datetime.now(UTC).date()
    soon = Row("Nike", "Ada", "Lovelace", "ada@example.com", "CA", "Content creator", "CA", "$2,500.00", "flatfee", today + timedelta(days=2), today + timedelta(days=20), campaign="=HYPERLINK(\"http://evil\")")  # fmt: skip
    later = Row("Nike", "Walt", "Whitman", "walt@example.com", "NY", "Photographer", "NY", "$900.00", "flatfee", today + timedelta(days=5), today + timedelta(days=9))  # fmt: skip
    path = tmp_path / "people.csv"
    path.write_bytes(csv_bytes([soon, later]))

    context = await browser.new_context(accept_downloads=True, base_url=system.gateway_url)
    page = await context.new_page()
    context.set_default_timeout(30_000)
    try:
        await page.goto("/login")
        await page.get_by_test_id("login-email").fill(company.email)
        await page.get_by_test_id("login-password").fill(company.password)
        await page.get_by_test_id("login-submit").click()
        await expect(page).to_have_url(re.compile(r"/contractors"))
        await expect(page.get_by_test_id("coverage-gap-banner")).to_have_count(0)

        await upload(page, path)
        await finished(page)

        await page.goto("/contractors")
        await reload_until(page, '[data-testid="coverage-gap-banner"]')
        banner = page.get_by_test_id("coverage-gap-banner")
        await expect(banner).to_contain_text("1 assignment starts within 3 days without coverage")
        await page.get_by_test_id("coverage-gap-link").click()
        await expect(page).to_have_url(re.compile(r"/contractors\?gaps=1"))
        await expect(page.get_by_test_id("coverage-gap-row")).to_have_count(1)
        await expect(page.get_by_test_id("coverage-gap-row")).to_contain_text("Ada Lovelace")
        await expect(page.get_by_test_id("roster-gaps-filter")).to_be_checked()

        # the daily alert: one email to the company, however often the job runs today (the
        # service's own timer may have sent it before these ticks; the ticks act for every company
        # of the shared system, so count this company's mail, once nothing more is on its way)
        for _ in range(2):
            await asyncio.to_thread(system.tick, "contractor")

        def alert(m: EmailMessage) -> bool:
            return m.get("X-Ten99-Template") == "coverage_gap"

        await running.smtp.wait_for_async(1, timeout=60, predicate=alert)
        await asyncio.to_thread(idle, running)
        alerts = [str(m["To"]) for m in running.smtp.messages if alert(m)]
        assert len(alerts) == 1 and company.email in alerts[0].lower(), alerts
        subject = "1 assignment starts within 3 days without coverage"
        await page.goto("/mailbox")
        await reload_until(page, f'[data-testid="mail-subject"]:has-text("{subject}")')
        await expect(page.get_by_test_id("mail-row").filter(has_text=subject)).to_have_count(1)
        await expect(page.get_by_test_id("mail-row").filter(has_text=subject)).to_contain_text(company.email)

        await page.goto("/contractors")
        name, people = await download(page, "export-contractors")
        assert name == "contractors.csv"
        assert sorted(p["Email"] for p in people) == ["ada@example.com", "walt@example.com"]
        name, lines = await download(page, "export-assignments")
        assert name == "assignments.csv" and len(lines) == 2
        ada = next(r for r in lines if r["Contractor Email"] == "ada@example.com")
        assert ada["Campaign"] == '\'=HYPERLINK("http://evil")'  # shown, never run
        assert ada["Start Date"] == (today + timedelta(days=2)).isoformat() and ada["Coverage Status"] == "not_bound"

        await page.goto("/invoices")
        name, invoices = await download(page, "export-invoices")
        assert name == "invoices.csv" and invoices == []
    finally:
        await page.screenshot(path=str(tmp_path / "last.png"), full_page=True)
        await context.close()
