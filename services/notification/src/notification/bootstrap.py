"""Composition root of the notification service: the only place that knows concrete adapters
(the SMTP pool, the Jinja renderer, the development catcher, the webhook poster)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from ten99_contracts.billing_v1 import InvoiceIssuedV1, PoReminderDueV1
from ten99_contracts.contractor_v1 import CoverageGapAlertDueV1
from ten99_contracts.enrollment_v1 import InvitationIssuedV1, InvitationReminderDueV1, PortalLinkRequestedV1
from ten99_contracts.gateway_v1 import CompanyCreatedV1
from ten99_contracts.policy_v1 import CertificateIssuedV1, CoverageCancelledV1, CoverageExtendedV1
from ten99kit import Runtime, ScheduledJob, ServiceDefinition, ServiceParts, Subscription
from ten99kit.crypto import FieldCipher, derive_key
from ten99kit.inbox import Handler

from .adapters.catcher import MailboxReader, MailCatcher
from .adapters.db import metadata
from .adapters.rendering import EmailRenderer
from .adapters.smtp import SmtpPool
from .adapters.webhook_http import WebhookPoster
from .api import (
    DeliveryController,
    EventController,
    LedgerController,
    MailboxController,
    WebhookDeliveryController,
    WebhookEndpointController,
)
from .application.composing import EmailComposer
from .application.endpoints import EndpointRules, Endpoints
from .application.events import EventRecorder, both
from .application.housekeeping import housekeeping_job
from .application.ledger import LEDGER_VERIFY, Ledger
from .application.reactions import CompanyDirectory, Reactions
from .application.sending import DeliverySender
from .application.webhooks import WebhookDeliverer
from .domain.ledger import LEDGER
from .domain.public_events import MAPPINGS
from .settings import NotificationSettings

__all__ = ["build", "definition"]


#: seconds the ledger's consumers let entries gather: one chained append per company per batch
#: (docs/audit-ledger.md has what 0, 0.05 and 0.2 cost)
LEDGER_LINGER_S = 0.05


def _subscriptions(reactions: Reactions, recorder: EventRecorder, ledger: Ledger) -> list[Subscription]:
    """One subscription per subject for the email reaction, the public event, or both in turn;
    and the audit ledger's own (named "ledger"): entries are chained under the company's lock, so
    they run at their own pace, in batches, and never hold up an email or a webhook."""
    emails: dict[str, Handler] = {
        CompanyCreatedV1.SUBJECT: reactions.on_company_created,
        InvitationIssuedV1.SUBJECT: reactions.on_invitation_issued,
        InvitationReminderDueV1.SUBJECT: reactions.on_invitation_reminder_due,
        PortalLinkRequestedV1.SUBJECT: reactions.on_portal_link_requested,
        CertificateIssuedV1.SUBJECT: reactions.on_certificate_issued,
        CoverageCancelledV1.SUBJECT: reactions.on_coverage_cancelled,
        CoverageExtendedV1.SUBJECT: reactions.on_coverage_extended,
        PoReminderDueV1.SUBJECT: reactions.on_po_reminder_due,
        CoverageGapAlertDueV1.SUBJECT: reactions.on_coverage_gap_alert_due,
        InvoiceIssuedV1.SUBJECT: reactions.on_invoice_issued,
    }
    handlers: dict[str, Handler] = dict(emails)
    for subject in MAPPINGS:
        handlers[subject] = both(emails[subject], recorder.on_message) if subject in emails else recorder.on_message
    return [Subscription(subject, handler) for subject, handler in handlers.items()] + [
        Subscription(subject, ledger.on_message, linger_s=LEDGER_LINGER_S, name="ledger") for subject in LEDGER
    ]


def _webhooks(
    runtime: Runtime, settings: NotificationSettings, composer: EmailComposer, sender: DeliverySender
) -> tuple[WebhookPoster, WebhookDeliverer, Endpoints]:
    hooks = settings.webhooks
    development = settings.development
    poster = WebhookPoster(
        allow_private=development if hooks.allow_private_targets is None else hooks.allow_private_targets,
        connect_timeout_s=hooks.connect_timeout_s,
        total_timeout_s=hooks.total_timeout_s,
        excerpt_bytes=hooks.response_excerpt_bytes,
        max_connections=hooks.max_in_flight,
    )
    cipher = FieldCipher([derive_key(k.get_secret_value(), "notification-webhook-secret") for k in settings.webhook_secret_keys])
    deliverer = WebhookDeliverer(
        runtime.db,
        poster.post,
        cipher,
        hooks,
        composer=composer,
        from_address=settings.smtp.from_address,
        wake_sender=sender.wake,
    )
    rules = EndpointRules(
        allow_http=development if hooks.allow_http is None else hooks.allow_http, max_url_length=hooks.max_url_length
    )
    return poster, deliverer, Endpoints(runtime.db, cipher, rules, deliverer.wake)


def build(runtime: Runtime) -> ServiceParts:
    settings = runtime.settings
    assert isinstance(settings, NotificationSettings)
    smtp = settings.smtp
    catcher = MailCatcher(runtime.db, host=smtp.catcher_host, port=smtp.catcher_port) if smtp.catcher else None
    host, port = (smtp.catcher_host, smtp.catcher_port) if catcher else (smtp.host, smtp.port)
    pool = SmtpPool(smtp, host=host, port=port)
    sender = DeliverySender(
        runtime.db, pool.send, smtp=smtp, delivery=settings.delivery, ready=catcher.ready if catcher else None
    )
    composer = EmailComposer(
        EmailRenderer(),
        dashboard_url=settings.dashboard_url,
        missing_po_path=settings.missing_po_path,
        po_reminder_max_rows=settings.delivery.po_reminder_max_rows,
    )
    poster, deliverer, endpoints = _webhooks(runtime, settings, composer, sender)
    mailbox = MailboxReader(runtime.db)
    housekeeping = housekeeping_job(
        runtime.db,
        attachment_retention_days=settings.delivery.attachment_retention_days,
        event_retention_days=settings.webhooks.event_retention_days,
        mailbox=mailbox if catcher else None,
        catcher_keep=smtp.catcher_keep,
    )
    reactions = Reactions(composer, CompanyDirectory(), from_address=smtp.from_address, wake_sender=sender.wake)
    background: list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]] = [sender.run, deliverer.run]
    if catcher is not None:
        background.insert(0, catcher.run)
    return ServiceParts(
        route_handlers=[
            DeliveryController,
            MailboxController,
            EventController,
            LedgerController,
            WebhookEndpointController,
            WebhookDeliveryController,
        ],
        subscriptions=_subscriptions(reactions, EventRecorder(deliverer.wake), Ledger()),
        # "sender" and "deliverer" are not used by routes: tests and operators reach them as
        # parts.dependencies[...]
        dependencies={"db": runtime.db, "mailbox": mailbox, "sender": sender, "deliverer": deliverer, "endpoints": endpoints},
        # the endpoint health check runs on the clock too: a dead endpoint's last delivery gives
        # up after 3 days, and nothing else would disable it at 5
        jobs=[housekeeping, ScheduledJob("webhook_endpoint_health", deliverer.disable_failing_endpoints)],
        background=background,
        on_shutdown=[pool.close, poster.close],
    )


definition = ServiceDefinition(
    name="notification",
    settings_type=NotificationSettings,
    metadata=metadata,
    migrations=Path(__file__).parent / "migrations",
    build=build,
    commands={"ledger-verify": LEDGER_VERIFY},
)
