"""Composition root of the contractor service: the only place that knows concrete adapters."""

from __future__ import annotations

from pathlib import Path

from ten99kit import Runtime, ServiceDefinition, ServiceParts

from .adapters.db import metadata
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

    return ServiceParts(
        route_handlers=ROUTES,
        subscriptions=roster.subscriptions(),
        dependencies={"db": runtime.db, "ctx": ctx},
        background=[worker.run],
    )


definition = ServiceDefinition(
    name="contractor",
    settings_type=ContractorSettings,
    metadata=metadata,
    migrations=Path(__file__).parent / "migrations",
    build=build,
)
