"""The daily coverage-gap alert (``CoverageGapAlertDueV1`` from the contractor service) becomes
one email to the company's address per UTC day, whatever is redelivered or replayed, and each
company's alert goes to that company only."""

from __future__ import annotations

from datetime import date

import notification_messages as msgs
import pytest
from notification_harness import company_known, delivery_count, emails, html_of, notification, publish, sender_idle, text_of
from ten99_contracts.contractor_v1 import CoverageGap, CoverageGapAlertDueV1
from ten99_testing import SmtpSink, wait_until

pytestmark = pytest.mark.integration


def alert(day: date, *names: str) -> CoverageGapAlertDueV1:
    gaps = [
        CoverageGap(
            assignment_id=f"as_{n:022d}",
            contractor_id=f"cn_{n:022d}",
            contractor_name=name,
            contractor_email=f"c{n}@example.com",
            job_name="Content creator",
            effective_date=date(2026, 12, 9),
            status="invited",
        )
        for n, name in enumerate(names, start=1)
    ]
    return CoverageGapAlertDueV1(day=day, within_days=3, gaps=gaps, gap_count=len(gaps))


async def test_one_email_per_company_per_day_to_that_company(database_url: str, jetstream_url: str, smtp_sink: SmtpSink) -> None:
    async with notification(database_url, jetstream_url, smtp_sink) as svc:
        await publish(jetstream_url, msgs.envelope(msgs.company("co_acme", "Acme Talent")))
        other = msgs.company("co_other", "Other Co")
        other = type(other)(company_id="co_other", name="Other Co", owner_email="boss@other.test")
        await publish(jetstream_url, msgs.envelope(other, tenant_id="co_other"))
        await wait_until(lambda: company_known(svc, "co_acme"))
        await wait_until(lambda: company_known(svc, "co_other"))

        today = date(2026, 12, 7)
        first = msgs.envelope(alert(today, "Ada Lovelace", "Grace Hopper"))
        await publish(jetstream_url, first)
        await publish(jetstream_url, first, msg_id="redelivered-copy")  # a redelivery: the inbox drops it
        await publish(jetstream_url, msgs.envelope(alert(today, "Ada Lovelace")))  # a rerun's new envelope, same day
        await publish(jetstream_url, msgs.envelope(alert(today, "Alan Turing"), tenant_id="co_other"))
        await publish(jetstream_url, msgs.envelope(alert(date(2026, 12, 8), "Ada Lovelace")))  # the next day: a new email

        got = await emails(smtp_sink, 3)
        await sender_idle(svc)
        assert len(smtp_sink.messages) == 3
        assert await delivery_count(svc, template="coverage_gap", tenant_id="co_acme") == 2
        assert await delivery_count(svc, template="coverage_gap", tenant_id="co_other") == 1

        acme = [m for m in got if m["To"] == "ops@acme.test"]
        other_mail = [m for m in got if m["To"] == "boss@other.test"]
        assert len(acme) == 2 and len(other_mail) == 1
        [first_day] = [m for m in acme if "Grace Hopper" in text_of(m)]
        assert first_day["Subject"] == "2 assignments start within 3 days without coverage"
        assert first_day["X-Ten99-Template"] == "coverage_gap"
        for body in (text_of(first_day), html_of(first_day)):
            assert "Ada Lovelace" in body and "December 9, 2026" in body and "December 7, 2026" in body
            assert "http://127.0.0.1:8000/contractors?gaps=1" in body.replace("&amp;", "&")
        # the other company's email lists only its own gap
        assert "Alan Turing" in text_of(other_mail[0]) and "Ada Lovelace" not in text_of(other_mail[0])
        assert all("Alan Turing" not in text_of(m) for m in acme)
