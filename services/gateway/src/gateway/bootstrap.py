"""Composition root of the gateway service: the only place that knows concrete adapters."""

from __future__ import annotations

from pathlib import Path

from ten99kit import Runtime, ServiceDefinition, ServiceParts

from .adapters.db import metadata
from .settings import GatewaySettings

__all__ = ["build", "definition"]


def build(runtime: Runtime) -> ServiceParts:
    return ServiceParts(dependencies={"db": runtime.db}, internal_api=False)


definition = ServiceDefinition(
    name="gateway",
    settings_type=GatewaySettings,
    metadata=metadata,
    migrations=Path(__file__).parent / "migrations",
    build=build,
)
