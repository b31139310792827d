"""Settings of the billing service (env prefix ``BILLING_``)."""

from __future__ import annotations

from typing import ClassVar

from ten99kit.settings import ServiceSettings, service_settings_config

__all__ = ["BillingSettings"]


class BillingSettings(ServiceSettings):
    model_config = service_settings_config("BILLING_")

    service_name: ClassVar[str] = "billing"
    default_port: ClassVar[int] = 8004
