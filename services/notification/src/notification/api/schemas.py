"""What the notification API answers, as msgspec Structs (so the OpenAPI documents each body).
Keys are always present, null when there is no value; instants are ISO 8601 text."""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = [
    "AttachmentInfo",
    "CaughtMail",
    "CaughtMailDetail",
    "CaughtMailList",
    "Delivery",
    "DeliveryDetail",
    "MailEnvelope",
    "MailboxCleared",
]


class AttachmentInfo(msgspec.Struct, frozen=True, kw_only=True):
    """An attached file, by its place in the message (its content is fetched separately)."""

    index: int
    filename: str | None
    content_type: str
    size: int


class Delivery(msgspec.Struct, frozen=True, kw_only=True):
    """One email of the delivery log."""

    id: str
    object: Literal["email_delivery"] = "email_delivery"
    template: str
    to: list[str]
    cc: list[str]
    subject: str
    status: str
    attempts: int
    last_error: str | None
    #: when the next attempt is due; null unless the email is queued
    next_attempt_at: str | None
    created_at: str | None
    sent_at: str | None
    related_id: str | None
    contractor_id: str | None
    has_attachments: bool
    message_id: str


class DeliveryDetail(Delivery, frozen=True, kw_only=True):
    """One email with its rendered bodies (opt-in links redacted once finished) and its files."""

    text: str
    html: str
    attachments: list[AttachmentInfo]


class CaughtMail(msgspec.Struct, frozen=True, kw_only=True):
    """A message caught by the development SMTP catcher (headers as received)."""

    id: str
    received_at: str
    from_: str = msgspec.field(name="from")
    to: str
    cc: str
    subject: str
    size: int
    message_id: str | None


class CaughtMailList(msgspec.Struct, frozen=True, kw_only=True):
    total: int
    messages: list[CaughtMail]


class MailEnvelope(msgspec.Struct, frozen=True, kw_only=True):
    """The SMTP envelope: who sent it and to whom it was delivered."""

    mail_from: str
    rcpt_to: list[str]


class CaughtMailDetail(CaughtMail, frozen=True, kw_only=True):
    """A caught message read: its envelope, its headers in order, its text and HTML bodies and
    its files."""

    envelope: MailEnvelope
    #: ``[name, value]`` pairs, in the message's order
    headers: list[list[str]]
    text: str | None
    html: str | None
    attachments: list[AttachmentInfo]


class MailboxCleared(msgspec.Struct, frozen=True, kw_only=True):
    deleted: int
