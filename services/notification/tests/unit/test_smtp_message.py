"""The MIME message we send, and how SMTP errors are sorted into temporary and permanent."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from typing import Any

import aiosmtplib
import pytest
from notification.adapters.mime import MessageParts, build_message, build_message_with_library
from notification.adapters.smtp import classify
from notification.domain import Attachment


def test_message_has_text_html_attachment_and_fixed_message_id() -> None:
    raw = build_message(
        MessageParts(
            from_name="ten99",
            from_address="no-reply@ten99.local",
            to=["ada@example.com"],
            cc=["billing@acme.test"],
            subject="Invoice — 5 € due",
            text="Hello Zoë\n",
            html="<p>Hello Zoë</p>",
            message_id="<dl_1@ten99.local>",
            date=datetime(2026, 11, 2, 15, 4, 5, tzinfo=UTC),
            attachments=[Attachment("invoice.pdf", "application/pdf", b"%PDF-1.4 data")],
            headers={"X-Ten99-Delivery": "dl_1"},
        )
    )
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["From"] == "ten99 <no-reply@ten99.local>"
    assert msg["To"] == "ada@example.com" and msg["Cc"] == "billing@acme.test"
    assert msg["Subject"] == "Invoice — 5 € due"
    assert msg["Message-ID"] == "<dl_1@ten99.local>"
    assert msg["Date"] == "Mon, 02 Nov 2026 15:04:05 +0000"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_content_type() == "multipart/mixed"
    assert msg.get_body(("plain",)).get_content().replace("\r\n", "\n") == "Hello Zoë\n"  # type: ignore[union-attr]
    assert msg.get_body(("html",)).get_content().strip() == "<p>Hello Zoë</p>"  # type: ignore[union-attr]
    [att] = list(msg.iter_attachments())
    assert att.get_filename() == "invoice.pdf" and att.get_content() == b"%PDF-1.4 data"
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))


def test_without_attachments_it_is_multipart_alternative() -> None:
    raw = build_message(
        MessageParts(
            from_name="",
            from_address="a@b.c",
            to=["d@e.f"],
            cc=[],
            subject="s",
            text="t",
            html="<p>h</p>",
            message_id="<x@b.c>",
            date=datetime(2026, 1, 1, tzinfo=UTC),
        )
    )
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/alternative" and msg["Cc"] is None


CASES = [
    dict(
        subject="Plain ASCII subject that is long enough to be folded by the standard library: $53.75 due",
        text="hi\n",
        html="<p>hi</p>",
    ),
    dict(subject="Zoë’s certificate — Nike", text="Hi Zoë,\nline two\n", html="<p>Hi Zoë</p>", from_name="ten99 Ünïcode"),
    dict(subject="s", text="x" * 1200 + "\n", html="<p>" + "y" * 1500 + "</p>"),  # lines too long for 7bit
    dict(subject="s", text="t", html="h", filename="Zertifikat für Zoë.pdf"),
    dict(subject="s", text="t", html="h", to=["zoë@exämple.com"]),  # needs SMTPUTF8: the library path
    dict(subject="s", text="t", html="h", to=[f"user{i}@example.com" for i in range(60)]),  # a To line over 998
]


@pytest.mark.parametrize("case", CASES)
def test_the_fast_writer_and_the_library_agree(case: dict) -> None:  # type: ignore[type-arg]
    fields = dict(
        from_name=case.get("from_name", "ten99"),
        from_address="no-reply@ten99.local",
        to=case.get("to", ["ada@example.com"]),
        cc=["billing@acme.test"],
        subject=case["subject"],
        text=case["text"],
        html=case["html"],
        message_id="<dl_1@ten99.local>",
        date=datetime(2026, 11, 2, 15, 4, 5, tzinfo=UTC),
        attachments=[Attachment(case.get("filename", "a.pdf"), "application/pdf", bytes(range(256)) * 10)],
        headers={"X-Ten99-Delivery": "dl_1"},
    )

    def parse(raw: bytes) -> Any:
        if all(a.isascii() for a in fields["to"]):  # type: ignore[attr-defined]
            return email.message_from_bytes(raw, policy=email.policy.default)
        # SMTPUTF8 headers are raw UTF-8, which the bytes parser leaves undecoded
        return email.message_from_string(raw.decode("utf-8"), policy=email.policy.default)

    fast = parse(build_message(MessageParts(**fields)))  # type: ignore[arg-type]
    slow = parse(build_message_with_library(MessageParts(**fields)))  # type: ignore[arg-type]
    for m in (fast, slow):
        assert m["Subject"] == case["subject"]
        assert [a.addr_spec for a in m["To"].addresses] == fields["to"]
        assert m["From"].addresses[0].display_name == fields["from_name"]
        assert m["Message-ID"] == "<dl_1@ten99.local>" and m["X-Ten99-Delivery"] == "dl_1"
        assert m.get_body(("plain",)).get_content().replace("\r\n", "\n").rstrip("\n") == case["text"].rstrip("\n")  # type: ignore[union-attr]
        assert m.get_body(("html",)).get_content().replace("\r\n", "\n").strip() == case["html"]  # type: ignore[union-attr]
        [att] = list(m.iter_attachments())
        assert att.get_filename() == case.get("filename", "a.pdf") and att.get_content() == bytes(range(256)) * 10
        assert not m.defects and all(not p.defects for p in m.walk())
    raw = build_message(MessageParts(**fields))  # type: ignore[arg-type]
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))


def test_errors_are_temporary_or_permanent() -> None:
    assert not classify(aiosmtplib.SMTPDataError(451, "try later")).permanent
    assert classify(aiosmtplib.SMTPDataError(554, "rejected")).permanent
    assert not classify(aiosmtplib.SMTPResponseException(535, "bad credentials")).permanent
    refused_hard = aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(550, "no such user", "x@y.z")])
    assert classify(refused_hard).permanent
    refused_soft = aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(450, "greylisted", "x@y.z")])
    assert not classify(refused_soft).permanent
    assert not classify(aiosmtplib.SMTPConnectError("refused")).permanent
    assert not classify(ConnectionResetError()).permanent
    assert classify(ValueError("bad address")).permanent
    assert "550 no such user" in (classify(refused_hard).error or "")
