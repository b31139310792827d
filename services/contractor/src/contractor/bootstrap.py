"""Composition root of the contractor service: the only place that knows concrete adapters."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ten99kit import Runtime, ScheduledJob, ServiceDefinition, ServiceParts
from ten99kit.request_keys import purge_request_keys

from .adapters.db import metadata, request_keys
from .api.routes import ROUTES
from .application import roster
from .application.context import Context
from .application.imports import ImportWorker
from .settings import ContractorSettings

__all__ = ["build", "definition"]


def build(runtime: Runtime) -> ServiceParts:
    settings = runtime.settings
    assert isinstance(settings, ContractorSettings)
    ctx = Context.build(runtime.db, runtime.clock, settings)
    worker = ImportWorker(ctx)

    async def purge_keys(_: datetime) -> int:
        return await purge_request_keys(runtime.db, request_keys)

    return ServiceParts(
        route_handlers=ROUTES,
        subscriptions=roster.subscriptions(),
        dependencies={"db": runtime.db, "ctx": ctx},
        background=[worker.run],
        jobs=[ScheduledJob("purge_request_keys", purge_keys)],
    )


definition = ServiceDefinition(
    name="contractor",
    settings_type=ContractorSettings,
    metadata=metadata,
    migrations=Path(__file__).parent / "migrations",
    build=build,
)
