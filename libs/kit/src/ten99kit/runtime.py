"""The composition of one service process: settings, clock, database, bus, relay, consumers,
scheduler and HTTP app, and the modes it runs in (``api``, ``worker``, ``relay``, ``all``).

A service describes itself with a `ServiceDefinition`; its ``build(runtime)`` function (in the
service's ``bootstrap.py``, the only place that knows concrete adapters) returns the
`ServiceParts`: routes, subscriptions, clock-driven jobs and start/stop hooks.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from litestar.template import TemplateConfig
from sqlalchemy import MetaData, Table

from .bus import Bus, ensure_streams
from .clock import SettableClock
from .db import Database, create_engine
from .inbox import InboxConsumer, Subscription, inbox_tables
from .inputs import MAX_BODY_BYTES
from .logging import configure_logging, get_logger
from .outbox import OutboxRelay, outbox_table
from .scheduler import ScheduledJob, Scheduler
from .settings import ServiceSettings
from .statistics import StatisticsKeeper

__all__ = ["MODES", "Command", "Runtime", "ServiceDefinition", "ServiceParts", "kit_tables"]

log = get_logger("runtime")

MODES = ("api", "worker", "relay", "all")


def kit_tables(metadata: MetaData) -> tuple[Table, Table, Table]:
    """Add the outbox, inbox and dead-letter tables to a service's metadata."""
    return (outbox_table(metadata), *inbox_tables(metadata))


@dataclass
class ServiceParts:
    route_handlers: list[Any] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)
    jobs: list[ScheduledJob] = field(default_factory=list)
    #: values handed to route handlers by parameter name
    dependencies: dict[str, Any] = field(default_factory=dict)
    #: guard every route with the internal token (all services but the gateway)
    internal_api: bool = True
    template_config: TemplateConfig[Any] | None = None
    middleware: list[Any] = field(default_factory=list)
    compress: bool = False
    #: the one request body limit (`ten99kit.inputs.MAX_BODY_BYTES`); a service may only lower it
    max_body_size: int = MAX_BODY_BYTES
    app_options: dict[str, Any] = field(default_factory=dict)
    on_startup: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    #: long-running tasks started in worker mode (besides consumers and jobs)
    background: list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]] = field(default_factory=list)
    on_shutdown: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


@dataclass(frozen=True)
class Command:
    """An operator command of one service: ``python -m <service> <name> ...``."""

    help: str
    #: adds the command's arguments to its argparse sub-parser
    arguments: Callable[[Any], None]
    #: runs with a started runtime (database and bus connected); returns the exit code
    run: Callable[[Runtime, Any], Awaitable[int]]


@dataclass(frozen=True)
class ServiceDefinition:
    name: str
    settings_type: type[ServiceSettings]
    metadata: MetaData
    #: folder holding this service's Alembic ``env.py`` and ``versions/``
    migrations: Path
    build: Callable[[Runtime], ServiceParts]
    commands: dict[str, Command] = field(default_factory=dict)


class Runtime:
    def __init__(self, definition: ServiceDefinition, settings: ServiceSettings, *, clock: SettableClock | None = None) -> None:
        # every process (and every in-process test service) starts here: outside development, no
        # empty token and no development-only secret
        settings.refuse_unsafe_defaults()
        self.definition = definition
        self.name = definition.name
        self.settings = settings
        self.clock = clock or SettableClock()
        self.db = Database(create_engine(settings.db), self.clock, definition.name)
        tables = definition.metadata.tables
        self.db.outbox_table = tables.get("outbox")
        self.bus = Bus(settings.nats, name=f"ten99-{definition.name}")
        self.uses_bus = True
        self.parts = definition.build(self)
        self.consumer = InboxConsumer(
            self.db, self.bus, settings.nats, self.parts.subscriptions, tables["inbox"], tables["dead_letters"]
        )
        self.relay = OutboxRelay(self.db, self.bus, settings.relay)
        self.scheduler = Scheduler(self.parts.jobs, self.clock, settings.clock.tick_interval_s)
        self.statistics = StatisticsKeeper(self.db.engine, settings.db)
        self.stop = asyncio.Event()

    def app(self, *, ops_only: bool = False) -> Any:
        from .http import create_app

        return create_app(self, self.parts, ops_only=ops_only)

    async def start(self) -> None:
        await self.bus.connect()
        if self.settings.nats.provision_streams:
            await ensure_streams(self.bus.js, replicas=self.settings.nats.replicas)
        for hook in self.parts.on_startup:
            await hook()

    async def close(self) -> None:
        for hook in self.parts.on_shutdown:
            try:
                await hook()
            except Exception as e:
                log.warning("runtime.shutdown_hook_failed", error=repr(e))
        await self.relay.close()
        await self.bus.close()
        await self.db.dispose()

    def tasks_for(self, mode: str) -> list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]]:
        tasks: list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]] = []
        if mode in ("relay", "all"):
            tasks.append(self.relay.run)
        if mode in ("worker", "all"):
            tasks.append(self.consumer.run)
            tasks.append(self.scheduler.run)
            tasks.append(self.statistics.run)
            tasks.extend(self.parts.background)
        return tasks

    async def serve(self, mode: str) -> None:
        """Run until SIGINT/SIGTERM. Every mode serves HTTP (health, metrics, ops); ``api`` and
        ``all`` also serve the service's own routes."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        configure_logging(self.settings.log, self.name)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self.stop.set)
            except (NotImplementedError, RuntimeError):
                pass
        await self.start()
        app = self.app(ops_only=mode in ("worker", "relay"))
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=self.settings.http.host,
                port=self.settings.http.port,
                log_config=None,
                access_log=False,
                lifespan="on",
                timeout_graceful_shutdown=5,
            )
        )
        server.install_signal_handlers = lambda: None  # type: ignore[attr-defined,method-assign]
        running: list[asyncio.Task[None]] = [asyncio.create_task(t(self.stop)) for t in self.tasks_for(mode)]
        web = asyncio.create_task(server.serve())
        log.info("service.started", mode=mode, port=self.settings.http.port, development=self.settings.development)
        try:
            await self.stop.wait()
        finally:
            server.should_exit = True
            await asyncio.gather(web, return_exceptions=True)
            for t in running:
                t.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            await self.close()
            log.info("service.stopped")
