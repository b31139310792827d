"""Settings of the gateway service (env prefix ``GATEWAY_``)."""

from __future__ import annotations

from typing import ClassVar

from ten99kit.settings import ServiceSettings, service_settings_config

__all__ = ["GatewaySettings"]


class GatewaySettings(ServiceSettings):
    model_config = service_settings_config("GATEWAY_")

    service_name: ClassVar[str] = "gateway"
    default_port: ClassVar[int] = 8000
