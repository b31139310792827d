"""Steps of the seed workflow, as a company and its contractors take them, for the e2e and
browser tests. Services are real processes; mail arrives at a real SMTP server."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
from pypdf import PdfReader
from ten99_testing import quiescent_processes, wait_until_sync

HEADERS = [
    "Ultimate Client Name", "Contractor First Name", "Last Name", "Email", "Phone", "Address Line 1", "Address Line 2",
    "City", "State", "Zip", "Company Name", "Job Title", "Brief Job Description", "Work State", "Wage", "Wage Type",
    "Start Date", "End Date", "PO Number", "PO Contact Email", "Campaign",
]  # fmt: skip


@dataclass(frozen=True)
class Row:
    client: str
    first: str
    last: str
    email: str
    state: str
    job_title: str
    work_state: str
    wage: str
    wage_type: str
    start: date
    end: date
    po: str = ""
    po_contact: str = ""
    campaign: str = ""

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"

    def cells(self) -> list[str]:
        return [
            self.client, self.first, self.last, self.email, "+1 415 555 0100", "1 Main St, Suite 4", "",
            "Springfield", self.state, "94110", "", self.job_title,
            "Produces sponsored content for the brand's spring campaign, on site and remote.", self.work_state,
            self.wage, self.wage_type, self.start.strftime("%m/%d/%Y"), self.end.isoformat(), self.po, self.po_contact,
            self.campaign,
        ]  # fmt: skip


def csv_bytes(rows: Sequence[Row | list[str]], bom: bool = True) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(HEADERS)
    for r in rows:
        w.writerow(r.cells() if isinstance(r, Row) else r)
    return (("\ufeff" if bom else "") + out.getvalue()).encode()


def upload(contractor: httpx.Client, body: bytes, filename: str, uploaded_by: str, all_or_nothing: bool = False) -> str:
    r = contractor.post(
        "/v1/imports",
        files={"file": (filename, body, "text/csv")},
        data={"all_or_nothing": "true" if all_or_nothing else "false", "uploaded_by": uploaded_by},
    )
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def wait_import(contractor: httpx.Client, import_id: str, timeout: float = 60) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body = contractor.get(f"/v1/imports/{import_id}").json()
        return body if body["status"] in ("completed", "failed") else None

    return wait_until_sync(done, timeout=timeout, what=f"import {import_id} finished")


def mails(smtp: Any, template: str, to: str | None = None) -> list[EmailMessage]:
    with smtp.lock:
        found = list(smtp.messages)
    return [
        m for m in found
        if m.get("X-Ten99-Template") == template and (to is None or to.lower() in str(m.get("To", "")).lower())
    ]  # fmt: skip


def wait_mails(smtp: Any, template: str, count: int, timeout: float = 60, to: str | None = None) -> list[EmailMessage]:
    def enough() -> list[EmailMessage] | None:
        found = mails(smtp, template, to)
        return found if len(found) >= count else None

    return wait_until_sync(enough, timeout=timeout, what=f"{count} {template} email(s)" + (f" to {to}" if to else ""))


def body_text(m: EmailMessage) -> str:
    part = m.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def opt_in_link(m: EmailMessage) -> str:
    found = re.search(r"https?://[^\s\"'<>]+/opt-in/[A-Za-z0-9_\-]+", body_text(m))
    assert found, f"no opt-in link in {body_text(m)!r}"
    return found.group(0)


def pdf_attachments(m: EmailMessage) -> list[tuple[str, bytes]]:
    return [(str(p.get_filename()), p.get_content()) for p in m.iter_attachments() if p.get_content_type() == "application/pdf"]


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


_INPUT = re.compile(r'<input[^>]*\bname="([^"]+)"[^>]*\bvalue="([^"]*)"', re.S)
_STATE = re.compile(r'data-testid="opt-in-state"\s+data-state="([^"]+)"')


def form_values(html: str) -> dict[str, str]:
    import html as h

    return {name: h.unescape(value) for name, value in _INPUT.findall(html)}


def page_state(html: str) -> str | None:
    m = _STATE.search(html)
    return m.group(1) if m else None


def opt_in_form(link: str, *, eligible: bool = True) -> dict[str, str]:
    """Open the link and fill the form as a contractor would: keep what the company pre-filled,
    answer the questions, sign with the typed name."""
    page = httpx.get(link, timeout=30)
    assert page.status_code == 200, page.text
    values = form_values(page.text)
    form = {k: v for k, v in values.items() if not k.startswith("q_")}
    for q in set(re.findall(r'name="(q_[a-z0-9_]+)"', page.text)):
        risky = q in ("q_claims_last_3_years", "q_coverage_declined_last_3_years")
        form[q] = ("no" if risky else "yes") if eligible else "no"
    form["consent"] = "yes"
    form["signed_name"] = f"{values['first_name']} {values['last_name']}"
    return form


def submit_opt_in(link: str, form: dict[str, str]) -> httpx.Response:
    return httpx.post(link, data=form, timeout=30, follow_redirects=True)


def answer_opt_in(link: str, *, eligible: bool = True) -> httpx.Response:
    return submit_opt_in(link, opt_in_form(link, eligible=eligible))


def weekdays(start: date, end: date) -> int:
    return sum(1 for i in range((end - start).days + 1) if (start + timedelta(days=i)).weekday() < 5)


def round_half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


def expected_net_rate(rates: dict[str, Any], category: str, home: str, work: str, types: Sequence[str]) -> int:
    def rate(state: str, coverage: str) -> int:
        for row in rates["data"]:
            if row["category_code"] == category and row["state"] == state and row["coverage_type"] == coverage:
                return int(row["net_rate"])
        return 0

    total = 0
    if "general" in types:
        total += rate(home, "general")
    if "workers-comp" in types and work not in rates.get("monopolistic_wc_states", []):
        total += rate(work, "workers-comp")
    return total


def idle(running: Any, timeout: float = 120) -> None:
    """Wait until nothing more will happen without a new input or the clock: every consumer caught
    up, every outbox drained, and none of the company's emails queued or being sent. Assert that
    something did not happen (duplicates, extra emails) after this, never after a sleep."""
    system = running.system
    quiescent_processes(system.nats_url, system.database_urls.values(), timeout=timeout)
    with running.client("notification") as notification:

        def unsent() -> list[Any]:
            return [
                d
                for status in ("queued", "sending")
                for d in notification.get("/v1/deliveries", params={"status": status, "limit": 100}).json()["data"]
            ]

        wait_until_sync(unsent, satisfies=lambda found: not found, timeout=timeout, what="no email queued or being sent")
    quiescent_processes(system.nats_url, system.database_urls.values(), timeout=timeout)  # what was sent is announced


@dataclass(frozen=True)
class CoveredAssignment:
    """What `seed_covered_assignment` made."""

    import_id: str
    opt_in_link: str
    assignment: dict[str, Any]


def seed_covered_assignment(system: Any, smtp: Any, company: Any, *, domain: str, po_number: str) -> CoveredAssignment:
    """The dashboard's way, once: a one-row CSV import, the contractor's opt-in, the certificate, a
    PO set on the assignment, the invoice emailed (to ``billing@<domain>`` and ``ap@<domain>``)."""
    start = datetime.now(UTC).date() + timedelta(days=3)
    with system.client("billing", tenant_id=company.company_id) as billing:
        assert billing.put("/v1/settings", json={"billing_email": f"billing@{domain}"}).status_code == 200
    with system.client("contractor", tenant_id=company.company_id) as contractor:
        row = Row(
            "Nike", "Ada", "Lovelace", f"ada@{domain}", "CA", "Photographer", "CA", "1200", "flatfee",
            start, start + timedelta(days=9),
        )  # fmt: skip
        imported = wait_import(contractor, upload(contractor, csv_bytes([row]), f"{po_number}.csv", company.email))
        assert imported["rows_imported"] == 1, imported
        [invitation] = wait_mails(smtp, "invitation", 1, to=f"ada@{domain}")
        link = opt_in_link(invitation)
        assert answer_opt_in(link).status_code == 200
        wait_mails(smtp, "certificate", 1, to=f"ada@{domain}")
        [assignment] = contractor.get("/v1/assignments", params={"limit": 10}).json()["data"]
        body = {"assignment_ids": [assignment["id"]], "po_number": po_number, "po_contact_email": f"ap@{domain}"}
        r = contractor.post("/v1/po/bulk-set", json=body)
        assert r.status_code == 200, r.text
    wait_mails(smtp, "invoice", 1)
    return CoveredAssignment(imported["id"], link, assignment)
