"""Killing services (SIGKILL, no graceful shutdown) in the middle of the seed workflow loses nothing
and duplicates nothing: one coverage, one certificate email and one invoice line per assignment."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from .flow import Row, answer_opt_in, csv_bytes, idle, mails, opt_in_link, upload, wait_import, wait_mails

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

N = 8


async def test_killing_services_mid_flow_loses_and_duplicates_nothing(running: Any) -> None:
    system, smtp = running.system, running.smtp
    today = datetime.now(UTC).date()
    start = today + timedelta(days=2)
    rows = [
        Row("Nike", f"Worker{i}", "Crash", f"w{i}@example.com", "CA", "Content creator", "CA", f"{1000 + i * 100}", "flatfee",
            start, start + timedelta(days=10 + i), po="PO-777", po_contact="ap@nike.test")
        for i in range(N)
    ]  # fmt: skip
    contractor = running.client("contractor")
    assert wait_import(contractor, upload(contractor, csv_bytes(rows), "crash.csv", running.company.email))["rows_imported"] == N
    invitations = wait_mails(smtp, "invitation", N)

    # policy dies before anyone opts in; the opt-ins are accepted and wait in JetStream
    system.services["policy"].kill()
    for m in invitations:
        assert answer_opt_in(opt_in_link(m)).status_code == 200

    # notification dies as soon as the first certificate email has gone out, billing while it binds lines
    def kill_notification_after_first_certificate() -> None:
        wait_mails(smtp, "certificate", 1, timeout=120)
        system.services["notification"].kill()

    killer = threading.Thread(target=kill_notification_after_first_certificate)
    killer.start()
    system.services["policy"].start()
    system.services["billing"].kill()
    killer.join()
    system.services["policy"].wait_ready()
    system.services["billing"].restart()
    system.services["notification"].restart()

    # everything arrives once
    certificates = wait_mails(smtp, "certificate", N, timeout=120)
    wait_mails(smtp, "invoice", 1, timeout=120)
    idle(running)
    # One certificate email per assignment. SIGKILL between the SMTP server's acceptance and the
    # sender's record of it makes the restarted sender send that email again, with the same
    # Message-ID (mail systems show it once): no sender can tell "sent" from "about to send" after
    # a crash. So the mailbox is counted by Message-ID, and the delivery log must hold one each.
    certificates = mails(smtp, "certificate")
    per_recipient = Counter(m["To"].split("<")[-1].strip(">") for m in {m["Message-ID"]: m for m in certificates}.values())
    assert per_recipient == Counter({r.email: 1 for r in rows}), per_recipient
    with running.client("notification") as notification:
        log = notification.get("/v1/deliveries", params={"template": "certificate", "limit": 100}).json()["data"]
    assert sorted(d["to"][0] for d in log) == sorted(r.email for r in rows)
    assert all(d["status"] == "sent" for d in log), log

    with running.client("policy") as policy:
        for row in rows:
            cid = contractor.get("/v1/contractors", params={"email": row.email}).json()["data"][0]["id"]
            body = policy.get("/v1/coverages", params={"contractor": cid}).json()
            assert len(body["data"] if isinstance(body, dict) else body) == 1

    with running.client("billing") as billing:
        invoices = billing.get("/v1/invoices", params={"limit": 100}).json()["data"]
        lines = [ln for inv in invoices for ln in billing.get(f"/v1/invoices/{inv['id']}").json()["lines"]]
    assert Counter(ln["assignment"] for ln in lines) == Counter({a: 1 for a in {ln["assignment"] for ln in lines}})
    assert len(lines) == N
    assert len(mails(smtp, "invoice")) == len(invoices)
    dead_letters = system.dead_letters()  # final: nothing is being retried after `idle`
    assert all(not v for v in dead_letters.values()), dead_letters
