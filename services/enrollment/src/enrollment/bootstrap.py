"""Composition root of the enrollment service: the only place that knows concrete adapters."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ten99kit import Runtime, ScheduledJob, ServiceDefinition, ServiceParts, get_logger

from .adapters.db import metadata
from .api.routes import ROUTES
from .application.invitations import expire_due_invitations, send_due_reminders
from .application.links import OptInLinks
from .application.reactions import Reactions
from .settings import DEV_TOKEN_SECRET, EnrollmentSettings

__all__ = ["build", "definition"]

log = get_logger(__name__)


def build(runtime: Runtime) -> ServiceParts:
    settings = runtime.settings
    assert isinstance(settings, EnrollmentSettings)
    links = OptInLinks.from_settings(settings)
    db = runtime.db
    batch = settings.job_batch

    async def warn_about_dev_secret() -> None:
        if settings.token_secret.get_secret_value() == DEV_TOKEN_SECRET:
            log.warning("enrollment.dev_token_secret", hint="set ENROLLMENT_TOKEN_SECRET outside development")

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
        on_startup=[warn_about_dev_secret],
    )


definition = ServiceDefinition(
    name="enrollment",
    settings_type=EnrollmentSettings,
    metadata=metadata,
    migrations=Path(__file__).parent / "migrations",
    build=build,
)
