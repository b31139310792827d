"""Composition root of the policy service: the only place that knows concrete adapters."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, cast

from ten99_contracts.contractor_v1 import (
    AssignmentCancelledV1,
    AssignmentCreatedV1,
    AssignmentExtendedV1,
    AssignmentUpdatedV1,
    ContractorDeletedV1,
    ContractorUpdatedV1,
)
from ten99_contracts.enrollment_v1 import ApplicationCompletedV1, AssignmentEnrolledV1
from ten99_contracts.gateway_v1 import CompanyCreatedV1
from ten99kit import Runtime, ScheduledJob, ServiceDefinition, ServiceParts, Subscription

from .adapters.db import metadata
from .adapters.links import CertificateLinks
from .adapters.pdf import render_certificate, warm_up_in_background
from .adapters.pdf_reader import read_pdf
from .api.controllers import CertificateController, CoverageController, PolicyController, PublicCertificateController
from .api.uploads import PublicUploadController, UploadController
from .api.verification import VerificationController
from .application.binding import on_application_completed, on_assignment_enrolled, on_contractor_updated
from .application.context import PolicyContext
from .application.lifecycle import (
    activate_due_coverages,
    expire_ended_coverages,
    expire_quote_only_policies,
    issue_waiting_certificates,
    on_assignment_cancelled,
    on_assignment_changed,
    on_assignment_extended,
    on_company_created,
    on_contractor_deleted,
)
from .application.uploads import UploadDesk
from .settings import PolicySettings

__all__ = ["build", "definition"]


def build(runtime: Runtime) -> ServiceParts:
    settings = cast(PolicySettings, runtime.settings)
    links = CertificateLinks(settings.link_secret.get_secret_value(), settings.public_base_url, settings.link_max_age_s)
    ctx = PolicyContext(
        links=links,
        render=render_certificate,
        producer_name=settings.producer_name,
        insurer_name=settings.insurer_name,
        company_wait=timedelta(seconds=settings.company_wait_s),
        warm_up=warm_up_in_background,
    )

    def react(handler: Any) -> Any:
        return partial(handler, ctx)

    async def coverage_lifecycle(now: datetime) -> int:
        # activation first: a coverage whose whole span passed while no worker ran is activated, then expired
        activated = await activate_due_coverages(runtime.db, now)
        return activated + await expire_ended_coverages(runtime.db, now) + await expire_quote_only_policies(runtime.db, now)

    async def waiting_certificates(now: datetime) -> int:
        return await issue_waiting_certificates(ctx, runtime.db, now)

    return ServiceParts(
        route_handlers=[
            PolicyController,
            CoverageController,
            CertificateController,
            PublicCertificateController,
            VerificationController,
            UploadController,
            PublicUploadController,
        ],
        subscriptions=[
            Subscription(ApplicationCompletedV1.SUBJECT, react(on_application_completed)),
            Subscription(AssignmentEnrolledV1.SUBJECT, react(on_assignment_enrolled)),
            Subscription(AssignmentCreatedV1.SUBJECT, react(on_assignment_changed)),
            Subscription(AssignmentUpdatedV1.SUBJECT, react(on_assignment_changed)),
            Subscription(AssignmentCancelledV1.SUBJECT, react(on_assignment_cancelled)),
            Subscription(AssignmentExtendedV1.SUBJECT, react(on_assignment_extended)),
            Subscription(CompanyCreatedV1.SUBJECT, react(on_company_created)),
            Subscription(ContractorUpdatedV1.SUBJECT, react(on_contractor_updated)),
            Subscription(ContractorDeletedV1.SUBJECT, react(on_contractor_deleted)),
        ],
        jobs=[
            ScheduledJob("coverage_lifecycle", coverage_lifecycle),
            ScheduledJob("waiting_certificates", waiting_certificates),
        ],
        dependencies={"db": runtime.db, "links": links, "uploads": UploadDesk(read_pdf, settings.upload_max_bytes)},
    )


definition = ServiceDefinition(
    name="policy",
    settings_type=PolicySettings,
    metadata=metadata,
    migrations=Path(__file__).parent / "migrations",
    build=build,
)
