"""Settings of the notification service (env prefix ``NOTIFICATION_``)."""

from __future__ import annotations

from typing import ClassVar

from ten99kit.settings import ServiceSettings, service_settings_config

__all__ = ["NotificationSettings"]


class NotificationSettings(ServiceSettings):
    model_config = service_settings_config("NOTIFICATION_")

    service_name: ClassVar[str] = "notification"
    default_port: ClassVar[int] = 8005
