"""Messages the notification service publishes: the outcome of each email, and changes to a
company's webhook endpoints."""

from __future__ import annotations

from .base import Message

__all__ = ["EmailDeliveredV1", "EmailFailedV1", "WebhookEndpointChangedV1"]


class EmailDeliveredV1(Message, frozen=True, kw_only=True):
    SUBJECT = "ten99.notification.email_delivered.v1"

    delivery_id: str
    template: str
    to: list[str]
    cc: list[str] = []
    related_id: str | None = None


class EmailFailedV1(Message, frozen=True, kw_only=True):
    SUBJECT = "ten99.notification.email_failed.v1"

    delivery_id: str
    template: str
    to: list[str]
    error: str
    attempts: int
    related_id: str | None = None


class WebhookEndpointChangedV1(Message, frozen=True, kw_only=True):
    """A company's webhook endpoint changed: ``change`` is created, updated (url, events or
    description), enabled, disabled (by the company, or by the deliverer after failing too long:
    ``disabled_reason`` says which), deleted or secret_rotated. Carries the endpoint as it is
    after the change (as it was, for deleted); never its signing secret."""

    SUBJECT = "ten99.notification.webhook_endpoint_changed.v1"

    endpoint_id: str
    change: str
    url: str
    events: list[str]
    description: str | None = None
    enabled: bool
    disabled_reason: str | None = None
