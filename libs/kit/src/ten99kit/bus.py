"""The connection to NATS JetStream, and stream provisioning from the specs in `ten99_contracts`."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError
from ten99_contracts import STREAMS, StreamSpec

from .logging import get_logger
from .settings import NatsSettings

__all__ = ["Bus", "ensure_streams", "reconcile_stream", "stream_config", "stream_differences"]

log = get_logger(__name__)


class Bus:
    """One NATS connection per process. Reconnects forever; listeners hear about reconnects so
    that the relay can drain at once and consumers can re-subscribe."""

    def __init__(self, settings: NatsSettings, name: str) -> None:
        self.settings = settings
        self.name = name
        self.nc: NATS | None = None
        self._js: JetStreamContext | None = None
        self._reconnect_listeners: list[Callable[[], None]] = []
        self._error_listeners: list[Callable[[Exception], None]] = []
        self._disconnect_listeners: list[Callable[[], None]] = []
        self.reconnected = asyncio.Event()

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise RuntimeError("bus is not connected")
        return self._js

    @property
    def is_connected(self) -> bool:
        return bool(self.nc and self.nc.is_connected)

    def on_reconnect(self, listener: Callable[[], None]) -> None:
        self._reconnect_listeners.append(listener)

    def on_disconnect(self, listener: Callable[[], None]) -> None:
        """Hear that the connection was lost (nats-py reconnects by itself; `on_reconnect` after)."""
        self._disconnect_listeners.append(listener)

    def on_error(self, listener: Callable[[Exception], None]) -> None:
        """Hear the connection's asynchronous errors (a subscription too slow to keep up among them)."""
        self._error_listeners.append(listener)

    async def connect(self, *, retry_first: bool = True) -> None:
        """Connect; reconnects after a success are automatic. ``retry_first=False``: one attempt
        that raises if the server does not answer (the caller retries with its own backoff and
        stays responsive to a stop) instead of nats-py's endless first-connect loop."""

        async def disconnected() -> None:
            log.warning("nats.disconnected")
            for listener in self._disconnect_listeners:
                listener()

        async def reconnected() -> None:
            log.info("nats.reconnected")
            self.reconnected.set()
            for listener in self._reconnect_listeners:
                listener()

        async def error(e: Exception) -> None:
            log.warning("nats.error", error=str(e))
            for listener in self._error_listeners:
                listener(e)

        self.nc = await nats.connect(
            self.settings.url,
            name=self.name,
            # a first attempt only: nats-py otherwise retries the first connection forever
            max_reconnect_attempts=-1 if retry_first else 1,
            reconnect_time_wait=0.25,
            connect_timeout=5,
            # a connection that died without a word (a half-open TCP connection) is noticed after
            # this many seconds times the outstanding pings allowed, not nats-py's 2 x 120 s
            ping_interval=self.settings.ping_interval_s,
            max_outstanding_pings=2,
            allow_reconnect=retry_first,
            disconnected_cb=disconnected,
            reconnected_cb=reconnected,
            error_cb=error,
        )
        # nats-py reads these options at each disconnect: from now on, reconnect forever
        self.nc.options["allow_reconnect"] = True
        self.nc.options["max_reconnect_attempts"] = -1
        self._js = self.nc.jetstream(timeout=self.settings.api_timeout_s)

    async def close(self) -> None:
        if self.nc is not None and not self.nc.is_closed:
            try:
                await asyncio.wait_for(self.nc.close(), timeout=5)
            except Exception as e:  # closing is best effort
                log.warning("nats.close_failed", error=str(e))
        self.nc = None
        self._js = None


def stream_config(spec: StreamSpec, replicas: int) -> StreamConfig:
    return StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=spec.max_age_s,
        duplicate_window=spec.duplicate_window_s,
        num_replicas=replicas,
    )


#: settings a stream update may change (NATS 2.10+ also moves a stream between R1 and R3)
_UPDATABLE = ("subjects", "max_age", "duplicate_window", "num_replicas", "discard")
#: settings fixed at creation: a stream must be recreated (and its messages moved) to change them
_FIXED = ("storage", "retention")


def _comparable(field: str, value: Any) -> Any:
    if field == "subjects":
        return sorted(value or [])
    if field in ("max_age", "duplicate_window"):
        return float(value or 0)
    if field == "num_replicas":
        return value or 1
    return value


def stream_differences(
    current: StreamConfig, wanted: StreamConfig, fields: Iterable[str] = _UPDATABLE
) -> dict[str, tuple[Any, Any]]:
    """``{field: (current, wanted)}`` for each of ``fields`` where the two configs differ."""
    out = {}
    for field in fields:
        have, want = getattr(current, field), getattr(wanted, field)
        if _comparable(field, have) != _comparable(field, want):
            out[field] = (have, want)
    return out


async def reconcile_stream(js: JetStreamContext, current: StreamConfig, wanted: StreamConfig) -> dict[str, tuple[Any, Any]]:
    """Bring an existing stream to ``wanted``: the updatable settings that differ are applied
    (everything else in its config, an operator's limits included, is kept); a difference in a
    setting fixed at creation is logged, never applied. Returns what was changed."""
    fixed = stream_differences(current, wanted, _FIXED)
    if fixed:
        log.error("stream.config_not_updatable", stream=wanted.name, differences=_shown(fixed))
    changes = stream_differences(current, wanted)
    if not changes:
        return {}
    updated = dataclasses.replace(current, **{field: getattr(wanted, field) for field in changes})
    try:
        await js.update_stream(updated)
    except Exception as e:
        log.error("stream.update_failed", stream=wanted.name, changes=_shown(changes), error=repr(e))
        raise
    log.warning("stream.updated", stream=wanted.name, changes=_shown(changes))
    return changes


def _shown(differences: dict[str, tuple[Any, Any]]) -> dict[str, str]:
    return {field: f"{have!r} -> {want!r}" for field, (have, want) in differences.items()}


async def ensure_streams(js: JetStreamContext, replicas: int = 1, specs: Iterable[StreamSpec] | None = None) -> None:
    """Create every stream, or reconcile an existing one with its spec and ``replicas`` (a changed
    replica count, retention age, subject list or duplicate window is applied and logged). Safe to
    run from every process at every start."""
    for spec in specs if specs is not None else STREAMS.values():
        config = stream_config(spec, replicas)
        try:
            info: Any = await js.stream_info(spec.name)
        except NotFoundError:
            try:
                await js.add_stream(config)
            except Exception:
                # another process created it first
                info = await js.stream_info(spec.name)
            else:
                log.info("stream.created", stream=spec.name, replicas=replicas)
                continue
        await reconcile_stream(js, info.config, config)
