"""What the notification API answers, as msgspec Structs (so the OpenAPI documents each body).
Keys are always present, null when there is no value; instants are ISO 8601 text, except in the
1099Policy-shaped events and webhooks, whose times are Unix seconds."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

__all__ = [
    "AttachmentInfo",
    "CaughtMail",
    "CaughtMailDetail",
    "CaughtMailList",
    "DeletedWebhookEndpoint",
    "Delivery",
    "DeliveryDetail",
    "Event",
    "EventData",
    "MailEnvelope",
    "MailboxCleared",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEndpointCreate",
    "WebhookEndpointUpdate",
    "WebhookEndpointWithSecret",
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
    #: the files it carries (listed too, so the Mailbox shows which mail has a PDF)
    attachments: list[AttachmentInfo] = msgspec.field(default_factory=list)


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


class MailboxCleared(msgspec.Struct, frozen=True, kw_only=True):
    deleted: int


# -- events and webhooks (1099Policy's shapes: prefixed ids, ``object`` tags, epoch seconds) --------


class EventData(msgspec.Struct, frozen=True, kw_only=True):
    #: the object's state when the event happened, with its ``id`` and ``object`` type tag
    object: dict[str, Any]


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """A public event (``ev_...``): what happened to one object of the company."""

    id: str
    object: Literal["event"] = "event"
    type: str
    #: when it was recorded, Unix seconds
    created: int
    data: EventData


class WebhookEndpoint(msgspec.Struct, frozen=True, kw_only=True):
    """A company's webhook endpoint. Its signing secret is shown only when it is made or rotated."""

    id: str
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    url: str
    description: str | None
    #: subscribed event types; ``["*"]`` for all
    events: list[str]
    status: Literal["enabled", "disabled"]
    #: why it is disabled (by the company, or after days of failures); null when enabled
    disabled_reason: str | None
    created: int
    updated: int
    #: after a rotation: until when deliveries are signed with the old secret too (Unix seconds)
    previous_secret_expires: int | None = None


class WebhookEndpointWithSecret(WebhookEndpoint, frozen=True, kw_only=True):
    """The endpoint with its Standard Webhooks signing secret (``whsec_...``), shown this once."""

    secret: str


class WebhookEndpointCreate(msgspec.Struct, frozen=True, kw_only=True):
    url: str
    description: str | None = None
    #: event types to hear; omitted, ``"*"`` or ``["*"]`` for all
    events: list[str] | str | None = None


class WebhookEndpointUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """A PUT: only the fields given change."""

    url: str | UnsetType = UNSET
    description: str | UnsetType | None = UNSET
    events: list[str] | str | UnsetType | None = UNSET
    status: Literal["enabled", "disabled"] | UnsetType = UNSET


class DeletedWebhookEndpoint(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    deleted: bool = True


class WebhookAttempt(msgspec.Struct, frozen=True, kw_only=True):
    """One attempt to deliver an event to an endpoint (``id`` is ``<delivery id>.<number>``)."""

    id: str
    object: Literal["webhook_delivery_attempt"] = "webhook_delivery_attempt"
    delivery: str
    event: str
    event_type: str
    #: the attempt's number within its delivery (1, 2, ...)
    number: int
    attempted_at: int
    succeeded: bool
    #: the endpoint's HTTP status; null when no answer came (refused, timed out, unreachable)
    status_code: int | None
    latency_ms: int
    #: the first 1 KB of the answer
    response_excerpt: str | None
    error: str | None
    #: the delivery's state now: pending | delivering | succeeded | failed
    delivery_status: str | None
    #: when the delivery's next attempt is due, if it is waiting for one
    next_attempt_at: int | None


class WebhookDelivery(msgspec.Struct, frozen=True, kw_only=True):
    """One event's delivery to one endpoint, retried until it succeeds or its window ends."""

    id: str
    object: Literal["webhook_delivery"] = "webhook_delivery"
    endpoint: str
    event: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: int | None
    last_status_code: int | None
    last_error: str | None
    created: int
