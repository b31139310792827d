"""The connection to NATS JetStream, and stream provisioning from the specs in `ten99_contracts`."""

from __future__ import annotations

import asyncio
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

__all__ = ["Bus", "ensure_streams", "stream_config"]

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

    async def connect(self) -> None:
        async def disconnected() -> None:
            log.warning("nats.disconnected")

        async def reconnected() -> None:
            log.info("nats.reconnected")
            self.reconnected.set()
            for listener in self._reconnect_listeners:
                listener()

        async def error(e: Exception) -> None:
            log.warning("nats.error", error=str(e))

        self.nc = await nats.connect(
            self.settings.url,
            name=self.name,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.25,
            connect_timeout=5,
            allow_reconnect=True,
            disconnected_cb=disconnected,
            reconnected_cb=reconnected,
            error_cb=error,
        )
        self._js = self.nc.jetstream(timeout=5)

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


async def ensure_streams(js: JetStreamContext, replicas: int = 1, specs: Iterable[StreamSpec] | None = None) -> None:
    """Create or update every stream. Safe to run from every process at every start."""
    for spec in specs if specs is not None else STREAMS.values():
        config = stream_config(spec, replicas)
        try:
            info: Any = await js.stream_info(spec.name)
        except NotFoundError:
            try:
                await js.add_stream(config)
            except Exception:
                # another process created it first
                await js.stream_info(spec.name)
            continue
        current = info.config
        if (
            sorted(current.subjects or []) != sorted(config.subjects or [])
            or current.max_age != config.max_age
            or current.duplicate_window != config.duplicate_window
        ):
            await js.update_stream(config)
