"""Composition root of the billing service: the only place that knows concrete adapters."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import cast

from ten99kit import Runtime, ScheduledJob, ServiceDefinition, ServiceParts

from .adapters.consumers import inputs_applied
from .adapters.db import metadata
from .adapters.pdf import render_invoice_pdf, warm_up_in_background
from .api import route_handlers
from .application.issuing import InvoiceIssuer
from .application.reactions import Reactions
from .application.reminders import PoReminders
from .settings import BillingSettings

__all__ = ["build", "definition"]


def build(runtime: Runtime) -> ServiceParts:
    settings = cast(BillingSettings, runtime.settings)

    async def consumers_caught_up() -> bool:
        # the runtime makes its consumer after this function returns: look it up when asked
        return await inputs_applied(runtime.bus, runtime.consumer)

    issuer = InvoiceIssuer(runtime.db, settings, render_invoice_pdf, inputs_applied=consumers_caught_up)
    reminders = PoReminders(runtime.db, settings)
    reactions = Reactions(
        po_reminder_delay=timedelta(hours=settings.po_reminder.delay_hours),
        wake_issuer=issuer.wake_after_commit,
        warm_up=warm_up_in_background,
    )
    return ServiceParts(
        route_handlers=route_handlers,
        subscriptions=reactions.subscriptions(),
        jobs=[ScheduledJob("issue_invoices", issuer.job), ScheduledJob("po_reminders", reminders.job)],
        dependencies={"db": runtime.db, "config": settings, "issuer": issuer},
        background=[issuer.run],
    )


definition = ServiceDefinition(
    name="billing",
    settings_type=BillingSettings,
    metadata=metadata,
    migrations=Path(__file__).parent / "migrations",
    build=build,
)
