"""Settings every service shares. A service subclasses `ServiceSettings` with its env prefix;
the settings object is built once at start-up (in ``__main__``) and passed in, never read at import.

Nested groups use ``__``: ``CONTRACTOR_DB__URL``, ``CONTRACTOR_NATS__URL``, ``CONTRACTOR_HTTP__PORT``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "DEFAULT_NATS_URL",
    "ClockSettings",
    "DatabaseSettings",
    "HttpSettings",
    "LogSettings",
    "NatsSettings",
    "RelaySettings",
    "ServiceSettings",
    "service_settings_config",
]

#: The embedded default runs its own nats-server on this port, leaving a NATS on 4222 alone.
DEFAULT_NATS_URL = "nats://127.0.0.1:14222"


class DatabaseSettings(BaseModel):
    url: str = ""  # empty: the embedded default, a SQLite file under ./var
    pool_size: int = 10
    max_overflow: int = 10
    echo: bool = False
    #: migrate to head when a process starts (the embedded default); production runs `migrate` as a job
    auto_migrate: bool = True
    #: test each pooled connection with a round trip before use. Off by default: it costs a round trip
    #: per transaction; after a database restart the first use of a stale connection fails once
    #: (consumers and the relay retry) and connections are recycled every `pool_recycle_s`.
    pre_ping: bool = False
    pool_recycle_s: int = 1800
    #: PostgreSQL: analyse a table once this many rows changed since its last analysis, plus
    #: `analyze_fraction` of its size (autovacuum looks at most once a minute; a table filled in
    #: seconds is planned blind until then). 0 turns the statistics keeper off.
    analyze_min_changes: int = 1000
    analyze_fraction: float = 0.5
    analyze_interval_s: float = 2.0


class NatsSettings(BaseModel):
    url: str = DEFAULT_NATS_URL
    #: stream replicas; 3 in production clusters
    replicas: int = 1
    #: deliveries before a message is dead-lettered
    max_deliver: int = 6
    ack_wait_s: float = 30.0
    #: nak delay per delivery attempt (the last value repeats)
    backoff_s: list[float] = Field(default_factory=lambda: [0.5, 2.0, 5.0, 15.0, 30.0])
    fetch_batch: int = 200
    fetch_timeout_s: float = 1.0
    provision_streams: bool = True


class HttpSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8000
    #: the URL people reach this service at (links in emails, ...)
    public_url: str = ""


class LogSettings(BaseModel):
    level: str = "INFO"
    json_format: bool = True


class RelaySettings(BaseModel):
    batch_size: int = 500
    poll_interval_s: float = 1.0
    publish_timeout_s: float = 10.0


class ClockSettings(BaseModel):
    #: allow `PUT /_ops/clock` to move this process's clock (tests and demos only)
    controllable: bool = False
    #: how often clock-driven jobs run
    tick_interval_s: float = 30.0


def service_settings_config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, env_nested_delimiter="__", extra="ignore")


class ServiceSettings(BaseSettings):
    """Settings of one service process. Subclass with ``model_config = service_settings_config("X_")``."""

    model_config = service_settings_config("TEN99_")

    service_name: ClassVar[str] = "service"
    default_port: ClassVar[int] = 8000

    db: DatabaseSettings = Field(default_factory=DatabaseSettings)
    nats: NatsSettings = Field(default_factory=NatsSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    relay: RelaySettings = Field(default_factory=RelaySettings)
    clock: ClockSettings = Field(default_factory=ClockSettings)
    #: where the embedded default keeps SQLite files and other state
    data_dir: str = "var"
    #: shared secret the gateway presents to the services' HTTP APIs (header X-Ten99-Internal-Token);
    #: empty disables the check (development only)
    internal_token: SecretStr = SecretStr("")
    #: the asyncio event loop: uvloop (libuv; about a quarter less CPU per request and message
    #: here) or the standard library's
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"

    def model_post_init(self, __context: object) -> None:
        if not self.db.url:
            self.db.url = f"sqlite+aiosqlite:///{self.data_dir}/{self.service_name}.db"
        if "port" not in self.http.model_fields_set:
            self.http.port = self.default_port
        if not self.http.public_url:
            self.http.public_url = f"http://{self.http.host}:{self.http.port}"
