"""Composition root of the enrollment service: the only place that knows concrete adapters."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ten99_contracts.contractor_v1 import (
    AssignmentCancelledV1,
    AssignmentCreatedV1,
    AssignmentExtendedV1,
    AssignmentUpdatedV1,
    ContractorDeletedV1,
    ContractorRegisteredV1,
    ContractorUpdatedV1,
    JobDeletedV1,
    JobUpsertedV1,
)
from ten99_contracts.gateway_v1 import CompanyCreatedV1
from ten99kit import Runtime, ScheduledJob, ServiceDefinition, ServiceParts, Subscription

from .adapters.db import metadata
from .api.routes import ROUTES
from .application import deletions, jobs
from .application.invitations import expire_due_invitations, send_due_reminders
from .application.links import OptInLinks
from .application.reactions import Reactions
from .settings import EnrollmentSettings

__all__ = ["build", "definition", "subscriptions"]


def subscriptions(reactions: Reactions) -> list[Subscription]:
    """The other contexts' messages enrollment reacts to."""
    return [
        Subscription(CompanyCreatedV1.SUBJECT, reactions.on_company_created),
        Subscription(ContractorRegisteredV1.SUBJECT, reactions.on_contractor_changed),
        Subscription(ContractorUpdatedV1.SUBJECT, reactions.on_contractor_changed),
        Subscription(ContractorDeletedV1.SUBJECT, deletions.on_contractor_deleted),
        Subscription(AssignmentCreatedV1.SUBJECT, reactions.on_assignment_state),
        Subscription(AssignmentUpdatedV1.SUBJECT, reactions.on_assignment_state),
        Subscription(AssignmentCancelledV1.SUBJECT, reactions.on_assignment_cancelled),
        Subscription(AssignmentExtendedV1.SUBJECT, reactions.on_assignment_extended),
        Subscription(JobUpsertedV1.SUBJECT, jobs.on_job_upserted),
        Subscription(JobDeletedV1.SUBJECT, jobs.on_job_deleted),
    ]


def build(runtime: Runtime) -> ServiceParts:
    settings = runtime.settings
    assert isinstance(settings, EnrollmentSettings)
    links = OptInLinks.from_settings(settings)
    db = runtime.db
    batch = settings.job_batch

    async def expire_invitations(now: datetime) -> int:
        return await expire_due_invitations(db, now, batch)

    async def remind_invitations(now: datetime) -> int:
        return await send_due_reminders(db, links, now, batch)

    return ServiceParts(
        route_handlers=list(ROUTES),
        subscriptions=subscriptions(Reactions(links)),
        # expiry first, so that a link that ran out gets no reminder in the same tick
        jobs=[ScheduledJob("expire_invitations", expire_invitations), ScheduledJob("invitation_reminders", remind_invitations)],
        dependencies={"db": db, "links": links},
    )


definition = ServiceDefinition(
    name="enrollment",
    settings_type=EnrollmentSettings,
    metadata=metadata,
    migrations=Path(__file__).parent / "migrations",
    build=build,
)
