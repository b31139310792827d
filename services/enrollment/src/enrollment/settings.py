"""Settings of the enrollment service (env prefix ``ENROLLMENT_``).

- ``ENROLLMENT_OPT_IN_BASE_URL``: the gateway's public base URL; links are ``<base>/opt-in/<token>``.
- ``ENROLLMENT_TOKEN_SECRET``: the HMAC key opt-in tokens are derived from (see `domain.tokens`).
  The default is for development only: outside development (``ENROLLMENT_DEVELOPMENT`` unset)
  the service refuses to start with it.
- ``ENROLLMENT_INVITATION_TTL_DAYS``: how long a link stays open (default 30).
- ``ENROLLMENT_REMINDER_DAYS``: days after issue at which an unanswered invitation is reminded
  (JSON list, default ``[2, 5]``).
- ``ENROLLMENT_JOB_BATCH``: rows a clock-driven job handles per transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import Field, SecretStr, field_validator
from ten99kit.settings import ServiceSettings, service_settings_config

__all__ = ["DEV_TOKEN_SECRET", "EnrollmentSettings"]

#: DEVELOPMENT ONLY. Production sets ENROLLMENT_TOKEN_SECRET to a long random value.
DEV_TOKEN_SECRET = "dev-only-enrollment-token-secret-change-me"  # noqa: S105


class EnrollmentSettings(ServiceSettings):
    model_config = service_settings_config("ENROLLMENT_")

    service_name: ClassVar[str] = "enrollment"
    default_port: ClassVar[int] = 8002
    development_secrets: ClassVar[Mapping[str, str]] = {"token_secret": DEV_TOKEN_SECRET}

    #: the gateway's public base URL; opt-in links are ``<base>/opt-in/<token>``
    opt_in_base_url: str = "http://127.0.0.1:8000"
    #: the HMAC key opt-in tokens are derived from (`domain.tokens`)
    token_secret: SecretStr = SecretStr(DEV_TOKEN_SECRET)
    #: how long an opt-in link stays open, in days
    invitation_ttl_days: int = Field(default=30, ge=1, le=365)
    #: days after issue at which an unanswered invitation is reminded (JSON list, ascending)
    reminder_days: list[int] = Field(default_factory=lambda: [2, 5])
    #: rows a clock-driven job handles per transaction
    job_batch: int = Field(default=500, ge=1, le=10_000)

    @field_validator("reminder_days")
    @classmethod
    def _ascending_positive(cls, value: list[int]) -> list[int]:
        if any(d <= 0 for d in value) or value != sorted(set(value)):
            raise ValueError("reminder_days must be positive, ascending and distinct")
        return value

    @field_validator("opt_in_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    def opt_in_url(self, token: str) -> str:
        return f"{self.opt_in_base_url}/opt-in/{token}"
