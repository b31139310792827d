"""The seed workflow end to end (issues 3 and 4), every service a real process on PostgreSQL and
NATS, mail through a real SMTP server: import, invitations, opt-in through the links, coverage per
assignment, certificates, a PO set, the invoice to the PO contact, the PO reminder after three
clock days, coverage activation and expiry."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from ten99_testing import wait_until_sync

from .flow import (
    Row,
    csv_bytes,
    expected_net_rate,
    idle,
    mails,
    opt_in_form,
    opt_in_link,
    page_state,
    pdf_attachments,
    pdf_text,
    round_half_up,
    submit_opt_in,
    upload,
    wait_import,
    wait_mails,
    weekdays,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

CATEGORY = {
    "Content creator": "jc_creator",
    "Photographer": "jc_photographer",
    "Videographer": "jc_videographer",
    "Model": "jc_model",
}


def rows(today: date) -> list[Row]:
    start = today + timedelta(days=3)
    return [
        Row("Nike", "Ada", "Lovelace", "ada@example.com", "CA", "Content creator", "CA", "$2,500.00", "flatfee", start, start + timedelta(days=29)),
        Row("Nike", "Ada", "Lovelace", "ada@example.com", "CA", "Photographer", "CA", "1200", "flatfee", start, start + timedelta(days=9)),
        Row("Adidas", "Grace", "Hopper", "grace@example.com", "NY", "Videographer", "NY", "$50.00", "hourly", start, start + timedelta(days=13)),
        Row("Puma", "Katherine", "Johnson", "kj@example.com", "TX", "Model", "WA", "3000", "flatfee", start, start + timedelta(days=20)),
    ]  # fmt: skip


def bad_row(today: date) -> list[str]:
    r = Row(
        "Puma",
        "Bad",
        "Row",
        "not-an-email",
        "TX",
        "Model",
        "TX",
        "3000",
        "flatfee",
        today + timedelta(days=3),
        today + timedelta(days=9),
    )
    return r.cells()


def coverages(running: Any, contractor_id: str) -> list[dict[str, Any]]:
    with running.client("policy") as policy:
        body = policy.get("/v1/coverages", params={"contractor": contractor_id}).json()
    return body["data"] if isinstance(body, dict) else body


def roster(running: Any) -> dict[str, dict[str, Any]]:
    with running.client("contractor") as c:
        body = c.get("/v1/roster", params={"limit": 100}).json()
    return {r["email"]: r for r in body["data"]}


async def test_the_seed_workflow(running: Any) -> None:
    smtp, company = running.smtp, running.company
    today = datetime.now(UTC).date()
    good = rows(today)
    contractor = running.client("contractor")
    enrollment = running.client("enrollment")
    billing = running.client("billing")

    r = billing.put("/v1/settings", json={"billing_email": "billing@acme.test", "platform_fee_bps": 150})
    assert r.status_code == 200, r.text

    # -- import: four good rows (three contractors) and a bad one -------------------------------------
    file = csv_bytes([*good, bad_row(today)])
    first = wait_import(contractor, upload(contractor, file, "spring.csv", company.email))
    assert first["status"] == "completed"
    assert (first["rows_total"], first["rows_imported"], first["rows_failed"]) == (5, 4, 1)
    [error] = first["errors"]
    assert error["line"] == 6 and "mail" in error["column"].lower()

    # -- one invitation per contractor; opening a link changes nothing ---------------------------------
    emails = {"ada@example.com", "grace@example.com", "kj@example.com"}
    invitations = wait_mails(smtp, "invitation", 3)
    assert sorted(m["To"].split("<")[-1].strip(">") for m in invitations) == sorted(emails)
    links = {m["To"].split("<")[-1].strip(">"): opt_in_link(m) for m in invitations}
    # the Contractors page is a read model of the same events: it follows (a moment, or a minute on a busy machine)
    wait_until_sync(
        lambda: {r["status"] for r in roster(running).values()}, satisfies=lambda found: found == {"invited"}, timeout=60
    )

    import httpx

    for link in links.values():
        assert httpx.get(link, timeout=30).status_code == 200
    assert enrollment.get("/v1/apply/sessions").json()["data"] == []
    assert {row["status"] for row in roster(running).values()} == {"invited"}

    # -- everyone opts in; the contractors become covered --------------------------------------------
    forms = {email: opt_in_form(link) for email, link in links.items()}
    for email, link in links.items():
        page = submit_opt_in(link, forms[email])
        assert page.status_code == 200 and page_state(page.text) == "done", page.text[:2000]
    wait_until_sync(
        lambda: {r["status"] for r in roster(running).values()}, satisfies=lambda found: found == {"covered"}, timeout=60
    )

    # a used link: the "already answered" page, nothing duplicated
    again = submit_opt_in(links["ada@example.com"], forms["ada@example.com"])
    assert again.status_code == 200 and page_state(again.text) == "answered"
    assert page_state(httpx.get(links["ada@example.com"], timeout=30).text) == "answered"
    assert len(enrollment.get("/v1/apply/sessions", params={"limit": 100}).json()["data"]) == 3

    # -- one certificate email per assignment, with a PDF naming the contractor and the dates ----------
    certificates = wait_mails(smtp, "certificate", 4)
    contractors = {e: roster(running)[e]["contractor_id"] for e in emails}
    for row in good:
        [cov] = [c for c in coverages(running, contractors[row.email]) if c["end_date"] in (row.end.isoformat(), _epoch(row.end))]
        assert cov["status"] == "scheduled"
        mine = [m for m in certificates if row.email in m["To"] and row.end.isoformat() in pdf_text(pdf_attachments(m)[0][1])]
        assert len(mine) == 1, f"certificate emails for {row.name} ending {row.end}: {len(mine)}"
        text = pdf_text(pdf_attachments(mine[0])[0][1])
        assert row.name in text and row.start.isoformat() in text and row.client in text

    # -- re-importing the same file adds nothing and sends nothing ------------------------------------
    again_import = wait_import(contractor, upload(contractor, file, "spring.csv", company.email))
    assert again_import["assignments_created"] == 0 and again_import["contractors_created"] == 0
    idle(running)
    assert len(mails(smtp, "invitation")) == 3 and len(mails(smtp, "certificate")) == 4
    assert len(roster(running)) == 3

    # -- a PO on all four assignments in one action: one invoice to the PO contact, billing copied -----
    missing = contractor.get("/v1/po/missing", params={"limit": 100}).json()
    assert missing["count"] == 4
    ids = [a["assignment_id"] if "assignment_id" in a else a["id"] for a in missing["assignments"]]
    r = contractor.post(
        "/v1/po/bulk-set", json={"assignment_ids": ids, "po_number": "PO-100", "po_contact_email": "ap@nike.test"}
    )
    assert r.status_code == 200 and r.json()["updated"] == 4, r.text
    assert contractor.get("/v1/po/missing").json()["count"] == 0
    [invoice_mail] = wait_mails(smtp, "invoice", 1)
    assert "ap@nike.test" in invoice_mail["To"] and "billing@acme.test" in invoice_mail["Cc"]
    assert "PO-100" in pdf_text(pdf_attachments(invoice_mail)[0][1])
    [invoice] = billing.get("/v1/invoices").json()["data"]
    detail = billing.get(f"/v1/invoices/{invoice['id']}").json()
    assert detail["purchase_order_number"] == "PO-100" and len(detail["lines"]) == 4

    # premium arithmetic, recomputed from enrollment's rate table and billing's documented pay rules
    rates = {
        code: enrollment.get("/v1/rates", params={"category_code": code, "limit": 1000}).json() for code in CATEGORY.values()
    }
    total = 0
    for row in good:
        [line] = [ln for ln in detail["lines"] if ln["contractor_name"] == row.name and ln["paycycle_enddate"] == _epoch(row.end)]
        wage = round(float(row.wage.replace("$", "").replace(",", "")) * 100)
        pay = wage * 8 * weekdays(row.start, row.end) if row.wage_type == "hourly" else wage
        code = CATEGORY[row.job_title]
        rate = expected_net_rate(rates[code], code, row.state, row.work_state, ["general", "workers-comp"])
        assert line["net_rate"] == rate, (row.name, line["net_rate"], rate)
        assert line["gross_pay"] == pay
        assert line["premium_due"] == round_half_up(pay * rate, 10_000)
        assert line["platform_fee"] == round_half_up(pay * 150, 10_000)
        assert line["amount"] == line["premium_due"] + line["platform_fee"]
        total += line["amount"]
    assert detail["total"] == total
    # Washington is monopolistic: the model's line carries general liability only
    kj = next(ln for ln in detail["lines"] if ln["contractor_name"] == "Katherine Johnson")
    assert kj["net_rate"] == expected_net_rate(rates["jc_model"], "jc_model", "TX", "WA", ["general"])

    # -- a second upload left without a PO: the reminder three clock days later, once ----------------
    later = Row(
        "Reebok",
        "Mary",
        "Jackson",
        "mary@example.com",
        "FL",
        "Content creator",
        "FL",
        "900",
        "flatfee",
        today + timedelta(days=5),
        today + timedelta(days=12),
    )
    uploaded_at = datetime.now(UTC)  # the reminder is due three days after this, whatever the time of day
    second = wait_import(contractor, upload(contractor, csv_bytes([later]), "summer.csv", company.email))
    assert second["rows_imported"] == 1
    wait_mails(smtp, "invitation", 1, to="mary@example.com")
    running.system.set_clock(uploaded_at + timedelta(days=2, hours=20))
    running.system.tick("billing")
    idle(running)
    assert mails(smtp, "po_reminder") == [], "no reminder before three days"
    running.system.set_clock(
        max(datetime.combine(today, time(12), UTC) + timedelta(days=3, hours=12), uploaded_at + timedelta(days=3, hours=1))
    )
    running.system.tick("billing")
    [reminder] = wait_mails(smtp, "po_reminder", 1)
    recipients = f"{reminder['To']} {reminder.get('Cc', '')}"
    assert company.email in recipients and "billing@acme.test" in recipients
    assert "Mary Jackson" in reminder.get_body(preferencelist=("plain",)).get_content()
    running.system.tick("billing")
    idle(running)
    assert len(mails(smtp, "po_reminder")) == 1, "at most one reminder per upload"

    # -- coverage active from each start date, expired after each end date ----------------------------
    running.system.tick("policy")
    for row in good:
        statuses = {c["status"] for c in coverages(running, contractors[row.email])}
        assert statuses == {"active"}, (row.name, statuses)
    last_end = max(r.end for r in good)
    running.system.set_clock(datetime.combine(last_end + timedelta(days=1), time(1), UTC))
    running.system.tick("policy")
    for email in emails:
        assert {c["status"] for c in coverages(running, contractors[email])} == {"expired"}

    assert all(not letters for letters in running.system.dead_letters().values()), running.system.dead_letters()


def _epoch(d: date) -> int:
    return int(datetime.combine(d, time(0), UTC).timestamp())
