"""Composition root of the policy service: the only place that knows concrete adapters."""

from __future__ import annotations

from pathlib import Path

from ten99kit import Runtime, ServiceDefinition, ServiceParts

from .adapters.db import metadata
from .settings import PolicySettings

__all__ = ["build", "definition"]


def build(runtime: Runtime) -> ServiceParts:
    return ServiceParts(dependencies={"db": runtime.db})


definition = ServiceDefinition(
    name="policy",
    settings_type=PolicySettings,
    metadata=metadata,
    migrations=Path(__file__).parent / "migrations",
    build=build,
)
