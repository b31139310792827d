"""Emails as the notification context sees them: one per (tenant, template, business key), sent
at least once and recorded exactly once, retried with exponential backoff until it is sent or
given up."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta

__all__ = ["TEMPLATES", "Attachment", "DeliveryStatus", "OutgoingEmail", "RetryPolicy", "clean_addresses", "one_line"]

#: every kind of email, by template name
TEMPLATES = (
    "invitation",
    "invitation_reminder",
    "portal_link",
    "certificate",
    "coverage_cancelled",
    "coverage_extended",
    "po_reminder",
    "coverage_gap",
    "invoice",
    "webhook_disabled",
)


class DeliveryStatus(enum.StrEnum):
    QUEUED = "queued"  # waiting for its (next) attempt
    SENDING = "sending"  # claimed by a sender
    SENT = "sent"  # accepted by the SMTP server
    FAILED = "failed"  # given up: permanent refusal or out of attempts


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes = field(repr=False)


@dataclass(frozen=True)
class OutgoingEmail:
    """A rendered email and what makes it unique: ``dedupe_key`` names the business event, so the
    same event delivered twice, or replayed in another envelope, yields one email."""

    template: str
    dedupe_key: str
    to: list[str]
    subject: str
    text: str
    html: str
    cc: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    related_id: str | None = None
    contractor_id: str | None = None


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    backoff_base_s: float
    backoff_max_s: float

    def delay_after(self, attempts: int) -> timedelta:
        """Wait before the next attempt, ``attempts`` having been made: base, 2 x base, 4 x base, ..."""
        exponent = max(attempts - 1, 0)
        seconds = self.backoff_base_s * (2 ** min(exponent, 30))
        return timedelta(seconds=min(seconds, self.backoff_max_s))

    def next_attempt(self, attempts: int, now: datetime) -> datetime | None:
        """When to try again, or None when the attempts are used up."""
        if attempts >= self.max_attempts:
            return None
        return now + self.delay_after(attempts)


def one_line(value: str, limit: int = 250) -> str:
    """A header-safe single line (no CR/LF injection), trimmed to ``limit`` characters."""
    text = " ".join(value.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clean_addresses(*groups: list[str] | tuple[str, ...], exclude: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Trimmed, non-empty, header-safe addresses, first occurrence kept (case-insensitive)."""
    seen = {a.strip().lower() for a in exclude}
    out: list[str] = []
    for group in groups:
        for raw in group:
            address = one_line(raw or "", 320)
            key = address.lower()
            if address and key not in seen:
                seen.add(key)
                out.append(address)
    return out
