"""Planning charges and credits, grouping into invoices, recipients, numbering (billing.domain.invoicing)."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pypdf
from billing.adapters.pdf import InvoiceDocument, InvoicePdfLine, money, render_invoice_pdf
from billing.domain.invoicing import (
    AssignmentBilling,
    ExistingLine,
    billing_period,
    chunked,
    due_date,
    group_is_due,
    group_waited_longest,
    invoice_number,
    line_description,
    plan_billing,
    premium_payer_for,
    recipients,
)

MON = date(2026, 11, 16)

READY = AssignmentBilling(
    tenant_id="co_1",
    assignment_id="an_1",
    snapshot_known=True,
    contractor_name="Ada Lovelace",
    job_name="Photographer",
    entity_name="Nike",
    wage_cents=250_000,
    wage_type="flatfee",
    po_number="PO-1",
    po_contact_email="ap@nike.test",
    coverage_id="cv_1",
    coverage_effective_date=MON,
    coverage_end_date=MON + timedelta(days=11),
    net_rate=65,
)


def line(seq: int, start: date, end: date, *, credited: bool = False, void: bool = False, amount: int = 100) -> ExistingLine:
    return ExistingLine(
        line_id=seq * 10,
        charge_seq=seq,
        kind="coverage",
        span_start=start,
        span_end=end,
        amount_cents=amount,
        credited=credited,
        invoice_void=void,
        invoice_seq=1,
        invoice_id="in_1",
        invoice_number="INV-2026-11-0001",
    )


def test_a_bound_assignment_with_a_po_is_charged_once_for_its_whole_span() -> None:
    plan = plan_billing(READY, [])
    assert len(plan.charges) == 1 and not plan.credits
    charge = plan.charges[0]
    assert (charge.kind, charge.charge_seq, charge.span_start, charge.span_end, charge.pay_cents) == (
        "coverage",
        1,
        MON,
        MON + timedelta(days=11),
        250_000,
    )
    # the same state again (a redelivery, a repeated business event) plans nothing new
    assert plan_billing(READY, [line(1, MON, MON + timedelta(days=11))]).charges == []


def test_nothing_is_charged_until_coverage_snapshot_and_po_are_all_known() -> None:
    assert plan_billing(replace(READY, po_number=None), []).waiting == "no_po"
    assert plan_billing(replace(READY, po_number=None), []).charges == []
    assert plan_billing(replace(READY, coverage_id=None), []).waiting == "not_bound"
    assert plan_billing(replace(READY, snapshot_known=False), []).waiting == "snapshot_unknown"


def test_a_cancelled_assignment_is_not_charged_and_its_charged_lines_are_credited() -> None:
    cancelled = replace(READY, cancelled=True, cancel_reason="client_request")
    assert plan_billing(cancelled, []).charges == []
    charged = line(1, MON, MON + timedelta(days=11))
    plan = plan_billing(cancelled, [charged])
    assert plan.charges == []
    assert [c.line for c in plan.credits] == [charged]
    assert "cancelled before its start: client_request" in plan.credits[0].reason
    # once credited, nothing more happens
    assert plan_billing(cancelled, [replace(charged, credited=True)]).credits == []


def test_a_cancelled_coverage_credits_too() -> None:
    plan = plan_billing(replace(READY, coverage_cancelled=True), [line(1, MON, MON + timedelta(days=11))])
    assert len(plan.credits) == 1 and plan.credits[0].reason.startswith("coverage cancelled")


def test_an_assignment_on_a_void_invoice_is_billed_no_further() -> None:
    voided = line(1, MON, MON + timedelta(days=11), void=True)
    assert plan_billing(READY, [voided]).charges == []
    assert plan_billing(replace(READY, cancelled=True), [voided]).credits == []


def test_an_hourly_extension_charges_only_the_added_weekdays() -> None:
    hourly = replace(READY, wage_type="hourly", wage_cents=5_000, coverage_end_date=MON + timedelta(days=4))
    first = plan_billing(hourly, []).charges[0]
    assert first.pay_cents == 5_000 * 40
    extended = replace(hourly, coverage_end_date=MON + timedelta(days=11))
    plan = plan_billing(extended, [line(1, MON, MON + timedelta(days=4))])
    assert [(c.kind, c.charge_seq, c.span_start, c.span_end, c.pay_cents) for c in plan.charges] == [
        ("extension", 2, MON + timedelta(days=5), MON + timedelta(days=11), 5_000 * 40)
    ]
    assert plan.credits == []
    # charged up to the new end: nothing more
    done = [line(1, MON, MON + timedelta(days=4)), line(2, MON + timedelta(days=5), MON + timedelta(days=11))]
    assert plan_billing(extended, done).charges == []


def test_a_flat_fee_extension_adds_nothing() -> None:
    extended = replace(READY, coverage_end_date=MON + timedelta(days=40))
    assert plan_billing(extended, [line(1, MON, MON + timedelta(days=11))]).charges == []


def test_re_timed_hourly_coverage_credits_the_old_lines_and_charges_the_new_span() -> None:
    hourly = replace(READY, wage_type="hourly", wage_cents=5_000)
    old = line(1, MON, MON + timedelta(days=11))
    moved = replace(hourly, coverage_effective_date=MON + timedelta(days=7), coverage_end_date=MON + timedelta(days=11))
    plan = plan_billing(moved, [old])
    assert [c.line for c in plan.credits] == [old]
    assert [(c.kind, c.charge_seq, c.pay_cents) for c in plan.charges] == [("retime", 2, 5_000 * 40)]


def test_job_withhold_premium_overrides_the_company_setting() -> None:
    assert premium_payer_for(READY, "contractor") == "contractor"
    assert premium_payer_for(replace(READY, withhold_premium=True), "contractor") == "company"
    assert premium_payer_for(replace(READY, withhold_premium=False), "company") == "contractor"


def test_line_description_names_job_client_dates_and_who_pays() -> None:
    charge = plan_billing(READY, []).charges[0]
    assert line_description(READY, charge, "company") == "Photographer for Nike, 2026-11-16 to 2026-11-27"
    assert line_description(READY, charge, "contractor").endswith("premium paid by the contractor")


def test_recipients_go_to_the_po_contact_with_the_billing_email_copied() -> None:
    assert recipients(["ap@nike.test"], "billing@acme.test") == ("ap@nike.test", ["billing@acme.test"])
    assert recipients([None, ""], "billing@acme.test") == ("billing@acme.test", [])
    assert recipients(["AP@nike.test"], "ap@nike.test") == ("AP@nike.test", [])
    # several contacts on one PO: the most common wins, the first seen on a tie
    assert recipients(["a@x.test", "b@x.test", "b@x.test"], None) == ("b@x.test", [])
    assert recipients(["a@x.test", "b@x.test"], None) == ("a@x.test", [])
    assert recipients([], None) == ("", [])


def test_periods_numbers_and_due_dates() -> None:
    issued = datetime(2026, 11, 30, 23, 59, tzinfo=UTC)
    assert billing_period(issued) == "2026-11"
    assert billing_period(issued + timedelta(minutes=2)) == "2026-12"
    assert invoice_number("2026-11", 1) == "INV-2026-11-0001"
    assert invoice_number("2026-11", 12) == "INV-2026-11-0012"
    assert due_date(issued, 30) == date(2026, 12, 30)


def test_a_group_is_due_once_quiet_for_the_settle_window_or_after_the_maximum_wait() -> None:
    t0 = datetime(2026, 11, 16, 12, tzinfo=UTC)
    changes = [t0, t0 + timedelta(seconds=0.4), t0 + timedelta(seconds=0.8)]
    assert group_is_due(changes, t0 + timedelta(seconds=1.0), 1.0, 10.0) == t0 + timedelta(seconds=1.8)
    assert group_is_due(changes, t0 + timedelta(seconds=1.8), 1.0, 10.0) is None
    # a trickle that never goes quiet is issued after max_wait
    trickle = [t0 + timedelta(seconds=0.5 * i) for i in range(30)]
    assert group_is_due(trickle, t0 + timedelta(seconds=14.6), 1.0, 10.0) is None
    # ... which is also how long a quiet group waits for billing's consumers to catch up
    assert not group_waited_longest(changes, t0 + timedelta(seconds=9.9), 10.0)
    assert group_waited_longest(changes, t0 + timedelta(seconds=10.0), 10.0)


def test_chunked() -> None:
    assert chunked([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]
    assert chunked([], 3) == [[]]


def test_the_pdf_folds_what_its_fonts_cannot_show() -> None:
    names = ["Zoë Müller", "Łukasz Dvořák", "李雷"]
    lines = [InvoicePdfLine(name, "Model", 100, 1, 1, 0, 1) for name in names]
    doc = InvoiceDocument(
        "ten99",
        "Acme",
        "INV-1",
        "2026-11",
        "PO-1",
        datetime(2026, 11, 16, tzinfo=UTC),
        date(2026, 12, 16),
        "",
        [],
        "company",
        0,
        100,
        1,
        0,
        1,
        lines,
    )
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(render_invoice_pdf(doc))).pages)
    assert "Zoë Müller" in text  # Latin-1 kept
    assert "Lukasz Dvorák" in text  # ř and Ł fold to their base letters, á is Latin-1
    assert "??" in text and "李" not in text


def test_money_formatting() -> None:
    assert money(0) == "$0.00"
    assert money(5) == "$0.05"
    assert money(123_456_789) == "$1,234,567.89"
    assert money(-150) == "-$1.50"


def test_the_invoice_pdf_parses_and_lists_lines_totals_po_and_due_date() -> None:
    lines = [
        InvoicePdfLine(
            contractor_name=f"Contractor {i:04d}",
            description="Photographer for Nike, 2026-11-16 to 2026-11-27",
            pay_cents=250_000,
            net_rate=65,
            premium_cents=1_625,
            platform_fee_cents=3_750,
            amount_cents=5_375,
        )
        for i in range(120)
    ]
    doc = InvoiceDocument(
        issuer_name="ten99",
        company_name="Acme Talent",
        number="INV-2026-11-0001",
        period="2026-11",
        po_number="PO-2026-0042",
        issued_at=datetime(2026, 11, 16, tzinfo=UTC),
        due_date=date(2026, 12, 16),
        to_email="ap@nike.test",
        cc_emails=["billing@acme.test"],
        premium_payer="company",
        platform_fee_bps=150,
        pay_cents=250_000 * 120,
        premium_cents=1_625 * 120,
        platform_fee_cents=3_750 * 120,
        total_cents=5_375 * 120,
        lines=lines,
        supplements_number="INV-2026-11-0000",
    )
    reader = pypdf.PdfReader(io.BytesIO(render_invoice_pdf(doc)))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert len(reader.pages) >= 2  # 120 lines do not fit on one page
    for expected in (
        "INV-2026-11-0001",
        "PO-2026-0042",
        "2026-12-16",
        "Acme Talent",
        "ap@nike.test",
        "billing@acme.test",
        "Contractor 0000",
        "Contractor 0119",
        "$6,450.00",  # total due: 5,375 x 120
        "$1,950.00",  # premium: 1,625 x 120
        "$4,500.00",  # platform fee: 3,750 x 120
        "Supplementary to",
    ):
        assert expected in text, expected


def test_large_groups_are_split_by_line_count_and_by_message_size() -> None:
    from billing.application.issuing import MESSAGE_LINES_BUDGET, _PricedLine, _split_for_messages
    from ten99_contracts.billing_v1 import InvoiceLine

    def priced(n: int, description: str) -> list[_PricedLine]:
        line = InvoiceLine(
            assignment_id="an_1",
            contractor_name="Ada Lovelace",
            description=description,
            pay_cents=1,
            net_rate=1,
            premium_cents=0,
            platform_fee_cents=0,
            amount_cents=0,
        )
        return [_PricedLine({}, line)] * n

    assert [len(c) for c in _split_for_messages(priced(2500, "short"), 1000)] == [1000, 1000, 500]
    assert [len(c) for c in _split_for_messages(priced(10, "short"), 1000)] == [10]
    # long descriptions: each invoice's message stays within the budget whatever max_lines says
    chunks = _split_for_messages(priced(2000, "x" * 900), 2000)
    assert len(chunks) > 1 and sum(len(c) for c in chunks) == 2000
    assert all(len(c) * 1000 <= MESSAGE_LINES_BUDGET + 1000 for c in chunks)


def test_the_pdf_does_not_say_po_twice() -> None:
    # issue 15: "PO PO-5555" on the invoice
    doc = InvoiceDocument(
        "ten99", "Acme", "INV-1", "2026-11", "PO-5555", datetime(2026, 11, 16, tzinfo=UTC), date(2026, 12, 16),
        "", [], "company", 0, 100, 1, 0, 1, [InvoicePdfLine("Ada", "Model", 100, 1, 1, 0, 1)],
    )  # fmt: skip
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(render_invoice_pdf(doc))).pages)
    assert "PO-5555" in text and "PO PO" not in text
