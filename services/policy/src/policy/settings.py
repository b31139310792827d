"""Settings of the policy service (env prefix ``POLICY_``)."""

from __future__ import annotations

from typing import ClassVar

from ten99kit.settings import ServiceSettings, service_settings_config

__all__ = ["PolicySettings"]


class PolicySettings(ServiceSettings):
    model_config = service_settings_config("POLICY_")

    service_name: ClassVar[str] = "policy"
    default_port: ClassVar[int] = 8003
