"""Settings of the gateway service (env prefix ``GATEWAY_``).

GATEWAY_SERVICES__CONTRACTOR_URL=http://127.0.0.1:8001   (and ENROLLMENT_, POLICY_, BILLING_, NOTIFICATION_)
GATEWAY_INTERNAL_TOKEN=...                              sent to the services as X-Ten99-Internal-Token
GATEWAY_SESSION__COOKIE_SECURE=false                    only for plain HTTP outside development (unset: Secure
                                                        unless GATEWAY_DEVELOPMENT=true)
GATEWAY_DEV_MAILBOX=true                                shows the Mailbox page (development only)
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field
from ten99kit.inputs import MAX_UPLOAD_BYTES
from ten99kit.settings import ServiceSettings, service_settings_config

__all__ = ["GatewaySettings", "LoginSettings", "PasswordHashSettings", "ServiceUrls", "SessionSettings"]


class ServiceUrls(BaseModel):
    """Where the gateway reaches each service's internal HTTP API."""

    #: the contractor service's internal API
    contractor_url: str = "http://127.0.0.1:8001"
    #: the enrollment service's internal API
    enrollment_url: str = "http://127.0.0.1:8002"
    #: the policy service's internal API
    policy_url: str = "http://127.0.0.1:8003"
    #: the billing service's internal API
    billing_url: str = "http://127.0.0.1:8004"
    #: the notification service's internal API
    notification_url: str = "http://127.0.0.1:8005"
    #: seconds to wait for a service (connect and read)
    timeout_s: float = 15.0
    #: uploads and downloads (CSV imports, PDFs)
    upload_timeout_s: float = 120.0


class SessionSettings(BaseModel):
    #: name of the dashboard's session cookie
    cookie_name: str = "ten99_session"
    #: send the cookie over HTTPS only. Unset: Secure, except in development (plain HTTP on a laptop);
    #: `GatewaySettings` fills in that effective value when it is built
    cookie_secure: bool | None = None
    #: a session ends after this much inactivity
    idle_timeout_s: int = 8 * 3600
    #: and at the latest this long after login
    absolute_timeout_s: int = 7 * 24 * 3600


class LoginSettings(BaseModel):
    #: failed logins in a row before the account is locked
    max_failures: int = 5
    #: how long a locked account stays locked
    lockout_s: int = 15 * 60


class PasswordHashSettings(BaseModel):
    """argon2id cost (argon2-cffi's defaults, RFC 9106's low-memory profile); tests lower it."""

    #: argon2id passes over the memory
    time_cost: int = 3
    #: argon2id memory per hash, in KiB (64 MiB: mind the pod's memory limit under
    #: concurrent logins)
    memory_kib: int = 65536
    #: argon2id lanes (threads) per hash
    parallelism: int = 4


class ApiCacheSettings(BaseModel):
    """The public API's cached retrieves (`gateway.application.answers`): a contractor's answer is
    kept in each gateway process and dropped when the contractor service announces a change."""

    #: keep answers; off: every retrieve asks the service
    enabled: bool = True
    #: the longest an answer is served (the bound on staleness when the owning service's messages
    #: are late, e.g. its outbox relay is down)
    max_age_s: float = Field(default=5.0, gt=0, le=60)
    #: answers kept at most, per process (least recently used out first; about 1 KB each)
    size: int = Field(default=10_000, gt=0)


class GatewaySettings(ServiceSettings):
    model_config = service_settings_config("GATEWAY_")

    service_name: ClassVar[str] = "gateway"
    default_port: ClassVar[int] = 8000

    services: ServiceUrls = Field(default_factory=ServiceUrls)
    session: SessionSettings = Field(default_factory=SessionSettings)
    login: LoginSettings = Field(default_factory=LoginSettings)
    password_hash: PasswordHashSettings = Field(default_factory=PasswordHashSettings)
    api_cache: ApiCacheSettings = Field(default_factory=ApiCacheSettings)
    #: show the Mailbox page with the mail the notification service's SMTP catcher caught
    dev_mailbox: bool = False
    #: how long a public-API idempotency key replays its first response
    idempotency_ttl_s: int = 24 * 3600
    #: API keys are ``<prefix><random>``; test keys as in 1099Policy's SDK examples
    api_key_prefix: str = "t9sk_test_"
    #: largest CSV upload accepted by the dashboard: at most the kit's one body limit, which every
    #: service applies (a bigger body is refused with 413 before it reaches a page)
    max_upload_bytes: int = Field(default=MAX_UPLOAD_BYTES, le=MAX_UPLOAD_BYTES)

    @property
    def session_cookie_secure(self) -> bool:
        """Whether the session cookie is Secure: as set, else everywhere but in development."""
        if self.session.cookie_secure is None:
            return not self.development
        return self.session.cookie_secure

    def model_post_init(self, __context: object) -> None:
        super().model_post_init(__context)
        # whoever reads ``session.cookie_secure`` sees the effective value, never None
        self.session.cookie_secure = self.session_cookie_secure
