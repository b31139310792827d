"""Settings of the enrollment service (env prefix ``ENROLLMENT_``)."""

from __future__ import annotations

from typing import ClassVar

from ten99kit.settings import ServiceSettings, service_settings_config

__all__ = ["EnrollmentSettings"]


class EnrollmentSettings(ServiceSettings):
    model_config = service_settings_config("ENROLLMENT_")

    service_name: ClassVar[str] = "enrollment"
    default_port: ClassVar[int] = 8002
