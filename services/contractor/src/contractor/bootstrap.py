"""Composition root of the contractor service: the only place that knows concrete adapters.

It declares the service's parts: the HTTP routes, the roster's subscriptions (enrollment's and
policy's messages), the import worker (the kit's polling worker, woken by each upload) and the
daily purge of old idempotency keys. The service talks to nothing outside (no PDF, SMTP or HTTP
client), so the use cases need only the `Context` built here."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ten99_contracts.enrollment_v1 import (
    ApplicationCompletedV1,
    ApplicationDeclinedV1,
    ApplicationIneligibleV1,
    AssignmentEnrolledV1,
    ContractorDetailsCorrectedV1,
    InvitationExpiredV1,
    InvitationIssuedV1,
)
from ten99_contracts.policy_v1 import (
    CertificateIssuedV1,
    CoverageActivatedV1,
    CoverageBoundV1,
    UploadedCertificateReviewedV1,
)
from ten99kit import Runtime, ScheduledJob, ServiceDefinition, ServiceParts, Subscription
from ten99kit.request_keys import purge_request_keys
from ten99kit.workers import Backoff, PollingWorker

from .adapters.db import metadata, request_keys
from .api.routes import ROUTES
from .application import assignment_facts, details, own_insurance, roster
from .application.alerts import CoverageGapAlerts
from .application.context import Context
from .application.imports import ImportWorker
from .settings import ContractorSettings

__all__ = ["build", "definition"]


def subscriptions() -> list[Subscription]:
    """Enrollment's and policy's messages, into the Contractors page's read model (the roster) and
    the facts an assignment answers with (eligible, policy, certificates). The roster's consumers
    let messages gather (``READ_MODEL_LINGER_S``) and apply them in fewer transactions; its handlers
    of the shared subjects also record the assignment facts."""
    linger = roster.READ_MODEL_LINGER_S
    return [
        Subscription(AssignmentEnrolledV1.SUBJECT, assignment_facts.on_assignment_enrolled),
        Subscription(CertificateIssuedV1.SUBJECT, assignment_facts.on_certificate_issued),
        Subscription(InvitationIssuedV1.SUBJECT, roster.on_invitation_issued, linger_s=linger),
        Subscription(InvitationExpiredV1.SUBJECT, roster.on_invitation_expired, linger_s=linger),
        Subscription(ApplicationCompletedV1.SUBJECT, roster.on_application_completed, linger_s=linger),
        Subscription(ApplicationIneligibleV1.SUBJECT, roster.on_application_ineligible, linger_s=linger),
        Subscription(ApplicationDeclinedV1.SUBJECT, roster.on_application_declined, linger_s=linger),
        Subscription(ContractorDetailsCorrectedV1.SUBJECT, details.on_contractor_details_corrected),
        Subscription(CoverageBoundV1.SUBJECT, roster.on_coverage, linger_s=linger),
        Subscription(CoverageActivatedV1.SUBJECT, roster.on_coverage, linger_s=linger),
        Subscription(UploadedCertificateReviewedV1.SUBJECT, own_insurance.on_uploaded_certificate_reviewed),
    ]


def build(runtime: Runtime) -> ServiceParts:
    settings = runtime.settings
    assert isinstance(settings, ContractorSettings)
    ctx = Context.build(runtime.db, runtime.clock, settings)
    imports = PollingWorker(
        "imports",
        step=ImportWorker(ctx).step,
        idle_s=settings.imports.poll_interval_s,
        backoff=Backoff(0.5, 10.0),
        wake=ctx.import_wakeup,
    )

    async def purge_keys(_: datetime) -> int:
        return await purge_request_keys(runtime.db, request_keys)

    return ServiceParts(
        route_handlers=ROUTES,
        subscriptions=subscriptions(),
        dependencies={"db": runtime.db, "ctx": ctx},
        background=[imports.run],
        jobs=[
            ScheduledJob("purge_request_keys", purge_keys),
            ScheduledJob("coverage_gap_alerts", CoverageGapAlerts(ctx).job),
        ],
    )


definition = ServiceDefinition(
    name="contractor",
    settings_type=ContractorSettings,
    metadata=metadata,
    migrations=Path(__file__).parent / "migrations",
    build=build,
)
