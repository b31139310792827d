"""Settings of the notification service (env prefix ``NOTIFICATION_``).

NOTIFICATION_SMTP__HOST / __PORT / __USERNAME / __PASSWORD / __STARTTLS / __FROM_ADDRESS
NOTIFICATION_SMTP__CATCHER=true      run the development catcher and send to it
NOTIFICATION_SMTP__CATCHER_PORT      (1025)
NOTIFICATION_SMTP__POOL_SIZE         persistent SMTP connections used concurrently
NOTIFICATION_DELIVERY__MAX_ATTEMPTS / __BACKOFF_BASE_S / __BACKOFF_MAX_S / __BATCH_SIZE ...
NOTIFICATION_DASHBOARD_URL           base URL of the dashboard, for links in emails
NOTIFICATION_WEBHOOK_SECRET_KEYS     JSON list of secrets deriving the keys that encrypt webhook signing
                                     secrets at rest (the first encrypts, all decrypt: rotate by prepending)
NOTIFICATION_WEBHOOKS__ALLOW_PRIVATE_TARGETS  deliver to private/loopback addresses (default: only in development)
NOTIFICATION_WEBHOOKS__... timeouts, concurrency, retry window, event retention (see `WebhookSettings`)

The default webhook secret key is for development only: outside development
(``NOTIFICATION_DEVELOPMENT`` unset) the service refuses to start with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import BaseModel, Field, SecretStr
from ten99kit.settings import ServiceSettings, service_settings_config

__all__ = ["DEV_WEBHOOK_SECRET_KEY", "DeliverySettings", "NotificationSettings", "SmtpSettings", "WebhookSettings"]

#: DEVELOPMENT ONLY: set NOTIFICATION_WEBHOOK_SECRET_KEYS in production.
DEV_WEBHOOK_SECRET_KEY = "ten99-development-only-webhook-secret-key"  # noqa: S105


class SmtpSettings(BaseModel):
    #: the SMTP relay's host
    host: str = "127.0.0.1"
    #: the SMTP relay's port (587 for STARTTLS, 465 for implicit TLS)
    port: int = 1025
    #: SMTP AUTH user; empty: no AUTH
    username: str = ""
    #: empty: no AUTH (the development default; a real relay needs one)
    password: SecretStr = SecretStr("")
    #: upgrade the connection with STARTTLS (port 587)
    starttls: bool = False
    #: implicit TLS (port 465); use either this or ``starttls``
    use_tls: bool = False
    #: check the SMTP server's certificate when TLS is used
    validate_certs: bool = True
    #: the From address of every email
    from_address: str = "no-reply@ten99.local"
    #: the From display name
    from_name: str = "ten99"
    #: seconds to wait for the SMTP server (connect and each command)
    timeout_s: float = 30.0
    #: persistent connections, each carrying one message at a time, many messages in a row
    pool_size: int = 8
    #: run the development SMTP catcher in this process and send every email to it
    catcher: bool = False
    #: where the development catcher listens
    catcher_host: str = "127.0.0.1"
    #: the development catcher's port
    catcher_port: int = 1025
    #: the catcher keeps this many newest messages
    catcher_keep: int = 10_000


class DeliverySettings(BaseModel):
    #: attempts before a delivery is marked failed (a 5xx answer fails it at once)
    max_attempts: int = 10
    #: the retry after attempt n waits base * 2**(n-1) seconds, at most ``backoff_max_s``
    backoff_base_s: float = 30.0
    #: the longest wait between two attempts
    backoff_max_s: float = 3600.0
    #: deliveries claimed per round trip to the database
    batch_size: int = 200
    #: claimed batches being sent at the same time (overlaps database work with SMTP work)
    batches_in_flight: int = 2
    #: the sender wakes at once when deliveries commit in this process; this is the fallback
    poll_interval_s: float = 0.5
    #: a claimed delivery whose sender vanished is claimed again after this long; the sender
    #: renews its claims every third of it while it sends them
    lease_s: float = 60.0
    #: rows of a PO reminder's list shown in the email (the rest: a count and the link)
    po_reminder_max_rows: int = 50
    #: attached files of finished deliveries are dropped after this many days (the log row stays)
    attachment_retention_days: float = 30.0


class WebhookSettings(BaseModel):
    #: deliver to private, loopback, link-local and reserved addresses; None: only in development
    allow_private_targets: bool | None = None
    #: http:// endpoint URLs; None: only in development (https is always accepted)
    allow_http: bool | None = None
    #: seconds to connect to a webhook endpoint
    connect_timeout_s: float = 5.0
    #: the whole attempt (resolving, connecting, sending, reading the answer's start)
    total_timeout_s: float = 10.0
    #: bytes of the answer kept with an attempt (the rest is not read)
    response_excerpt_bytes: int = 1024
    #: attempts under way at once, all endpoints together (sixteen endpoints that all hang fill them)
    max_in_flight: int = 64
    #: attempts under way at once for one endpoint (a slow one holds only these). A fast endpoint's
    #: throughput is this many over one attempt's round (claim, POST, record: 20-80 ms here), so 4
    #: keeps 50 events/s to one endpoint from queueing on a busy machine
    max_in_flight_per_endpoint: int = 4
    #: attempts under way at once for an endpoint proven by a success and not failing since: it
    #: takes a burst (50 events/s with a round of 100-300 ms on a loaded machine needs 5 to 15);
    #: a new endpoint, or one whose attempt failed, has ``max_in_flight_per_endpoint``, so a slow or
    #: dead endpoint still holds only those few
    max_in_flight_per_healthy_endpoint: int = 16
    #: waits between attempts (seconds); the last one repeats until ``retry_for_s`` is over
    retry_schedule_s: list[float] = Field(default_factory=lambda: [5.0, 30.0, 120.0, 600.0, 1800.0, 3600.0, 10800.0])
    #: a delivery is retried for this long after its first attempt, then marked failed
    retry_for_s: float = 3 * 86400
    #: an endpoint whose attempts have all failed for this long is disabled (and the company told)
    disable_after_s: float = 5 * 86400
    #: a claimed delivery whose worker vanished is claimed again after this long
    lease_s: float = 60.0
    #: the worker wakes on new deliveries in this process; this is the fallback poll
    poll_interval_s: float = 1.0
    #: events are kept this many days
    event_retention_days: float = 30.0
    #: longest endpoint URL accepted
    max_url_length: int = 2048


class NotificationSettings(ServiceSettings):
    model_config = service_settings_config("NOTIFICATION_")

    service_name: ClassVar[str] = "notification"
    default_port: ClassVar[int] = 8005
    development_secrets: ClassVar[Mapping[str, str]] = {"webhook_secret_keys": DEV_WEBHOOK_SECRET_KEY}

    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    #: secrets from which the Fernet keys encrypting endpoints' signing secrets are derived
    webhook_secret_keys: list[SecretStr] = Field(default_factory=lambda: [SecretStr(DEV_WEBHOOK_SECRET_KEY)])
    #: the gateway's public URL; links to dashboard pages in emails start with it
    dashboard_url: str = "http://127.0.0.1:8000"
    #: the dashboard page listing assignments without a PO number (linked from the PO reminder)
    missing_po_path: str = "/po/missing"
