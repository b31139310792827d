"""One PO set on a thousand assignments in one action lands on one invoice, within seconds.

Runs with the production settle window (1 s) and poll interval (0.5 s). The measured time,
from the first ``PoNumberSetV1`` published to ``InvoiceIssuedV1`` in the billing stream, is
printed (``pytest -s``) for the record; the target is 5 s.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from billing_testkit import Driver, make_driver, pdf_text, wait_until
from ten99_contracts.billing_v1 import InvoiceIssuedV1

pytestmark = pytest.mark.integration

CO = "co_bulk"
N = 1000


async def test_one_po_set_on_a_thousand_assignments_is_one_invoice_within_five_seconds(
    database_url: str, jetstream_url: str
) -> None:
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

    async def planned() -> bool:
        return await driver.flagged() == 0

    await wait_until(planned, 20)
    assert await driver.invoices(CO) == []

    po_messages = [driver.envelope(driver.po_set(a, "PO-CAMPAIGN"), CO, aggregate_id=a, version=2) for a in ids]
    started = time.perf_counter()
    await driver.send(*po_messages)

    async def issued() -> bool:
        info = await driver.js.stream_info("TEN99_BILLING")
        return bool(info.state.messages)

    await wait_until(issued, 20)
    elapsed = time.perf_counter() - started
    print(f"\n{N} assignments, one PO: InvoiceIssuedV1 in the stream {elapsed:.2f} s after the first PoNumberSetV1")

    await driver.wait_applied()
    await asyncio.sleep(0.2)
    [invoice] = await driver.invoices(CO)
    detail = await driver.invoice(CO, invoice["id"])
    assert detail["line_count"] == N and len(detail["lines"]) == N
    assert {line["assignment"] for line in detail["lines"]} == set(ids)
    assert detail["total"] == N * 1_625
    [message] = await driver.published(InvoiceIssuedV1.SUBJECT)
    assert len(message.data.lines) == N and message.data.total_cents == N * 1_625
    text = pdf_text(message.data.pdf)
    assert "an_bulk00000" in text and "an_bulk00999" in text and "$16,250.00" in text
    assert elapsed < 5.0, f"invoice issued {elapsed:.2f} s after the PO action (target 5 s)"
