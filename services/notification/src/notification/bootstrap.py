"""Composition root of the notification service: the only place that knows concrete adapters
(the SMTP pool, the Jinja renderer, the development catcher)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from ten99_contracts.billing_v1 import InvoiceIssuedV1, PoReminderDueV1
from ten99_contracts.enrollment_v1 import InvitationIssuedV1, InvitationReminderDueV1
from ten99_contracts.gateway_v1 import CompanyCreatedV1
from ten99_contracts.policy_v1 import CertificateIssuedV1, CoverageCancelledV1, CoverageExtendedV1
from ten99kit import Runtime, ServiceDefinition, ServiceParts, Subscription

from .adapters.catcher import MailboxReader, MailCatcher
from .adapters.db import metadata
from .adapters.rendering import EmailRenderer
from .adapters.smtp import SmtpPool
from .api import DeliveryController, MailboxController
from .application.composing import EmailComposer
from .application.housekeeping import housekeeping_job
from .application.reactions import CompanyDirectory, Reactions
from .application.sending import DeliverySender
from .settings import NotificationSettings

__all__ = ["build", "definition"]


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
    mailbox = MailboxReader(runtime.db)
    housekeeping = housekeeping_job(
        runtime.db,
        attachment_retention_days=settings.delivery.attachment_retention_days,
        mailbox=mailbox if catcher else None,
        catcher_keep=smtp.catcher_keep,
    )
    reactions = Reactions(composer, CompanyDirectory(), from_address=smtp.from_address, wake_sender=sender.wake)
    background: list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]] = [sender.run]
    if catcher is not None:
        background.insert(0, catcher.run)
    return ServiceParts(
        route_handlers=[DeliveryController, MailboxController],
        subscriptions=[
            Subscription(CompanyCreatedV1.SUBJECT, reactions.on_company_created),
            Subscription(InvitationIssuedV1.SUBJECT, reactions.on_invitation_issued),
            Subscription(InvitationReminderDueV1.SUBJECT, reactions.on_invitation_reminder_due),
            Subscription(CertificateIssuedV1.SUBJECT, reactions.on_certificate_issued),
            Subscription(CoverageCancelledV1.SUBJECT, reactions.on_coverage_cancelled),
            Subscription(CoverageExtendedV1.SUBJECT, reactions.on_coverage_extended),
            Subscription(PoReminderDueV1.SUBJECT, reactions.on_po_reminder_due),
            Subscription(InvoiceIssuedV1.SUBJECT, reactions.on_invoice_issued),
        ],
        # "sender" is not used by routes: tests and operators reach it as parts.dependencies["sender"]
        dependencies={"db": runtime.db, "mailbox": mailbox, "sender": sender},
        jobs=[housekeeping],
        background=background,
        on_shutdown=[pool.close],
    )


definition = ServiceDefinition(
    name="notification",
    settings_type=NotificationSettings,
    metadata=metadata,
    migrations=Path(__file__).parent / "migrations",
    build=build,
)
