"""The audit ledger of the seed workflow (issue 16; docs/audit-ledger.md), every service a real
process: the company created by an operator, billing settings and a CSV import by a dashboard user,
a contractor added with an API key, the opt-in by the contractor, coverage bound for them, a PO set
by the user and the invoice it causes, and a webhook endpoint made with the API key. Each entry
names who asked, no secret is kept; the chain verifies."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from .flow import Row, answer_opt_in, csv_bytes, idle, opt_in_link, wait_import, wait_mails

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

_CSRF = re.compile(r'name="_csrf" value="([^"]+)"')


def csrf(page: httpx.Response) -> str:
    found = _CSRF.search(page.text)
    assert found, f"no CSRF field on {page.url}"
    return html.unescape(found.group(1))


def dashboard(running: Any) -> httpx.Client:
    client = httpx.Client(base_url=running.system.gateway_url, timeout=60)
    form = client.get("/login")
    company = running.company
    answer = client.post("/login", data={"_csrf": csrf(form), "email": company.email, "password": company.password, "next": ""})
    assert answer.status_code == 303, answer.text[:500]
    return client


def ledger(running: Any, **params: Any) -> list[dict[str, Any]]:
    with running.client("notification") as notification:
        r = notification.get("/v1/ledger", params={"limit": 100, **params})
    assert r.status_code == 200, r.text
    return list(reversed(r.json()["data"]))  # oldest first


def actors(entries: list[dict[str, Any]], kind: str, action: str) -> set[str | None]:
    return {e["actor"] for e in entries if (e["entity_kind"], e["action"]) == (kind, action)}


def seed(running: Any, browser: httpx.Client) -> None:
    """The workflow as the company and the contractor do it, through the gateway."""
    page = browser.get("/settings")
    body = {"_csrf": csrf(page), "billing_email": "billing@acme.test", "premium_payer": "company", "platform_fee_pct": "1.5"}
    assert browser.post("/settings/billing", data=body).status_code == 303
    start = datetime.now(UTC).date() + timedelta(days=3)
    row = Row("Nike", "Ada", "Lovelace", "ada@example.com", "CA", "Photographer", "CA", "1200", "flatfee", start, start + timedelta(days=9))  # fmt: skip
    page = browser.get("/imports")
    files = {"file": ("spring.csv", csv_bytes([row]), "text/csv")}
    answer = browser.post("/imports", data={"_csrf": csrf(page), "all_or_nothing": ""}, files=files)
    assert answer.status_code == 303, answer.text[:500]
    import_id = answer.headers["location"].rsplit("/", 1)[-1]
    with running.client("contractor") as contractor:
        assert wait_import(contractor, import_id)["rows_imported"] == 1
    link = opt_in_link(wait_mails(running.smtp, "invitation", 1, to="ada@example.com")[0])
    assert answer_opt_in(link).status_code == 200
    wait_mails(running.smtp, "certificate", 1, to="ada@example.com")
    page = browser.get("/po/missing")
    [assignment_id] = set(re.findall(r'name="assignment_ids" value="(an_[A-Za-z0-9]+)"', page.text))
    body = {"_csrf": csrf(page), "assignment_ids": assignment_id, "po_number": "PO-77", "po_contact_email": "ap@acme.test"}
    assert browser.post("/po/missing", data=body).status_code in (200, 303)
    wait_mails(running.smtp, "invoice", 1)


async def test_the_ledger_of_the_seed_workflow_names_who_asked(running: Any) -> None:
    api = httpx.Client(
        base_url=f"{running.system.gateway_url}/api/v1",
        headers={"Authorization": f"Bearer {running.company.api_key}"},
        timeout=60,
    )
    address = {"line1": "1 Main St", "locality": "Oakland", "region": "CA", "postalcode": "94607"}
    grace = {"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com", "address": address}
    by_key = api.post("/contractors", json=grace)
    assert by_key.status_code in (200, 201), by_key.text
    # a setting changed with the API key: a webhook endpoint (for an event this flow never raises)
    hook = api.post("/webhook_endpoints", json={"url": "https://hooks.example.com/ten99", "events": ["invoice.paid"]})
    assert hook.status_code in (200, 201), hook.text
    secret = hook.json()["secret"]
    browser = dashboard(running)
    try:
        seed(running, browser)
        idle(running)
        entries = ledger(running)
        [owner] = [e for e in entries if (e["entity_kind"], e["action"]) == ("user", "added")]
        [key] = [e for e in entries if (e["entity_kind"], e["action"]) == ("api_key", "created")]
        user, api_key = f"user:{owner['entity_id']}", f"api_key:{key['entity_id']}"
        ada = next(e["entity_id"] for e in entries if e["entity_kind"] == "contractor" and e["after"].get("first_name") == "Ada")
        contractor = f"contractor:{ada}"

        assert actors(entries, "company", "created") == {"operator"}
        assert actors(entries, "billing_settings", "updated") == {user}
        assert actors(entries, "contractor", "created") == {user, api_key}  # Ada imported, Grace by the API
        assert actors(entries, "assignment", "created") == {user}
        assert actors(entries, "contractor", "opted_in") == {contractor}
        assert actors(entries, "coverage", "bound") == {contractor}
        assert actors(entries, "assignment", "po_number_set") == {user}
        assert actors(entries, "invoice", "issued") == {"system"}  # the issuer's clock, not the PO's setter
        assert actors(entries, "webhook_endpoint", "created") == {api_key}
        assert secret and secret not in json.dumps(entries)  # the signing secret is shown once, never kept here
        [po] = [e for e in entries if e["action"] == "po_number_set"]
        assert po["after"]["po_number"] == "PO-77" and po["contractor_id"] == ada and po["correlation_id"]
        assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))

        # the contractor's timeline and the company's page show them; the chain verifies
        assert all(e["contractor_id"] == ada for e in ledger(running, contractor=ada))
        timeline = browser.get(f"/contractors/{ada}/timeline")
        assert timeline.status_code == 200 and "Contractor opted in" in timeline.text and running.company.email in timeline.text
        page = browser.get("/audit-log", params={"entity_kind": "invoice"})
        assert page.status_code == 200 and page.text.count('data-testid="audit-entry"') == 1
        export = browser.get("/audit-log/export.csv")
        assert export.status_code == 200 and export.text.startswith("seq,occurred_at")
    finally:
        browser.close()
    verify = subprocess.run(
        [sys.executable, "-m", "notification", "ledger-verify"],
        env=running.system.services["notification"].env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert verify.returncode == 0 and "1 company checked" in verify.stdout, verify.stdout + verify.stderr
