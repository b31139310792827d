"""Each source message, published to JetStream as another context would, becomes the right email
in a real SMTP server (aiosmtpd): recipients, subject, text and HTML parts, attachments; and the
same business event never becomes two emails."""

from __future__ import annotations

import asyncio
import io

import notification_messages as msgs
import pytest
from notification.bootstrap import definition
from notification_harness import (
    company_known,
    delivery_count,
    emails,
    html_of,
    notification,
    publish,
    published,
    sender_idle,
    text_of,
    wait_until,
)
from pypdf import PdfReader
from ten99_testing import SmtpSink
from ten99kit.migrations import schema_drift, upgrade

pytestmark = pytest.mark.integration


async def test_migrations_match_the_models(database_url: str) -> None:
    await asyncio.to_thread(upgrade, definition.migrations, database_url)
    assert await schema_drift(database_url, definition.metadata) == []


async def test_every_kind_of_email_arrives_with_its_parts_and_attachments(
    database_url: str, jetstream_url: str, smtp_sink: SmtpSink
) -> None:
    async with notification(database_url, jetstream_url, smtp_sink) as svc:
        await publish(jetstream_url, msgs.envelope(msgs.company("co_acme", "Acme <Talent> & Co")))
        await wait_until(lambda: company_known(svc, "co_acme"))
        cert, inv = msgs.certificate(3), msgs.invoice(7)
        for m in (
            msgs.invitation(1),
            msgs.reminder(2, number=1),
            cert,
            msgs.cancelled(4),
            msgs.extended(5),
            msgs.extended(6, send_email=False),
            msgs.po_reminder(count=3),
            inv,
        ):
            await publish(jetstream_url, msgs.envelope(m))
        got = await emails(smtp_sink, 7)
        by_template = {m["X-Ten99-Template"]: m for m in got}
        assert sorted(by_template) == sorted(
            [
                "invitation",
                "invitation_reminder",
                "certificate",
                "coverage_cancelled",
                "coverage_extended",
                "po_reminder",
                "invoice",
            ]
        )

        invitation = by_template["invitation"]
        assert invitation["To"] == "contractor1@example.com"
        assert invitation["From"] == "ten99 <no-reply@ten99.local>"
        assert invitation["Subject"] == "Acme <Talent> & Co invites you to get insured with ten99"
        assert "Acme <Talent> & Co uses ten99" in text_of(invitation)
        assert "Acme &lt;Talent&gt; &amp; Co" in html_of(invitation)
        for body in (text_of(invitation), html_of(invitation)):
            assert "http://127.0.0.1:8000/opt-in/token1" in body and "December 2, 2026" in body
        assert invitation["Message-ID"].startswith("<dl_") and invitation["Message-ID"].endswith("@ten99.local>")
        assert list(invitation.iter_attachments()) == []

        reminder = by_template["invitation_reminder"]
        assert reminder["To"] == "contractor2@example.com" and reminder["Subject"].startswith("Reminder: Acme")

        certificate = by_template["certificate"]
        assert certificate["To"] == "contractor3@example.com"
        assert "COI-2026-000003" in certificate["Subject"] and "Nike" in certificate["Subject"]
        for body in (text_of(certificate), html_of(certificate)):
            assert "November 10, 2026" in body and "December 9, 2026" in body and cert.download_url in body.replace("&amp;", "&")
        [pdf] = list(certificate.iter_attachments())
        assert pdf.get_content_type() == "application/pdf" and pdf.get_filename() == cert.filename
        assert pdf.get_content() == cert.pdf
        assert "Certificate 3" in PdfReader(io.BytesIO(pdf.get_content())).pages[0].extract_text()

        cancelled = by_template["coverage_cancelled"]
        assert cancelled["To"] == "contractor4@example.com" and "client_request" in text_of(cancelled)

        extended = by_template["coverage_extended"]
        assert extended["To"] == "contractor5@example.com" and "January 9, 2027" in extended["Subject"]

        po = by_template["po_reminder"]
        assert po["To"] == "ops@acme.test, billing@acme.test"
        assert "3 assignments from spring.csv" in po["Subject"]
        assert "http://127.0.0.1:8000/po/missing" in text_of(po) and "Contractor 3" in html_of(po)

        invoice = by_template["invoice"]
        assert invoice["To"] == "ap@nike.test" and invoice["Cc"] == "billing@acme.test"
        assert invoice["Subject"] == "Invoice INV-2026-11-0007 for PO-2026-0042: $53.75 due December 2, 2026"
        assert "$16.25" in text_of(invoice) and "$53.75" in html_of(invoice)
        [pdf] = list(invoice.iter_attachments())
        assert pdf.get_content() == inv.pdf and pdf.get_filename() == inv.filename
        # the billing email is a real recipient, not just a header
        envelope_rcpts = [rcpts for _, rcpts in smtp_sink.envelopes if "ap@nike.test" in rcpts]
        assert envelope_rcpts == [["ap@nike.test", "billing@acme.test"]]

        # the log says sent, and each delivery was announced
        await sender_idle(svc)
        assert await delivery_count(svc, status="sent") == 7
        announced = await published(jetstream_url, "ten99.notification.email_delivered.v1")
        assert {a["data"]["template"] for a in announced} == set(by_template) and len(announced) == 7
        assert all(a["tenant_id"] == "co_acme" for a in announced)
        assert len(smtp_sink.messages) == 7  # the extension with send_email=False sent nothing


async def test_the_same_event_twice_or_in_another_envelope_gives_one_email(
    database_url: str, jetstream_url: str, smtp_sink: SmtpSink
) -> None:
    async with notification(database_url, jetstream_url, smtp_sink) as svc:
        first = msgs.envelope(msgs.certificate(1))
        await publish(jetstream_url, first)
        await publish(jetstream_url, first, msg_id="redelivered-copy")  # past JetStream's dedupe: the inbox drops it
        await publish(jetstream_url, msgs.envelope(msgs.certificate(1)))  # same certificate, new envelope (a replay)
        await publish(jetstream_url, msgs.envelope(msgs.invitation(1)))
        await publish(jetstream_url, msgs.envelope(msgs.invitation(1)))
        await publish(jetstream_url, msgs.envelope(msgs.invitation(1, reissue=True)))  # a new link: a new email
        await publish(jetstream_url, msgs.envelope(msgs.certificate(1), tenant_id="co_other"))  # another tenant's event
        await emails(smtp_sink, 4)
        await sender_idle(svc)
        assert len(smtp_sink.messages) == 4
        assert await delivery_count(svc) == 4
        assert await delivery_count(svc, template="certificate", tenant_id="co_acme") == 1


async def test_a_new_delivery_wakes_the_sender_without_waiting_for_the_poll(
    database_url: str, jetstream_url: str, smtp_sink: SmtpSink
) -> None:
    # the poll is an hour away: an email within the wait came by the wake-up (a poll of 30 s against a
    # wait of 10 s made a loaded machine's slow round trip look like a missing wake-up)
    async with notification(database_url, jetstream_url, smtp_sink, delivery={"poll_interval_s": 3600}) as svc:
        await publish(jetstream_url, msgs.envelope(msgs.invitation(1)))  # warm up: consumers, SMTP connection
        await emails(smtp_sink, 1)
        await sender_idle(svc)  # the sender now waits for its hourly poll, or to be woken
        await publish(jetstream_url, msgs.envelope(msgs.certificate(2)))
        await emails(smtp_sink, 2, timeout=60)
