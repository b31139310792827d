"""Composition root of the enrollment service: the only place that knows concrete adapters."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ten99kit import Runtime, ScheduledJob, ServiceDefinition, ServiceParts

from .adapters.db import metadata
from .api.routes import ROUTES
from .application.invitations import expire_due_invitations, send_due_reminders
from .application.links import OptInLinks
from .application.reactions import Reactions
from .settings import EnrollmentSettings

__all__ = ["build", "definition"]


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
        subscriptions=Reactions(links).subscriptions(),
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
