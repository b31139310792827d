"""Settings every service shares. A service subclasses `ServiceSettings` with its env prefix;
the settings object is built once at start-up (in ``__main__``) and passed in, never read at import.

Nested groups use ``__``: ``CONTRACTOR_DB__URL``, ``CONTRACTOR_NATS__URL``, ``CONTRACTOR_HTTP__PORT``.

Two refusals keep a misconfigured process from running quietly on defaults:

- an environment variable with the service's prefix that names no setting (``CONTRACTOR_DB_URL``,
  a typo for ``CONTRACTOR_DB__URL``) fails the settings build, naming it and its closest setting;
- outside development (``<PREFIX>DEVELOPMENT`` unset or false) a process refuses to start while a
  secret is empty or still holds its development-only default (`ServiceSettings.refuse_unsafe_defaults`,
  called where a process starts; ``migrate`` reads only the database settings and is not refused).
"""

from __future__ import annotations

import difflib
import os
import types
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
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
    "SettingsRefused",
    "service_settings_config",
    "setting_env_names",
]

#: The embedded default runs its own nats-server on this port, leaving a NATS on 4222 alone.
DEFAULT_NATS_URL = "nats://127.0.0.1:14222"


class DatabaseSettings(BaseModel):
    url: str = ""  # empty: the embedded default, a SQLite file under ./var
    #: connections each process may hold, opened as needed and kept open (docs/operations/scaling.md
    #: has the budget): a connection opened for a burst serves the next one
    pool_size: int = 10
    #: connections a process may open beyond the pool, closed as soon as they are returned (each
    #: burst above the pool then pays a new connection: its TCP and TLS set-up and authentication)
    max_overflow: int = 0
    #: log every SQL statement (debugging only: slow and verbose)
    echo: bool = False
    #: migrate to head when a process starts (the embedded default); production runs `migrate` as a job
    auto_migrate: bool = True
    #: test each pooled connection with a round trip before use. Off by default: it costs a round trip
    #: per transaction; after a database restart the first use of a stale connection fails once
    #: (consumers and the relay retry) and connections are recycled every `pool_recycle_s`.
    pre_ping: bool = False
    #: a pooled connection older than this is replaced
    pool_recycle_s: int = 1800
    #: PostgreSQL: analyse a table once this many rows changed since its last analysis, plus
    #: `analyze_fraction` of its size (autovacuum looks at most once a minute; a table filled in
    #: seconds is planned blind until then). 0 turns the statistics keeper off.
    analyze_min_changes: int = 1000
    #: see `analyze_min_changes`
    analyze_fraction: float = 0.5
    #: how often the statistics keeper looks for tables to analyse
    analyze_interval_s: float = 2.0


class NatsSettings(BaseModel):
    #: the NATS server, with credentials if it has them; one address of a cluster is enough (the
    #: servers tell the client the others)
    url: str = DEFAULT_NATS_URL
    #: stream replicas; 3 in production clusters
    replicas: int = 1
    #: seconds between the client's pings; two unanswered and the connection counts as lost (and is
    #: made again), so a connection that died silently is noticed within about twice this
    ping_interval_s: float = Field(default=20.0, gt=0)
    #: deliveries before a message is dead-lettered
    max_deliver: int = 6
    #: a delivered message not acknowledged within this long is redelivered
    ack_wait_s: float = 30.0
    #: nak delay per delivery attempt (the last value repeats)
    backoff_s: list[float] = Field(default_factory=lambda: [0.5, 2.0, 5.0, 15.0, 30.0])
    #: messages a consumer fetches (and applies in one transaction) at a time
    fetch_batch: int = 200
    #: how long one fetch waits for messages
    fetch_timeout_s: float = 1.0
    #: how long a JetStream API request (stream or consumer create, update, info) waits for the
    #: server's answer before it fails (and is retried by its caller)
    api_timeout_s: float = Field(default=5.0, gt=0)
    #: create the streams at start-up and reconcile them with their specs and `replicas`
    #: (off where the services' NATS users may not manage streams)
    provision_streams: bool = True


class HttpSettings(BaseModel):
    #: address the HTTP server listens on (0.0.0.0 in a container)
    host: str = "127.0.0.1"
    #: HTTP port; defaults to the service's own (8000 to 8005)
    port: int = 8000
    #: the URL people reach this service at (links in emails, ...)
    public_url: str = ""
    #: the proxies whose ``X-Forwarded-For``/``X-Forwarded-Proto`` are believed: comma-separated
    #: addresses and networks (``10.0.0.0/8``). The client's address (portal and login limits,
    #: consent records) is the first untrusted one from the right; behind a Kubernetes Ingress,
    #: the pod network of its controller (``*`` would believe the leftmost, which anyone can write)
    forwarded_allow_ips: str = "127.0.0.1"


class LogSettings(BaseModel):
    #: log level: DEBUG, INFO, WARNING, ERROR
    level: str = "INFO"
    #: one JSON object per log line; false: human-readable lines
    json_format: bool = True


class RelaySettings(BaseModel):
    #: outbox rows the relay publishes per batch
    batch_size: int = 500
    #: the relay wakes on commits; this is the fallback poll
    poll_interval_s: float = 1.0
    #: how long the relay waits for JetStream to acknowledge a batch
    publish_timeout_s: float = 10.0


class ClockSettings(BaseModel):
    #: allow `PUT /_ops/clock` to move this process's clock (tests and demos only)
    controllable: bool = False
    #: how often clock-driven jobs run
    tick_interval_s: float = 30.0


def service_settings_config(prefix: str) -> SettingsConfigDict:
    # hide_input_in_errors: a validation error would otherwise print every setting, database URLs
    # with their passwords included
    return SettingsConfigDict(env_prefix=prefix, env_nested_delimiter="__", extra="ignore", hide_input_in_errors=True)


#: The kit's default prefix. Tools use it for their own variables (``TEN99_NATS_PORT`` in
#: scripts/run_local.py, ``TEN99_DB_PASSWORD`` in docker-compose.yml), so it is never checked for
#: unknown names; every service has a prefix of its own.
KIT_PREFIX = "TEN99_"


class SettingsRefused(ValueError):
    """Settings a service must not start with; the message names the environment variables."""


def setting_env_names(model: type[BaseModel], prefix: str) -> tuple[set[str], set[str]]:
    """The environment variables (upper case) that set a field of ``model`` or of a model nested
    in it (``<PREFIX>DB``, ``<PREFIX>DB__URL``, ...), and the prefixes under which any name is a
    setting (the keys of a ``dict`` field)."""
    names: set[str] = set()
    open_prefixes: set[str] = set()
    for field_name, info in model.model_fields.items():
        name = f"{prefix}{field_name}".upper()
        names.add(name)
        for kind in _annotation_kinds(info.annotation):
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                nested, nested_open = setting_env_names(kind, f"{name}__")
                names |= nested
                open_prefixes |= nested_open
            elif kind is dict or typing.get_origin(kind) in (dict, Mapping):
                open_prefixes.add(f"{name}__")
    return names, open_prefixes


def _annotation_kinds(annotation: Any) -> list[Any]:
    """The types a field may hold: the members of a union (``X | None``), else the type itself."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(annotation) if a is not type(None)]
    return [annotation]


def _unknown_environment(model: type[BaseModel], prefix: str, environ: Mapping[str, str]) -> list[str]:
    """One line per variable with the prefix that names no setting, with the closest setting."""
    names, open_prefixes = setting_env_names(model, prefix)
    lines = []
    for variable in sorted(environ):
        upper = variable.upper()
        if not upper.startswith(prefix.upper()) or upper in names or upper.startswith(tuple(open_prefixes)):
            continue
        close = difflib.get_close_matches(upper, names, n=1, cutoff=0.75)
        lines.append(f"{variable}" + (f" (did you mean {close[0]}?)" if close else ""))
    return lines


def _secret_values(value: Any) -> list[str]:
    """The secret strings a setting holds: one, or each of a list (key rotation lists)."""
    items = value if isinstance(value, list | tuple) else [value]
    return [i.get_secret_value() if isinstance(i, SecretStr) else str(i) for i in items]


class ServiceSettings(BaseSettings):
    """Settings of one service process. Subclass with ``model_config = service_settings_config("X_")``."""

    model_config = service_settings_config(KIT_PREFIX)

    service_name: ClassVar[str] = "service"
    default_port: ClassVar[int] = 8000
    #: secrets whose default in code is for development only (field name -> that default): outside
    #: development a process refuses to start while one of them still holds it
    development_secrets: ClassVar[Mapping[str, str]] = {}
    #: secrets a process refuses to start without outside development
    required_secrets: ClassVar[tuple[str, ...]] = ("internal_token", "operator_token")

    db: DatabaseSettings = Field(default_factory=DatabaseSettings)
    nats: NatsSettings = Field(default_factory=NatsSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    relay: RelaySettings = Field(default_factory=RelaySettings)
    clock: ClockSettings = Field(default_factory=ClockSettings)
    #: where the embedded default keeps SQLite files and other state
    data_dir: str = "var"
    #: the local development default (`make run`, tests, docker-compose on a laptop): development
    #: secrets and empty tokens are accepted, the session cookie is not Secure. False (the default)
    #: is production behaviour.
    development: bool = False
    #: shared secret the gateway presents to the services' HTTP APIs (header X-Ten99-Internal-Token);
    #: empty disables the check (development only)
    internal_token: SecretStr = SecretStr("")
    #: the operator's credential for ``/_ops`` (clock, tick, dead letters) and ``/schema``, sent as
    #: X-Ten99-Operator-Token or ``Authorization: Bearer``; never the token the gateway holds.
    #: Empty leaves those endpoints open (development only)
    operator_token: SecretStr = SecretStr("")
    #: during a rotation, the token being replaced: accepted besides `internal_token` (the gateway
    #: sends only its own `internal_token`); empty outside a rotation (docs/security.md)
    internal_token_previous: SecretStr = SecretStr("")
    #: during a rotation, the operator token being replaced: accepted besides `operator_token`
    operator_token_previous: SecretStr = SecretStr("")
    #: the asyncio event loop: uvloop (libuv; about a quarter less CPU per request and message
    #: here) or the standard library's
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"

    @model_validator(mode="before")
    @classmethod
    def _refuse_unknown_environment(cls, data: Any) -> Any:
        """pydantic-settings ignores a variable that names no field, even with ``extra="forbid"``:
        a typo (``CONTRACTOR_DB_URL`` for ``CONTRACTOR_DB__URL``) would leave the default in place."""
        prefix = str(cls.model_config.get("env_prefix") or "")
        if prefix and prefix.upper() != KIT_PREFIX:
            unknown = _unknown_environment(cls, prefix, os.environ)
            if unknown:
                raise ValueError(f"unknown environment variable(s) with the prefix {prefix}: {', '.join(unknown)}")
        return data

    @classmethod
    def env_name(cls, field_name: str) -> str:
        """The environment variable that sets a top-level field (``operator_token`` -> ``CONTRACTOR_OPERATOR_TOKEN``)."""
        return f"{cls.model_config.get('env_prefix') or ''}{field_name}".upper()

    def unsafe_defaults(self) -> list[str]:
        """Why this process must not start with these settings; empty in development."""
        if self.development:
            return []
        problems = [
            f"{self.env_name(name)} is empty" for name in self.required_secrets if not any(_secret_values(getattr(self, name)))
        ]
        problems += [
            f"{self.env_name(name)} holds the development-only default"
            for name, default in self.development_secrets.items()
            if default in _secret_values(getattr(self, name))
        ]
        problems += self._shared_tokens()
        return problems

    def _shared_tokens(self) -> list[str]:
        """An operator token (current or previous) that is also an internal token: the gateway
        holds those, so it would open ``/_ops``."""
        internal = {
            self.internal_token.get_secret_value(): "internal_token",
            self.internal_token_previous.get_secret_value(): "internal_token_previous",
        }
        problems = []
        for name in ("operator_token", "operator_token_previous"):
            value = getattr(self, name).get_secret_value()
            if value and value in internal:
                problems.append(f"{self.env_name(name)} equals {self.env_name(internal[value])} (the gateway holds that one)")
        return problems

    def refuse_unsafe_defaults(self) -> None:
        """Raise `SettingsRefused` outside development on an empty or development-only secret."""
        problems = self.unsafe_defaults()
        if problems:
            raise SettingsRefused(
                f"{self.service_name} refuses to start: {'; '.join(problems)}. Set each to a long random "
                f"value, or {self.env_name('development')}=true on a development machine."
            )

    def model_post_init(self, __context: object) -> None:
        if not self.db.url:
            self.db.url = f"sqlite+aiosqlite:///{self.data_dir}/{self.service_name}.db"
        if "port" not in self.http.model_fields_set:
            self.http.port = self.default_port
        if not self.http.public_url:
            self.http.public_url = f"http://{self.http.host}:{self.http.port}"
