"""The delivery log and the development catcher's mailbox, both tenant-scoped."""

from __future__ import annotations

import asyncio
import io
import smtplib
from email.message import EmailMessage
from typing import Any

import notification_messages as msgs
import pytest
from notification.adapters.db import caught_mail
from notification_harness import delivery_count, emails, notification, publish, wait_until
from pypdf import PdfReader
from sqlalchemy import func, select
from ten99_testing import SmtpSink, free_port

pytestmark = pytest.mark.integration

A = {"x-tenant-id": "co_a"}
B = {"x-tenant-id": "co_b"}


async def _sent(svc: Any, n: int) -> bool:
    return await delivery_count(svc, status="sent") == n


async def test_the_delivery_log_shows_a_tenant_only_its_own_emails(
    database_url: str, jetstream_url: str, smtp_sink: SmtpSink
) -> None:
    async with notification(database_url, jetstream_url, smtp_sink) as svc:
        await publish(jetstream_url, msgs.envelope(msgs.invitation(1), tenant_id="co_a"))
        await emails(smtp_sink, 1)
        await publish(jetstream_url, msgs.envelope(msgs.invitation(2), tenant_id="co_b"))
        await emails(smtp_sink, 2)
        await publish(jetstream_url, msgs.envelope(msgs.certificate(3), tenant_id="co_b"))
        await emails(smtp_sink, 3)
        await wait_until(lambda: _sent(svc, 3))
        c = svc.client

        mine = (await c.get("/v1/deliveries", headers=A)).json()
        assert mine["object"] == "list" and mine["url"] == "/v1/deliveries" and mine["has_more"] is False
        [only] = mine["data"]
        assert only["to"] == ["contractor1@example.com"] and only["template"] == "invitation" and only["status"] == "sent"
        assert only["related_id"] == "inv_0000000000000000000001" and only["contractor_id"] == "cn_0000000000000000000001"
        assert only["attempts"] == 1 and only["sent_at"] and only["subject"] == "You're invited to get insured with ten99"

        theirs = (await c.get("/v1/deliveries", headers=B)).json()["data"]
        assert [d["template"] for d in theirs] == ["certificate", "invitation"]  # newest first
        cert_id = theirs[0]["id"]

        # one tenant cannot see another's delivery, by id or by filter
        r = await c.get(f"/v1/deliveries/{cert_id}", headers=A)
        assert r.status_code == 404 and r.json()["error_code"] == "resource_not_found"
        assert (await c.get("/v1/deliveries", params={"to": "contractor3@example.com"}, headers=A)).json()["data"] == []
        r = await c.get("/v1/deliveries", params={"starting_after": cert_id}, headers=A)
        assert r.status_code == 404

        detail = (await c.get(f"/v1/deliveries/{cert_id}", headers=B)).json()
        assert "COI-2026-000003" in detail["text"] and "COI-2026-000003" in detail["html"]
        assert detail["attachments"] == [
            {
                "index": 0,
                "filename": "ten99_coi_COI-2026-000003.pdf",
                "content_type": "application/pdf",
                "size": len(msgs.certificate(3).pdf),
            }
        ]

        # filters
        async def ids(**params: Any) -> list[str]:
            r = await c.get("/v1/deliveries", params=params, headers=B)
            assert r.status_code == 200, r.text
            return [d["template"] for d in r.json()["data"]]

        assert await ids(to="CONTRACTOR2@example.com") == ["invitation"]
        assert await ids(to="contractor") == []  # exact address, not a substring
        assert await ids(template="certificate") == ["certificate"]
        assert await ids(status="failed") == []
        assert await ids(related_id="coi_0000000000000000000003") == ["certificate"]
        assert await ids(contractor="cn_0000000000000000000002") == ["invitation"]

        # pagination
        page1 = (await c.get("/v1/deliveries", params={"limit": 1}, headers=B)).json()
        assert page1["has_more"] is True and [d["template"] for d in page1["data"]] == ["certificate"]
        page2 = (await c.get("/v1/deliveries", params={"limit": 1, "starting_after": page1["data"][0]["id"]}, headers=B)).json()
        assert page2["has_more"] is False and [d["template"] for d in page2["data"]] == ["invitation"]
        back = (await c.get("/v1/deliveries", params={"limit": 1, "ending_before": page2["data"][0]["id"]}, headers=B)).json()
        assert [d["id"] for d in back["data"]] == [page1["data"][0]["id"]]

        # bad input: a clear 4xx
        for params, code in (
            ({"limit": 0}, "invalid_input"),
            ({"limit": 101}, "invalid_input"),
            ({"template": "spam"}, "invalid_input"),
            ({"status": "lost"}, "invalid_input"),
            ({"starting_after": "dl_x", "ending_before": "dl_y"}, "invalid_input"),
            ({"limit": "many"}, "invalid_input"),
        ):
            r = await c.get("/v1/deliveries", params=params, headers=B)
            assert r.status_code == 400 and r.json()["error_code"] == code, (params, r.text)
        r = await c.get("/v1/deliveries")
        assert r.status_code == 400 and r.json()["error_code"] == "no_tenant_found"
        r = await c.get("/v1/deliveries", headers={**B, "x-ten99-internal-token": "wrong"})
        assert r.status_code == 401


async def test_the_catcher_keeps_mail_and_the_mailbox_shows_each_company_its_own(database_url: str, jetstream_url: str) -> None:
    port = free_port()
    async with notification(
        database_url, jetstream_url, None, smtp={"catcher": True, "catcher_port": port, "host": "192.0.2.1"}
    ) as svc:
        c = svc.client
        assert (await c.get("/v1/mailbox", headers=A)).json() == {"total": 0, "messages": []}
        cert, inv = msgs.certificate(1), msgs.invoice(2)
        await publish(jetstream_url, msgs.envelope(cert, tenant_id="co_a"))
        await wait_until(lambda: _mail_count(c, A, 1))
        await publish(jetstream_url, msgs.envelope(inv, tenant_id="co_b"))
        await wait_until(lambda: _mail_count(c, B, 1))
        await wait_until(lambda: _sent(svc, 2))

        # each company sees the mail it caused, and only that
        [mine] = (await c.get("/v1/mailbox", headers=A)).json()["messages"]
        [theirs] = (await c.get("/v1/mailbox", headers=B)).json()["messages"]
        assert mine["to"] == "contractor1@example.com" and "COI-2026-000001" in mine["subject"]
        # the list names each message's attachments (issue 15: the Mailbox's column was empty for a PDF)
        assert mine["attachments"] == [
            {"index": 0, "filename": cert.filename, "content_type": "application/pdf", "size": len(cert.pdf)}
        ]
        assert theirs["subject"].startswith("Invoice INV-2026-11-0002") and theirs["to"] == "ap@nike.test"
        assert theirs["cc"] == "billing@acme.test" and theirs["from"] == "ten99 <no-reply@ten99.local>"
        assert (await c.get("/v1/mailbox", headers=B, params={"to": "nike.test"})).json()["total"] == 1
        assert (await c.get("/v1/mailbox", headers=A, params={"to": "nike.test"})).json()["total"] == 0
        assert (await c.get("/v1/mailbox", headers=A, params={"limit": 1, "offset": 1})).json()["messages"] == []
        r = await c.get("/v1/mailbox")
        assert r.status_code == 400 and r.json()["error_code"] == "no_tenant_found"

        detail = (await c.get(f"/v1/mailbox/{mine['id']}", headers=A)).json()
        assert detail["envelope"] == {"mail_from": "no-reply@ten99.local", "rcpt_to": ["contractor1@example.com"]}
        assert "COI-2026-000001" in detail["text"] and "<html" in detail["html"]
        assert ["X-Ten99-Template", "certificate"] in detail["headers"]
        assert detail["attachments"] == [
            {"index": 0, "filename": cert.filename, "content_type": "application/pdf", "size": len(cert.pdf)}
        ]

        pdf = await c.get(f"/v1/mailbox/{mine['id']}/attachments/0", headers=A)
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert pdf.content == cert.pdf and cert.filename in pdf.headers["content-disposition"]
        assert "Certificate 1" in PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()

        invoice_detail = (await c.get(f"/v1/mailbox/{theirs['id']}", headers=B)).json()
        assert sorted(invoice_detail["envelope"]["rcpt_to"]) == ["ap@nike.test", "billing@acme.test"]

        # company B never sees company A's mail (nor its attachment), by list, by id or by clearing
        for path in (
            f"/v1/mailbox/{mine['id']}",
            f"/v1/mailbox/{mine['id']}/attachments/0",
            f"/v1/mailbox/{mine['id']}/attachments/1",
            "/v1/mailbox/ml_nope",
            "/v1/mailbox/ml_nope/attachments/0",
        ):
            r = await c.get(path, headers=B)
            assert r.status_code == 404 and r.json()["error_code"] == "resource_not_found", path
            assert mine["subject"] not in r.text
        assert (await c.get(f"/v1/mailbox/{mine['id']}/attachments/1", headers=A)).status_code == 404
        assert (await c.get("/v1/mailbox", headers=A, params={"limit": 0})).status_code == 400

        assert (await c.delete("/v1/mailbox", headers=B)).json() == {"deleted": 1}
        assert (await c.get("/v1/mailbox", headers=B)).json()["total"] == 0
        assert (await c.get("/v1/mailbox", headers=A)).json()["total"] == 1
        assert (await c.delete("/v1/mailbox", headers=A)).json() == {"deleted": 1}
        assert (await c.get("/v1/mailbox", headers=A)).json()["total"] == 0


async def test_mail_no_delivery_explains_is_no_companys(database_url: str, jetstream_url: str) -> None:
    """Mail sent to the catcher by anything but this service (no delivery has its Message-ID)."""
    port = free_port()
    async with notification(
        database_url, jetstream_url, None, smtp={"catcher": True, "catcher_port": port, "host": "192.0.2.1"}
    ) as svc:
        await publish(jetstream_url, msgs.envelope(msgs.certificate(1), tenant_id="co_a"))
        await wait_until(lambda: _mail_count(svc.client, A, 1))
        stray = EmailMessage()
        stray["From"], stray["To"], stray["Subject"] = "x@example.com", "y@example.com", "Stray"
        stray["Message-ID"] = "<stray@example.com>"
        stray.set_content("not from ten99")
        await asyncio.to_thread(_send, "127.0.0.1", port, stray)
        async with svc.db.session() as s:
            assert (await s.execute(select(func.count()).select_from(caught_mail))).scalar_one() == 2
        for tenant in (A, B):
            listed = (await svc.client.get("/v1/mailbox", headers=tenant)).json()
            assert "Stray" not in [m["subject"] for m in listed["messages"]]
        assert (await svc.client.delete("/v1/mailbox", headers=B)).json() == {"deleted": 0}


def _send(host: str, port: int, message: EmailMessage) -> None:
    with smtplib.SMTP(host, port, timeout=10) as smtp:
        smtp.send_message(message)


async def _mail_count(client: Any, tenant: dict[str, str], n: int) -> bool:
    return (await client.get("/v1/mailbox", headers=tenant)).json()["total"] >= n
