"""Composition root of the billing service: the only place that knows concrete adapters."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import cast

from ten99_contracts.contractor_v1 import (
    AssignmentCancelledV1,
    AssignmentCreatedV1,
    AssignmentUpdatedV1,
    ContractorDeletedV1,
    ContractorRegisteredV1,
    ContractorUpdatedV1,
    ImportCompletedV1,
    JobDeletedV1,
    JobUpsertedV1,
    PoNumberSetV1,
)
from ten99_contracts.enrollment_v1 import ApplicationCompletedV1
from ten99_contracts.gateway_v1 import CompanyCreatedV1
from ten99_contracts.policy_v1 import CoverageBoundV1, CoverageCancelledV1, CoverageExtendedV1, CoverageRetimedV1
from ten99kit import (
    Backoff,
    PollingWorker,
    Runtime,
    ScheduledJob,
    ServiceDefinition,
    ServiceParts,
    Subscription,
)
from ten99kit.request_keys import purge_request_keys

from .adapters.consumers import inputs_applied
from .adapters.db import metadata, request_keys
from .adapters.pdf import render_invoice_pdf, warm_up_in_background
from .api import route_handlers
from .application import usage_facts
from .application.issuing import InvoiceIssuer
from .application.reactions import Reactions
from .application.reminders import PoReminders
from .settings import BillingSettings

__all__ = ["build", "definition"]

#: No one waits on billing's copies of other contexts' facts (invoices are issued from them in
#: the background): its consumers let messages gather this long after a fetch and apply them,
#: and wake the issuer, in fewer transactions.
LINGER_S = 0.2


def subscriptions(reactions: Reactions) -> list[Subscription]:
    return [
        Subscription(subject, handler, linger_s=LINGER_S)
        for subject, handler in (
            (CompanyCreatedV1.SUBJECT, reactions.on_company_created),
            (AssignmentCreatedV1.SUBJECT, reactions.on_assignment_state),
            (AssignmentUpdatedV1.SUBJECT, reactions.on_assignment_state),
            (AssignmentCancelledV1.SUBJECT, reactions.on_assignment_cancelled),
            (PoNumberSetV1.SUBJECT, reactions.on_po_number_set),
            (ImportCompletedV1.SUBJECT, reactions.on_import_completed),
            (CoverageBoundV1.SUBJECT, reactions.on_coverage_changed),
            (CoverageRetimedV1.SUBJECT, reactions.on_coverage_changed),
            (CoverageExtendedV1.SUBJECT, reactions.on_coverage_changed),
            (CoverageCancelledV1.SUBJECT, reactions.on_coverage_cancelled),
        )
    ] + [
        # what usage invoices are checked and priced against (nothing to issue: no linger)
        Subscription(subject, handler)
        for subject, handler in (
            (ContractorRegisteredV1.SUBJECT, usage_facts.on_contractor_known),
            (ContractorUpdatedV1.SUBJECT, usage_facts.on_contractor_known),
            (ContractorDeletedV1.SUBJECT, usage_facts.on_contractor_deleted),
            (JobUpsertedV1.SUBJECT, usage_facts.on_job_upserted),
            (JobDeletedV1.SUBJECT, usage_facts.on_job_deleted),
            (ApplicationCompletedV1.SUBJECT, usage_facts.on_application_completed),
        )
    ]


def build(runtime: Runtime) -> ServiceParts:
    settings = cast(BillingSettings, runtime.settings)

    async def consumers_caught_up() -> bool:
        # the runtime makes its consumer after this function returns: look it up when asked
        return await inputs_applied(runtime.bus, runtime.consumer)

    issuer = InvoiceIssuer(runtime.db, settings, render_invoice_pdf, inputs_applied=consumers_caught_up)
    issuer_worker = PollingWorker(
        "invoice_issuer",
        issuer.step,
        idle_s=settings.invoicing.poll_interval_s,
        backoff=Backoff(0.5, 2.0),  # the database or NATS is away: retry soon, at most 2 s apart
        wake=issuer.wake_event,
    )
    reminders = PoReminders(runtime.db, settings)
    reactions = Reactions(
        po_reminder_delay=timedelta(hours=settings.po_reminder.delay_hours),
        wake_issuer=issuer.wake_after_commit,
        warm_up=warm_up_in_background,
    )

    async def purge_keys(now: datetime) -> int:
        return await purge_request_keys(runtime.db, request_keys)

    return ServiceParts(
        route_handlers=route_handlers,
        subscriptions=subscriptions(reactions),
        jobs=[
            ScheduledJob("issue_invoices", issuer.job),
            ScheduledJob("po_reminders", reminders.job),
            ScheduledJob("purge_request_keys", purge_keys),
        ],
        dependencies={"db": runtime.db, "config": settings, "issuer": issuer},
        background=[issuer_worker.run],
    )


definition = ServiceDefinition(
    name="billing",
    settings_type=BillingSettings,
    metadata=metadata,
    migrations=Path(__file__).parent / "migrations",
    build=build,
)
