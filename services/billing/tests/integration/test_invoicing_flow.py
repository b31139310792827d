"""From other contexts' messages to invoices, against a real PostgreSQL and NATS JetStream."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from billing.adapters.db import assignments
from billing.adapters.pdf import InvoiceDocument
from billing.application.issuing import InvoiceIssuer
from billing.bootstrap import definition
from billing_testkit import END, START, T0, Driver, days, make_driver, pdf_text
from sqlalchemy import select
from ten99_contracts.billing_v1 import InvoiceCreditedV1, InvoiceIssuedV1
from ten99_contracts.contractor_v1 import AssignmentCancelledV1, AssignmentCreatedV1, AssignmentUpdatedV1
from ten99_contracts.policy_v1 import CoverageCancelledV1, CoverageExtendedV1, CoverageRetimedV1
from ten99_testing import wait_until
from ten99_testing.service import running_service
from ten99kit.inbox import InboxConsumer
from ten99kit.migrations import schema_drift, upgrade

pytestmark = pytest.mark.integration

CO = "co_acme"


def epoch(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp())


async def test_migrations_match_the_models(database_url: str) -> None:
    await asyncio.to_thread(upgrade, definition.migrations, database_url)
    assert await schema_drift(database_url, definition.metadata) == []


async def test_bound_coverage_without_a_po_waits_and_is_invoiced_once_the_po_is_set(driver: Driver) -> None:
    await driver.company(CO, owner_email="owner@acme.test")
    await driver.billable(CO, "an_waits", po=None)
    result = await driver.issue_now()
    assert result.invoices == 0
    assert await driver.invoices(CO) == []
    assert await driver.published(InvoiceIssuedV1.SUBJECT) == []

    await driver.publish(driver.po_set("an_waits", "PO-7", contact="ap@nike.test"), CO, aggregate_id="an_waits", version=2)
    [invoice] = await driver.wait_invoices(CO, 1)
    assert invoice["purchase_order_number"] == "PO-7"
    assert invoice["to_email"] == "ap@nike.test"
    assert invoice["cc_emails"] == ["owner@acme.test"]  # the default billing email: the owner's
    assert invoice["line_count"] == 1 and invoice["total"] == 1_625  # $2,500 at 65, no platform fee by default


async def test_one_invoice_per_po_with_its_lines_totals_recipients_and_pdf(driver: Driver) -> None:
    await driver.company(CO)
    await driver.api(
        "PUT", "/v1/settings", CO, {"billing_email": "billing@acme.test", "platform_fee_bps": 150, "premium_payer": "company"}
    )
    # PO-A: a flat fee, an hourly job (two weeks) and a unit job; PO-B: two flat fees; all
    # published at once, so that every line is ready within the settle window of the others
    await driver.send(
        *driver.billable_envelopes(CO, "an_flat", "PO-A", wage_cents=250_000, wage_type="flatfee", net_rate=65, first_name="Ada"),
        *driver.billable_envelopes(CO, "an_hour", "PO-A", wage_cents=5_000, wage_type="hourly", net_rate=100, first_name="Bob"),
        *driver.billable_envelopes(CO, "an_unit", "PO-A", wage_cents=12_345, wage_type="unit", net_rate=173, first_name="Cy"),
        *driver.billable_envelopes(CO, "an_b1", "PO-B", wage_cents=100_000, net_rate=50),
        *driver.billable_envelopes(CO, "an_b2", "PO-B", wage_cents=100_001, net_rate=50),
    )

    await driver.wait_invoices(CO, 2)
    await driver.issue_now()
    invoices = await driver.invoices(CO)
    assert len(invoices) == 2
    by_po = {i["purchase_order_number"]: i for i in invoices}
    a = await driver.invoice(CO, by_po["PO-A"]["id"])
    b = await driver.invoice(CO, by_po["PO-B"]["id"])

    lines = {line["assignment"]: line for line in a["lines"]}
    # flat fee: pay = wage; premium 250000 x 65 / 10000 = 1625; fee 1.5 % = 3750
    assert (lines["an_flat"]["gross_pay"], lines["an_flat"]["premium_due"], lines["an_flat"]["platform_fee"]) == (
        250_000,
        1_625,
        3_750,
    )
    # hourly: 10 weekdays x 8 h x $50 = $4,000; premium 4000.00 x 100 / 10000 = 4000; fee 6000
    assert (lines["an_hour"]["gross_pay"], lines["an_hour"]["premium_due"], lines["an_hour"]["platform_fee"]) == (
        400_000,
        4_000,
        6_000,
    )
    # unit: one unit; 12345 x 173 / 10000 = 213.5685 -> 214; fee 185.175 -> 185
    assert (lines["an_unit"]["gross_pay"], lines["an_unit"]["premium_due"], lines["an_unit"]["platform_fee"]) == (
        12_345,
        214,
        185,
    )
    assert lines["an_hour"]["paycycle_startdate"] == epoch(START) and lines["an_hour"]["paycycle_enddate"] == epoch(END)
    assert a["premium_due"] == 1_625 + 4_000 + 214
    assert a["platform_fee"] == 3_750 + 6_000 + 185
    assert a["total"] == a["premium_due"] + a["platform_fee"] == a["amount_due"]
    assert a["gross_pay"] == 250_000 + 400_000 + 12_345
    assert a["to_email"] == "ap@nike.test" and a["cc_emails"] == ["billing@acme.test"]
    assert a["status"] == "open" and a["credits"] == []
    assert a["due_date"] == epoch((T0 + days(30)).date())
    # PO-B: 100001 x 50 / 10000 = 500.005 -> 500 (rounded once, per line)
    assert sorted(line["premium_due"] for line in b["lines"]) == [500, 500]
    assert b["total"] == 500 + 500 + 1_500 + 1_500
    assert sorted(i["number"] for i in invoices) == ["INV-2026-11-0001", "INV-2026-11-0002"]

    r = await driver.api("GET", f"/v1/invoices/{a['id']}/pdf", CO)
    assert r.headers["content-type"] == "application/pdf"
    text = pdf_text(r.content)
    for expected in (a["number"], "PO-A", "2026-12-16", "$157.74", "Ada an_flat", "Bob an_hour", "Cy an_unit"):
        assert expected in text, expected

    issued = {e.data.po_number: e for e in await driver.published(InvoiceIssuedV1.SUBJECT)}
    assert set(issued) == {"PO-A", "PO-B"}
    message = issued["PO-A"].data
    assert issued["PO-A"].tenant_id == CO and message.invoice_id == a["id"]
    assert (message.to_email, message.cc_emails, message.total_cents, len(message.lines)) == (
        "ap@nike.test",
        ["billing@acme.test"],
        a["total"],
        3,
    )
    assert message.due_date == date(2026, 12, 16) and message.period == "2026-11"
    assert "PO-A" in pdf_text(message.pdf)


async def test_a_quiet_po_waits_for_its_lines_still_in_billings_inbox(driver: Driver, monkeypatch: pytest.MonkeyPatch) -> None:
    """Billing's consumers apply each subject on their own; a busy machine applies the messages of
    one PO's lines far apart. A line published with the others but not yet applied goes on the
    same invoice, not on a supplementary one."""
    release = asyncio.Event()
    process = InboxConsumer.process

    async def holding_an_late(self: InboxConsumer, sub: Any, msgs: Any) -> None:
        if sub.subject == AssignmentCreatedV1.SUBJECT and any(b"an_late" in m.data for m in msgs):
            await release.wait()  # fetched, not applied, not acknowledged: still in billing's inbox
        await process(self, sub, msgs)

    monkeypatch.setattr(InboxConsumer, "process", holding_an_late)
    await driver.company(CO)
    early = driver.billable_envelopes(CO, "an_early", "PO-Q")
    await driver.send(early[0])
    await driver.wait_applied()
    await driver.send(*early[1:], *driver.billable_envelopes(CO, "an_late", "PO-Q"))

    async def early_billable_and_late_waiting() -> bool:
        async with driver.svc.db.session() as s:
            rows = {r.assignment_id: r for r in (await s.execute(select(assignments))).all()}
        return rows.keys() == {"an_early", "an_late"} and all(r.coverage_id and r.po_number for r in rows.values())

    await wait_until(early_billable_and_late_waiting)
    driver.svc.clock.advance(timedelta(seconds=1))  # an_early is quiet for longer than the window
    result = await driver.issuer.run_once()
    assert (result.held, result.invoices) == (1, 0)
    assert await driver.invoices(CO) == []

    release.set()
    [invoice] = await driver.wait_invoices(CO, 1)
    await driver.issue_now()
    assert len(await driver.invoices(CO)) == 1
    lines = (await driver.invoice(CO, invoice["id"]))["lines"]
    assert sorted(line["assignment"] for line in lines) == ["an_early", "an_late"]


async def test_the_contractor_paying_the_premium_leaves_only_the_platform_fee(driver: Driver) -> None:
    await driver.company(CO)
    await driver.api("PUT", "/v1/settings", CO, {"premium_payer": "contractor", "platform_fee_bps": 200})
    await driver.billable(CO, "an_c1", po="PO-C", wage_cents=250_000, net_rate=65)
    # a job that withholds the premium is remitted by the company whatever the setting
    await driver.billable(CO, "an_c2", po="PO-C", wage_cents=250_000, net_rate=65, withhold_premium=True)
    [summary] = await driver.wait_invoices(CO, 1)
    await driver.issue_now()
    invoice = await driver.invoice(CO, summary["id"])
    lines = {line["assignment"]: line for line in invoice["lines"]}
    assert (lines["an_c1"]["premium"], lines["an_c1"]["premium_due"], lines["an_c1"]["platform_fee"]) == (1_625, 0, 5_000)
    assert lines["an_c1"]["premium_payer"] == "contractor" and "premium paid by the contractor" in lines["an_c1"]["description"]
    assert (lines["an_c2"]["premium_due"], lines["an_c2"]["premium_payer"]) == (1_625, "company")
    assert invoice["total"] == 5_000 + 1_625 + 5_000


async def test_lines_ready_after_the_invoice_go_on_a_supplementary_invoice_then_next_month_on_a_new_one(
    driver: Driver,
) -> None:
    await driver.company(CO)
    await driver.billable(CO, "an_s1", po="PO-S")
    await driver.billable(CO, "an_s2", po="PO-S")
    [first] = await driver.wait_invoices(CO, 1)
    await driver.issue_now()
    assert (await driver.invoice(CO, first["id"]))["line_count"] == 2

    await driver.billable(CO, "an_s3", po="PO-S")
    invoices = await driver.wait_invoices(CO, 2)
    supplementary = invoices[0]  # newest first
    assert supplementary["supplements"] == first["id"] and supplementary["period"] == "2026-11"
    assert supplementary["number"] == "INV-2026-11-0002" and supplementary["purchase_order_number"] == "PO-S"
    assert [line["assignment"] for line in (await driver.invoice(CO, supplementary["id"]))["lines"]] == ["an_s3"]
    assert "Supplementary to" in pdf_text((await driver.api("GET", f"/v1/invoices/{supplementary['id']}/pdf", CO)).content)

    driver.svc.clock.set(datetime(2026, 12, 1, 8, tzinfo=UTC))
    await driver.billable(CO, "an_s4", po="PO-S", start=date(2026, 12, 7), end=date(2026, 12, 11))
    invoices = await driver.wait_invoices(CO, 3)
    december = invoices[0]
    assert (december["period"], december["number"], december["supplements"]) == ("2026-12", "INV-2026-12-0001", None)


async def test_an_assignment_cancelled_before_invoicing_is_not_charged(driver: Driver) -> None:
    await driver.company(CO)
    await driver.billable(CO, "an_cx", po=None)
    await driver.publish(
        AssignmentCancelledV1(assignment_id="an_cx", contractor_id="cn_cx", reason="client_request", cancelled_at=T0),
        CO,
        aggregate_id="an_cx",
        version=2,
    )
    await driver.wait_applied()
    await driver.publish(driver.po_set("an_cx", "PO-X"), CO, aggregate_id="an_cx", version=3)
    await driver.billable(CO, "an_ok", po="PO-X")
    [invoice] = await driver.wait_invoices(CO, 1)
    await driver.issue_now()
    assert [line["assignment"] for line in (await driver.invoice(CO, invoice["id"]))["lines"]] == ["an_ok"]
    assert len(await driver.invoices(CO)) == 1


async def test_an_assignment_cancelled_after_invoicing_is_credited_once(driver: Driver) -> None:
    await driver.company(CO)
    await driver.billable(CO, "an_k1", po="PO-K")
    await driver.billable(CO, "an_k2", po="PO-K")
    [invoice] = await driver.wait_invoices(CO, 1)
    await driver.issue_now()
    cancel = driver.envelope(
        AssignmentCancelledV1(assignment_id="an_k1", contractor_id="cn_k1", reason="client_request", cancelled_at=T0),
        CO,
        aggregate_id="an_k1",
        version=3,
    )
    await driver.send(cancel)
    await driver.issue_now()
    # the same cancellation redelivered, and the policy's cancellation of the coverage: no second credit
    await driver.send(cancel, new_msg_id=True)
    await driver.publish(
        CoverageCancelledV1(
            terms=driver.terms("an_k1", status="cancelled"),
            reason="assignment cancelled",
            contractor_email="an_k1@example.com",
            contractor_name="Ada an_k1",
        ),
        CO,
        aggregate_id="cv_k1",
        version=2,
    )
    await driver.issue_now()

    detail = await driver.invoice(CO, invoice["id"])
    assert [c["assignment"] for c in detail["credits"]] == ["an_k1"]
    assert detail["credits"][0]["amount"] == 1_625 and "client_request" in detail["credits"][0]["reason"]
    assert detail["credited"] == 1_625 and detail["amount_due"] == 1_625  # what an_k2 still owes
    assert {line["assignment"]: line["credited"] for line in detail["lines"]} == {"an_k1": True, "an_k2": False}
    credits = await driver.published(InvoiceCreditedV1.SUBJECT)
    assert [(c.data.invoice_id, c.data.assignment_id, c.data.amount_cents) for c in credits] == [(invoice["id"], "an_k1", 1_625)]
    assert len(await driver.invoices(CO)) == 1  # nothing re-invoiced


async def test_an_hourly_extension_is_charged_for_the_added_days_on_a_supplementary_invoice(driver: Driver) -> None:
    await driver.company(CO)
    await driver.billable(CO, "an_h", po="PO-H", wage_cents=5_000, wage_type="hourly", net_rate=100)
    await driver.billable(CO, "an_f", po="PO-H", wage_cents=90_000, wage_type="flatfee", net_rate=100)
    [first] = await driver.wait_invoices(CO, 1)
    await driver.issue_now()
    new_end = END + timedelta(days=7)  # one more week: 5 weekdays
    for aid in ("an_h", "an_f"):
        await driver.publish(
            CoverageExtendedV1(
                terms=driver.terms(aid, net_rate=100, end=new_end),
                previous_end_date=END,
                contractor_email=f"{aid}@example.com",
                contractor_name=aid,
            ),
            CO,
            aggregate_id="cv_" + aid[3:],
            version=2,
        )
    invoices = await driver.wait_invoices(CO, 2)
    await driver.issue_now()
    assert len(await driver.invoices(CO)) == 2
    extra = await driver.invoice(CO, invoices[0]["id"])
    assert extra["supplements"] == first["id"]
    [line] = extra["lines"]  # the flat fee adds nothing
    assert (line["assignment"], line["kind"], line["gross_pay"], line["premium_due"]) == ("an_h", "extension", 5_000 * 40, 2_000)
    assert (line["paycycle_startdate"], line["paycycle_enddate"]) == (epoch(END + timedelta(days=1)), epoch(new_end))


async def test_an_invoiced_hourly_coverage_re_timed_before_its_start_is_credited_and_charged_anew(driver: Driver) -> None:
    await driver.company(CO)
    await driver.billable(CO, "an_r", po="PO-R", wage_cents=5_000, wage_type="hourly", net_rate=100)
    [first] = await driver.wait_invoices(CO, 1)
    await driver.issue_now()
    [charged] = (await driver.invoice(CO, first["id"]))["lines"]
    assert (charged["kind"], charged["gross_pay"], charged["premium_due"]) == ("coverage", 5_000 * 80, 4_000)  # 10 weekdays
    moved_start = START + timedelta(days=7)  # the assignment now starts a week later: 5 weekdays to END
    retimed = CoverageRetimedV1(
        terms=driver.terms("an_r", net_rate=100, start=moved_start, end=END), previous_effective_date=START, previous_end_date=END
    )
    await driver.publish(retimed, CO, aggregate_id="cv_r", version=2)
    invoices = await driver.wait_invoices(CO, 2)
    await driver.issue_now()
    # the same message again changes nothing
    await driver.publish(retimed, CO, aggregate_id="cv_r", version=2)
    await driver.issue_now()
    assert len(await driver.invoices(CO)) == 2

    old = await driver.invoice(CO, first["id"])
    assert [(c["assignment"], c["amount"]) for c in old["credits"]] == [("an_r", charged["amount"])]
    extra = await driver.invoice(CO, invoices[0]["id"])
    assert extra["supplements"] == first["id"]
    [line] = extra["lines"]
    assert (line["assignment"], line["kind"], line["gross_pay"], line["premium_due"]) == ("an_r", "retime", 5_000 * 40, 2_000)
    assert (line["paycycle_startdate"], line["paycycle_enddate"]) == (epoch(moved_start), epoch(END))


async def test_messages_in_any_order_make_the_same_invoice(driver: Driver) -> None:
    await driver.company(CO)
    # the PO arrives first, then the coverage, then the assignment (whose snapshot predates the PO)
    created_at = T0 - timedelta(minutes=5)
    await driver.publish(driver.po_set("an_o", "PO-O", contact="po@nike.test"), CO, aggregate_id="an_o", version=2)
    await driver.publish(driver.bound("an_o"), CO, aggregate_id="cv_o")
    await driver.wait_applied()
    assert await driver.invoices(CO) == []
    await driver.publish(driver.assignment_created("an_o"), CO, aggregate_id="an_o", version=1, occurred_at=created_at)
    [invoice] = await driver.wait_invoices(CO, 1)
    assert (invoice["purchase_order_number"], invoice["to_email"]) == ("PO-O", "po@nike.test")
    # a late, older update carrying another PO changes nothing
    stale = AssignmentUpdatedV1(
        **{f: getattr(driver.assignment_created("an_o"), f) for f in AssignmentUpdatedV1.__struct_fields__}
    )
    await driver.publish(stale, CO, aggregate_id="an_o", version=1, occurred_at=created_at)
    await driver.issue_now()
    assert len(await driver.invoices(CO)) == 1


async def test_redelivered_and_repeated_messages_duplicate_nothing(driver: Driver) -> None:
    await driver.company(CO)
    envs = []
    for aid in ("an_r1", "an_r2"):
        envs += [
            driver.envelope(driver.assignment_created(aid), CO, aggregate_id=aid, version=1),
            driver.envelope(driver.bound(aid), CO, aggregate_id="cv_" + aid[3:]),
            driver.envelope(driver.po_set(aid, "PO-R"), CO, aggregate_id=aid, version=2),
        ]
    await driver.send(*envs)
    [invoice] = await driver.wait_invoices(CO, 1)
    await driver.issue_now()
    # the same envelopes again past JetStream's de-duplication (the inbox drops them) ...
    await driver.send(*envs, new_msg_id=True)
    # ... and the same business events in new envelopes (handled by state: nothing new to charge)
    await driver.send(*[driver.envelope(e.data, CO, aggregate_id=e.aggregate_id, version=e.aggregate_version) for e in envs])
    await driver.issue_now()
    await driver.issue_now()
    assert [i["id"] for i in await driver.invoices(CO)] == [invoice["id"]]
    assert (await driver.invoice(CO, invoice["id"]))["line_count"] == 2
    assert len(await driver.published(InvoiceIssuedV1.SUBJECT)) == 1


async def test_several_workers_issue_each_invoice_once(
    database_url: str, jetstream_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def idle(self: InvoiceIssuer) -> None:
        return None  # the background worker's step does nothing

    monkeypatch.setattr(InvoiceIssuer, "step", idle)  # only the racing runs below issue
    async with make_driver(database_url, jetstream_url, settle_s=0.2) as driver:
        # a second worker process on the same database: its own issuer, racing the first one
        async with running_service(
            definition, database_url=database_url, nats_url=jetstream_url, clock=driver.svc.clock, consume=False, relay=False
        ) as other:
            other_issuer = other.runtime.parts.dependencies["issuer"]
            await driver.company(CO)
            for n in range(40):
                await driver.billable(CO, f"an_w{n:02d}", po="PO-W")
            await driver.wait_applied()
            driver.svc.clock.advance(timedelta(seconds=0.2))  # the settle window is over
            results = await asyncio.gather(*(i.run_once() for i in (driver.issuer, other_issuer) * 3))
            await driver.issue_now()
        assert sorted(r.invoices for r in results) == [0, 0, 0, 0, 0, 1]
        [invoice] = await driver.invoices(CO)
        assert invoice["line_count"] == 40
        assert len(await driver.published(InvoiceIssuedV1.SUBJECT)) == 1


async def test_a_group_that_fails_is_retried_without_holding_up_the_others(
    driver: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = driver.issuer.render

    def broken_for_one_po(doc: InvoiceDocument) -> bytes:
        if doc.po_number == "PO-BAD":
            raise RuntimeError("the PDF renderer chokes on this one")
        return real(doc)

    monkeypatch.setattr(driver.issuer, "render", broken_for_one_po)
    await driver.company(CO)
    await driver.billable(CO, "an_bad", po="PO-BAD")
    await driver.billable(CO, "an_good", po="PO-GOOD")
    [good] = await driver.wait_invoices(CO, 1)
    await driver.issue_now()
    assert good["purchase_order_number"] == "PO-GOOD" and len(await driver.invoices(CO)) == 1
    assert await driver.flagged() == 1  # an_bad waits for the next run

    monkeypatch.undo()
    invoices = await driver.wait_invoices(CO, 2)
    assert {i["purchase_order_number"] for i in invoices} == {"PO-BAD", "PO-GOOD"}
    assert len(await driver.published(InvoiceIssuedV1.SUBJECT)) == 2
