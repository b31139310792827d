"""Settings of the contractor service (env prefix ``CONTRACTOR_``)."""

from __future__ import annotations

from typing import ClassVar

from ten99kit.settings import ServiceSettings, service_settings_config

__all__ = ["ContractorSettings"]


class ContractorSettings(ServiceSettings):
    model_config = service_settings_config("CONTRACTOR_")

    service_name: ClassVar[str] = "contractor"
    default_port: ClassVar[int] = 8001
