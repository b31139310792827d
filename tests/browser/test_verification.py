"""Live certificates in headless Chromium against every service as a real process: the company
downloads a contractor's certificate from the profile page, the QR code on it is decoded (as a
phone would read it), and the verification page it points to opens without a login and shows the
insured, the holder, the coverage, the dates and the live status, and none of the contractor's
other details. After an extension the old certificate's page says it was superseded and links to
the new one."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from playwright.async_api import Browser, Page, expect
from pypdf import PdfReader
from ten99_testing import wait_until

from tests.browser.support import log_in
from tests.e2e.flow import seed_covered_assignment

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]


def qr_urls(pdf: bytes) -> list[str]:
    """The QR codes drawn on the certificate's page, decoded."""
    [page] = PdfReader(io.BytesIO(pdf)).pages
    return [code.text for image in page.images for code in zxingcpp.read_barcodes(image.image)]


async def newest_certificate(page: Page, profile: str, tmp_path: Path, *, other_than: str | None = None) -> tuple[bytes, str]:
    """Download the profile's certificate (reloading until one other than ``other_than`` shows)."""

    async def href() -> str | None:
        await page.goto(profile)
        link = page.get_by_test_id("certificate-download").first
        if not await link.count():
            return None
        value = await link.get_attribute("href")
        return value if value and value != other_than else None

    await wait_until(href, timeout=60, interval=0.5, what="a new certificate on the profile")
    link = page.get_by_test_id("certificate-download").first
    current = str(await link.get_attribute("href"))
    async with page.expect_download() as download_info:
        await link.click()
    download = await download_info.value
    target = tmp_path / f"{len(list(tmp_path.iterdir()))}.pdf"
    await download.save_as(target)
    return target.read_bytes(), current


async def expect_verified(page: Page, url: str, status: str, start: date, end: date) -> str:
    """Open the verification page; check its status and fields; return the page's text."""
    response = await page.goto(url)
    assert response is not None and response.status == 200
    assert "/login" not in page.url  # public: no login, no redirect
    await expect(page.get_by_test_id("verify-status")).to_have_attribute("data-status", status)
    await expect(page.get_by_test_id("verify-insured")).to_have_text("Ada Lovelace")
    await expect(page.get_by_test_id("verify-holder")).to_have_text("Nike")
    await expect(page.get_by_test_id("verify-coverages")).to_contain_text("General Liability")
    await expect(page.get_by_test_id("verify-effective")).to_have_text(start.isoformat())
    await expect(page.get_by_test_id("verify-end")).to_have_text(end.isoformat())
    return await page.locator("main").inner_text()


async def test_the_qr_code_on_a_downloaded_certificate_opens_its_live_verification_page(
    running: Any, browser: Browser, tmp_path: Path
) -> None:
    system, company = running.system, running.company
    seeded = seed_covered_assignment(system, running.smtp, company, domain="verify.test", po_number="PO-VRF-1")
    assignment = seeded.assignment
    contractor_id = assignment["contractor"]
    with system.client("contractor", tenant_id=company.company_id) as contractor:
        ada = contractor.get(f"/v1/contractors/{contractor_id}").json()
    start = datetime.now(UTC).date() + timedelta(days=3)
    end = start + timedelta(days=9)

    company_side = await browser.new_context(accept_downloads=True, base_url=system.gateway_url)
    anyone = await browser.new_context(base_url=system.gateway_url)  # a stranger's browser: no session
    try:
        page = await log_in(company_side, company)
        profile = f"/contractors/{contractor_id}"
        pdf, first_href = await newest_certificate(page, profile, tmp_path)

        # the QR code decodes to the URL printed beside it, on this gateway
        [url] = qr_urls(pdf)
        assert re.fullmatch(re.escape(system.gateway_url) + r"/verify/vrf_[A-Za-z0-9_-]{27}", url), url
        assert url in PdfReader(io.BytesIO(pdf)).pages[0].extract_text()

        visitor = await anyone.new_page()
        text = await expect_verified(visitor, url, "scheduled", start, end)
        await expect(visitor.get_by_test_id("verify-status")).to_have_text("Scheduled")
        # nothing else about Ada: no address, email, phone, tax id, pay or premium
        address = ada.get("address") or {}
        hidden = [ada["email"], address.get("line1"), address.get("postalcode"), ada.get("phone"), "$", "1,200", "1200"]
        for value in filter(None, hidden):
            assert str(value) not in text, value
        await expect(visitor.get_by_test_id("verify-newer")).to_have_count(0)

        # an id one character off: the same "not found" page as any unknown one
        wrong = url[:-1] + ("A" if not url.endswith("A") else "B")
        response = await visitor.goto(wrong)
        assert response is not None and response.status == 404
        await expect(visitor.get_by_test_id("verify-problem")).to_have_attribute("data-state", "not_found")

        # the company extends the assignment: a new certificate; the old one's page says superseded
        with system.client("contractor", tenant_id=company.company_id) as contractor:
            extended = contractor.post(
                f"/v1/assignments/{assignment['id']}/extend", json={"end_date": (end + timedelta(days=10)).isoformat()}
            )
            assert extended.status_code == 200, extended.text
        newer_pdf, _ = await newest_certificate(page, profile, tmp_path, other_than=first_href)
        [newer_url] = qr_urls(newer_pdf)
        assert newer_url != url

        await expect_verified(visitor, url, "superseded", start, end)
        await visitor.get_by_test_id("verify-newer").click()
        await expect(visitor).to_have_url(newer_url)
        await expect_verified(visitor, newer_url, "scheduled", start, end + timedelta(days=10))
    finally:
        await company_side.close()
        await anyone.close()
