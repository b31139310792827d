"""What the browser tests share: signing in to the dashboard."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import BrowserContext, Page, expect

__all__ = ["log_in"]


async def log_in(context: BrowserContext, company: Any) -> Page:
    """A new page of ``context`` signed in as ``company``'s owner, on the Contractors page."""
    page = await context.new_page()
    await page.goto("/login")
    await page.get_by_test_id("login-email").fill(company.email)
    await page.get_by_test_id("login-password").fill(company.password)
    await page.get_by_test_id("login-submit").click()
    await expect(page).to_have_url(re.compile(r"/contractors"))
    return page
