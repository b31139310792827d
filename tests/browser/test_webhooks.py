"""The dashboard's Webhooks page in headless Chromium (Debian's, driven by Playwright), against
every service as a real process: add an endpoint (a real HTTP receiver on a free port) and see its
signing secret once, watch an event's delivery arrive on the endpoint's page (status, latency,
answer), send it again, disable the endpoint and delete it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, expect
from ten99_testing import wait_until
from ten99_testing.receiver import WebhookReceiver

from tests.browser.test_dashboard import reload_until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(path="/ten99", answer=b"thanks from the receiver") as r:
        yield r


async def test_a_company_adds_a_webhook_endpoint_and_sees_its_deliveries(
    running: Any, browser: Browser, receiver: WebhookReceiver
) -> None:
    base, company = running.system.gateway_url, running.company
    context = await browser.new_context(base_url=base)
    page = await context.new_page()
    try:
        await page.goto("/login")
        await page.get_by_test_id("login-email").fill(company.email)
        await page.get_by_test_id("login-password").fill(company.password)
        await page.get_by_test_id("login-submit").click()
        await expect(page).to_have_url(re.compile(r"/contractors"))

        # add an endpoint: the secret is on the answer, once
        await page.get_by_test_id("nav-webhooks").click()
        await expect(page.get_by_test_id("webhooks-empty")).to_be_visible()
        await page.get_by_test_id("webhook-url").fill(receiver.url)
        await page.get_by_test_id("webhook-events").fill("contractor.created")
        await page.get_by_test_id("webhook-create").click()
        secret = page.get_by_test_id("new-webhook-secret")
        await expect(secret).to_have_value(re.compile(r"^whsec_"))
        shown = await secret.input_value()
        row = page.get_by_test_id("webhook-endpoint-row")
        await expect(row).to_have_count(1)
        await expect(row.get_by_test_id("webhook-endpoint-events")).to_have_text("contractor.created")
        await page.goto("/webhooks")  # (a reload would send the form again: another endpoint)
        await expect(page.get_by_test_id("new-webhook-secret")).to_have_count(0)
        assert shown not in await page.content()

        # an event: a contractor created through the public API is delivered to the receiver
        headers = {"Authorization": f"Bearer {company.api_key}"}
        body = {
            "first_name": "Grace",
            "last_name": "Hopper",
            "email": "grace@example.com",
            "address": {"line1": "1 Main St", "locality": "Springfield", "region": "NY", "postalcode": "10001"},
        }
        async with httpx.AsyncClient(base_url=f"{base}/api/v1", headers=headers, timeout=30) as api:
            assert (await api.post("/contractors", json=body)).status_code == 200
        await wait_until(lambda: len(receiver.received) >= 1, timeout=60, what="the webhook delivery")
        assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= set(receiver.received[0][0])

        await page.get_by_test_id("webhook-endpoint-link").click()
        await reload_until(page, '[data-testid="webhook-attempt-row"]')
        attempt = page.get_by_test_id("webhook-attempt-row").first
        await expect(attempt.get_by_test_id("webhook-attempt-event")).to_have_text("contractor.created")
        await expect(attempt.get_by_test_id("webhook-attempt-status")).to_have_text("200")
        await expect(attempt.get_by_test_id("webhook-attempt-excerpt")).to_contain_text("thanks from the receiver")

        # send it again: the receiver gets the same event once more
        await attempt.get_by_test_id("webhook-resend").click()
        await expect(page.get_by_text("The event will be sent again")).to_be_visible()
        await wait_until(lambda: len(receiver.received) >= 2, timeout=60, what="the resent delivery")
        assert json.loads(receiver.received[1][1])["id"] == json.loads(receiver.received[0][1])["id"]

        # disable, then delete
        await page.get_by_test_id("webhook-disable").click()
        await expect(page.get_by_test_id("webhook-endpoint-status")).to_have_attribute("data-status", "disabled")
        await page.get_by_test_id("webhook-delete").click()
        await expect(page).to_have_url(re.compile(r"/webhooks$"))
        await expect(page.get_by_test_id("webhooks-empty")).to_be_visible()
    finally:
        await context.close()
