"""One PO set on a thousand assignments in one action lands on one invoice.

Runs with the production settle window (1 s) and poll interval (0.5 s). How long it takes is
measured by the benchmark (`bench/`, ``optin_po``: "every invoice line issued", target 5 s), not here.
"""

from __future__ import annotations

import pytest
from billing_testkit import Driver, make_driver, pdf_text
from ten99_contracts.billing_v1 import InvoiceIssuedV1
from ten99_testing import wait_until

pytestmark = pytest.mark.integration

CO = "co_bulk"
N = 1000


async def test_one_po_set_on_a_thousand_assignments_is_one_invoice(database_url: str, jetstream_url: str) -> None:
    async with make_driver(database_url, jetstream_url, settle_s=1.0, poll_interval_s=0.5) as driver:
        await run(driver)


async def run(driver: Driver) -> None:
    await driver.company(CO)
    ids = [f"an_bulk{i:05d}" for i in range(N)]
    await driver.send(
        *[driver.envelope(driver.assignment_created(a), CO, aggregate_id=a, version=1) for a in ids],
        *[driver.envelope(driver.bound(a), CO, aggregate_id="cv_" + a[3:]) for a in ids],
    )
    await driver.wait_applied(timeout=60)
    await wait_until(driver.flagged, satisfies=lambda n: n == 0, timeout=60, what="every assignment planned")
    assert await driver.invoices(CO) == []

    await driver.send(*[driver.envelope(driver.po_set(a, "PO-CAMPAIGN"), CO, aggregate_id=a, version=2) for a in ids])
    await driver.wait_applied(timeout=60)
    # the issuer has planned every line: nothing is left for a second invoice
    await wait_until(driver.flagged, satisfies=lambda n: n == 0, timeout=60, what="every line invoiced")
    await driver.wait_applied()
    [invoice] = await driver.invoices(CO)
    detail = await driver.invoice(CO, invoice["id"])
    assert detail["line_count"] == N and len(detail["lines"]) == N
    assert {line["assignment"] for line in detail["lines"]} == set(ids)
    assert detail["total"] == N * 1_625
    [message] = await driver.published(InvoiceIssuedV1.SUBJECT)
    assert len(message.data.lines) == N and message.data.total_cents == N * 1_625
    text = pdf_text(message.data.pdf)
    assert "an_bulk00000" in text and "an_bulk00999" in text and "$16,250.00" in text
