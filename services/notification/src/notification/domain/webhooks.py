"""Webhook endpoints and deliveries as rules, no I/O: what URL an endpoint may have, which events
it hears, what a signing secret looks like, which addresses a delivery may reach, and when the
next attempt is due."""

from __future__ import annotations

import base64
import enum
import ipaddress
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from ten99kit import InvalidInput

from .public_events import EVENT_TYPES

__all__ = [
    "ALL_EVENTS",
    "SECRET_ROTATION_OVERLAP",
    "DeliveryState",
    "EndpointStatus",
    "RetrySchedule",
    "check_event_types",
    "check_url",
    "is_public_address",
    "new_signing_secret",
    "subscribed",
]

ALL_EVENTS = "*"


class EndpointStatus(enum.StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"


class DeliveryState(enum.StrEnum):
    PENDING = "pending"  # waiting for its (next) attempt
    DELIVERING = "delivering"  # claimed by a worker (until its lease lapses)
    SUCCEEDED = "succeeded"  # the endpoint answered 2xx
    FAILED = "failed"  # given up: out of its retry window, or the endpoint was disabled


#: after a rotation the old secret signs beside the new one this long (Standard Webhooks'
#: ``webhook-signature`` carries several: ``v1,<new> v1,<old>``), so that a receiver can switch over
SECRET_ROTATION_OVERLAP = timedelta(hours=24)


def new_signing_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def check_url(url: str, *, allow_http: bool, max_length: int) -> str:
    """The endpoint URL as given, or ``invalid_input``: https (http only where allowed), a host,
    no user name or password in it, no fragment, at most ``max_length`` characters."""
    url = url.strip()
    if not url or len(url) > max_length:
        raise InvalidInput({"url": f"must be a URL of at most {max_length} characters"})
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidInput({"url": "is not a valid URL"}) from None
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes:
        raise InvalidInput({"url": "must start with https://" if not allow_http else "must be an http(s) URL"})
    if not parts.hostname:
        raise InvalidInput({"url": "must name a host"})
    if parts.username is not None or parts.password is not None:
        raise InvalidInput({"url": "must not contain a user name or password"})
    if parts.fragment:
        raise InvalidInput({"url": "must not contain a fragment (#...)"})
    if port == 0:
        raise InvalidInput({"url": "has an invalid port"})
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise InvalidInput({"url": "must not contain spaces or control characters"})
    return url


def check_event_types(events: Sequence[str] | None) -> list[str]:
    """The subscribed types, ``["*"]`` for all (omitted, empty or containing ``*``); an unknown
    type is ``invalid_input`` naming it."""
    if not events or ALL_EVENTS in events:
        return [ALL_EVENTS]
    unknown = sorted({e for e in events if e not in EVENT_TYPES})
    if unknown:
        raise InvalidInput({"events": f"unknown event type(s): {', '.join(unknown)}"})
    return sorted(set(events))


def subscribed(endpoint_events: Sequence[str], event_type: str) -> bool:
    return ALL_EVENTS in endpoint_events or event_type in endpoint_events


def is_public_address(address: str) -> bool:
    """False for private, loopback, link-local, multicast, reserved and unspecified addresses (an
    IPv4 address mapped into IPv6 is judged as the IPv4 one)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


@dataclass(frozen=True)
class RetrySchedule:
    """Waits between attempts (the last repeats), for ``retry_for`` after a delivery's round began."""

    waits_s: tuple[float, ...]
    retry_for: timedelta

    def next_attempt(self, round_attempts: int, round_started_at: datetime, now: datetime) -> datetime | None:
        """When to try again after the ``round_attempts``-th failed attempt, or None (give up)."""
        wait = self.waits_s[min(max(round_attempts, 1), len(self.waits_s)) - 1]
        at = now + timedelta(seconds=wait)
        return at if at <= round_started_at + self.retry_for else None
