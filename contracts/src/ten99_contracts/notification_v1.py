"""Messages the notification service publishes: the outcome of each email."""

from __future__ import annotations

from .base import Message

__all__ = ["EmailDeliveredV1", "EmailFailedV1"]


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
