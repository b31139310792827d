"""The contractor portal, in headless Chromium against every service as a real process (issue 15):
a contractor with an assignment opts in through their invitation, then asks the portal for a
sign-in link with their email, opens it from the email, sees the assignment with its coverage and
downloads the certificate, corrects their details (the company's profile of them shows the
correction); the same link used a second time is refused. Another contractor declines coverage from
the portal instead, and the company's Contractors page says Declined."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect
from ten99_testing import CaughtMail, wait_until

from tests.e2e.flow import Row, body_text, csv_bytes, opt_in_link

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

#: addresses no other test uses: the portal finds a contractor by email in every company of the
#: system the browser tier shares, and its sign-in mail is no company's
EMAIL = f"katherine.{uuid.uuid4().hex[:8]}@example.com"
NOBODY = f"nobody.{uuid.uuid4().hex[:8]}@example.com"
DECLINER = f"dorothy.{uuid.uuid4().hex[:8]}@example.com"
#: the tenant enrollment sends portal sign-in links under (enrollment.application.portal.PORTAL_TENANT)
PORTAL_TENANT = "portal"


def _template(name: str, email: str = EMAIL) -> Any:
    return lambda m: m.get("X-Ten99-Template") == name and email in str(m.get("To", "")).lower()


async def _import(page: Page, company: Any, csv_path: Path) -> None:
    await page.goto("/login")
    await page.get_by_test_id("login-email").fill(company.email)
    await page.get_by_test_id("login-password").fill(company.password)
    await page.get_by_test_id("login-submit").click()
    await expect(page).to_have_url(re.compile(r"/contractors"))
    await page.goto("/imports")
    await page.get_by_test_id("import-file").set_input_files(str(csv_path))
    await page.get_by_test_id("import-submit").click()
    await expect(page.get_by_test_id("import-progress")).to_have_attribute("data-finished", "true", timeout=60_000)


async def _opt_in(page: Page, url: str) -> None:
    await page.goto(url)
    for q in await page.get_by_test_id("question").all():
        key = await q.get_attribute("data-question")
        answer = "no" if key in ("claims_last_3_years", "coverage_declined_last_3_years") else "yes"
        await page.get_by_test_id(f"q_{key}-{answer}").check()
    await page.get_by_test_id("opt-in-consent").check()
    await page.get_by_test_id("opt-in-signed_name").fill("Katherine Johnson")
    await page.get_by_test_id("opt-in-submit").click()
    await expect(page.get_by_test_id("opt-in-state")).to_have_attribute("data-state", "done")


async def test_a_contractor_signs_in_to_the_portal_by_email_and_sees_their_coverage(
    running: Any, browser: Browser, tmp_path: Path
) -> None:
    base, company, smtp = running.system.gateway_url, running.company, running.smtp
    start = datetime.now(UTC).date() + timedelta(days=5)
    row = Row("Nike", "Katherine", "Johnson", EMAIL, "CA", "Content creator", "CA", "$1,200.00", "flatfee", start, start + timedelta(days=20))  # fmt: skip
    csv_path = tmp_path / "contractors.csv"
    csv_path.write_bytes(csv_bytes([row]))

    dashboard = await browser.new_context(base_url=base)
    contractor = await browser.new_context(base_url=base, accept_downloads=True)  # no dashboard login here
    page, portal = await dashboard.new_page(), await contractor.new_page()
    try:
        await _import(page, company, csv_path)
        [invitation] = await smtp.wait_for_async(1, timeout=60, predicate=_template("invitation"))
        await _opt_in(portal, opt_in_link(invitation))
        await smtp.wait_for_async(1, timeout=90, predicate=_template("certificate"))

        # an unknown address gets the same answer, and no email
        await portal.goto("/portal")
        await portal.get_by_test_id("portal-email").fill(NOBODY)
        await portal.get_by_test_id("portal-send").click()
        unknown_answer = await portal.get_by_test_id("portal-message").inner_text()

        await portal.goto("/portal")
        await portal.get_by_test_id("portal-email").fill(EMAIL.upper())
        await portal.get_by_test_id("portal-send").click()
        await expect(portal.get_by_test_id("portal-message")).to_contain_text("If we know this address, we sent a sign-in link")
        assert await portal.get_by_test_id("portal-message").inner_text() == unknown_answer
        # the sign-in email is no company's (tenant "portal"): the company's caught mail never has it
        with CaughtMail(running.system.database_urls["notification"], PORTAL_TENANT) as portal_mail:
            [link_email] = await portal_mail.wait_for_async(1, timeout=60, predicate=_template("portal_link"))
            assert not [m for m in portal_mail.messages if NOBODY in str(m.get("To", ""))]
        found = re.search(r"https?://[^\s\"'<>]+/portal/sign-in/[A-Za-z0-9_\-]+", body_text(link_email))
        assert found, body_text(link_email)
        link = found.group(0)
        assert not [m for m in smtp.messages if _template("portal_link")(m)]

        # opening the link shows a button; the button signs in
        await portal.goto(link)
        await portal.get_by_test_id("portal-sign-in-button").click()
        await expect(portal).to_have_url(re.compile(r"/portal/home$"))
        await expect(portal.get_by_test_id("portal-signed-in-as")).to_have_text(EMAIL)
        await expect(portal.get_by_test_id("portal-company")).to_contain_text("Acme Talent")
        assignment = portal.get_by_test_id("portal-assignment")
        await expect(assignment).to_have_count(1)
        await expect(assignment).to_contain_text("Content creator")
        await expect(assignment).to_contain_text(start.isoformat())

        async def covered() -> int:
            await portal.reload()
            return await portal.locator('[data-testid="portal-coverage-status"][data-status="scheduled"]').count()

        await wait_until(covered, timeout=60, interval=0.5, what="the coverage shown as scheduled")
        await expect(portal.get_by_test_id("portal-coverage-dates")).to_contain_text(start.isoformat())
        async with portal.expect_download() as download_info:
            await portal.get_by_test_id("portal-certificate").first.click()
        pdf = Path(await (await download_info.value).path()).read_bytes()
        assert pdf.startswith(b"%PDF")

        # the contractor corrects their details: a bad state is refused, then the company's
        # profile of them shows the correction
        form = portal.get_by_test_id("portal-details-form")
        await expect(form.get_by_test_id("portal-details-last_name")).to_have_value("Johnson")
        await form.get_by_test_id("portal-details-address_region").fill("ZZ")
        await form.get_by_test_id("portal-details-save").click()
        await expect(portal.get_by_test_id("portal-details-error-address_region")).to_contain_text("U.S. state")
        await form.get_by_test_id("portal-details-address_region").fill("CA")
        await form.get_by_test_id("portal-details-last_name").fill("Goble")
        await form.get_by_test_id("portal-details-phone").fill("+1 757 555 0142")
        await form.get_by_test_id("portal-details-save").click()
        await expect(portal.get_by_test_id("portal-details-notice")).to_contain_text("now has your corrected details")
        await page.goto("/contractors")
        await page.get_by_test_id("contractor-link").filter(has_text="Katherine").first.click()
        await expect(page.get_by_test_id("contractor-name")).to_contain_text("Katherine")

        async def corrected() -> bool:
            await page.reload()
            return "Goble" in await page.get_by_test_id("contractor-name").inner_text()

        await wait_until(corrected, timeout=60, interval=0.5, what="the company's profile showing the correction")
        await expect(page.locator("body")).to_contain_text("+1 757 555 0142")

        # the dashboard stays closed to the portal's cookie
        await portal.goto("/contractors")
        await expect(portal).to_have_url(re.compile(r"/login"))

        # the same link a second time: refused
        other = await (second := await browser.new_context(base_url=base)).new_page()
        await other.goto(link)
        await other.get_by_test_id("portal-sign-in-button").click()
        await expect(other.get_by_test_id("portal-message")).to_contain_text("can no longer be used")
        await other.goto("/portal/home")
        await expect(other).to_have_url(re.compile(r"/portal$"))
        await second.close()
    finally:
        await portal.screenshot(path=str(tmp_path / "portal.png"), full_page=True)
        await dashboard.close()
        await contractor.close()


async def _sign_in(running: Any, portal: Page, email: str) -> None:
    """Ask the portal for a link for ``email``, then use the link the email carries."""
    await portal.goto("/portal")
    await portal.get_by_test_id("portal-email").fill(email)
    await portal.get_by_test_id("portal-send").click()
    await expect(portal.get_by_test_id("portal-message")).to_contain_text("If we know this address")
    with CaughtMail(running.system.database_urls["notification"], PORTAL_TENANT) as portal_mail:
        [link_email] = await portal_mail.wait_for_async(1, timeout=60, predicate=_template("portal_link", email))
    found = re.search(r"https?://[^\s\"'<>]+/portal/sign-in/[A-Za-z0-9_\-]+", body_text(link_email))
    assert found, body_text(link_email)
    await portal.goto(found.group(0))
    await portal.get_by_test_id("portal-sign-in-button").click()
    await expect(portal).to_have_url(re.compile(r"/portal/home$"))


async def test_a_contractor_declines_coverage_from_the_portal_and_the_company_sees_declined(
    running: Any, browser: Browser, tmp_path: Path
) -> None:
    base, company, smtp = running.system.gateway_url, running.company, running.smtp
    start = datetime.now(UTC).date() + timedelta(days=6)
    row = Row("Nike", "Dorothy", "Vaughan", DECLINER, "CA", "Content creator", "CA", "$900.00", "flatfee", start, start + timedelta(days=10))  # fmt: skip
    csv_path = tmp_path / "decliner.csv"
    csv_path.write_bytes(csv_bytes([row]))

    dashboard = await browser.new_context(base_url=base)
    contractor = await browser.new_context(base_url=base)
    page, portal = await dashboard.new_page(), await contractor.new_page()
    try:
        await _import(page, company, csv_path)
        await smtp.wait_for_async(1, timeout=60, predicate=_template("invitation", DECLINER))
        await _sign_in(running, portal, DECLINER)

        # a reason is needed first (the form again, nothing recorded), then the decline
        form = portal.get_by_test_id("portal-decline-form")
        await expect(form).to_have_count(1)
        await expect(form.get_by_test_id("portal-opt-in")).to_have_attribute("href", re.compile(r"/opt-in/"))
        await form.get_by_test_id("portal-decline-note").fill("Covered through my union.")
        await form.get_by_test_id("portal-decline-submit").click()
        await expect(portal.get_by_test_id("portal-decline-error-reason")).to_be_visible()
        await expect(portal.get_by_test_id("portal-declined")).to_have_count(0)
        await portal.get_by_test_id("portal-decline-reason").select_option("does_not_want")
        await portal.get_by_test_id("portal-decline-note").fill("Covered through my union.")
        await portal.get_by_test_id("portal-decline-submit").click()
        await expect(portal.get_by_test_id("portal-decline-notice")).to_contain_text("no reminders follow")
        await expect(portal.get_by_test_id("portal-declined")).to_contain_text("I do not want this coverage")
        await expect(portal.get_by_test_id("portal-declined-note")).to_contain_text("Covered through my union.")
        await expect(portal.get_by_test_id("portal-decline-form")).to_have_count(0)

        # the company's Contractors page says Declined
        await page.goto(f"/contractors?q={DECLINER}")

        async def declined() -> int:
            await page.reload()
            return await page.locator('[data-testid="status"][data-status="declined"]').count()

        await wait_until(declined, timeout=60, interval=0.5, what="the Contractors page showing Declined")
        await expect(page.get_by_test_id("status").first).to_have_text("Declined")

        # changing their mind: the portal links to the opt-in form, reopened
        await portal.get_by_test_id("portal-opt-in-after-all").click()
        await expect(portal.get_by_test_id("reconsidering")).to_be_visible()
    finally:
        await portal.screenshot(path=str(tmp_path / "portal-decline.png"), full_page=True)
        await dashboard.close()
        await contractor.close()
