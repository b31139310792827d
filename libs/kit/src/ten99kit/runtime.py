"""The composition of one service process: settings, clock, database, bus, relay, consumers,
scheduler and HTTP app, and the modes it runs in (``api``, ``worker``, ``relay``, ``all``).

A service describes itself with a `ServiceDefinition`; its ``build(runtime)`` function (in the
service's ``bootstrap.py``, the only place that knows concrete adapters) returns the
`ServiceParts`: routes, subscriptions, clock-driven jobs and start/stop hooks.

A served process (`Runtime.serve`) answers HTTP at once, NATS or not: it connects to NATS in the
background, retrying with a capped backoff, and starts what needs the bus (relay, consumers) once
connected; a SIGTERM stops it at any moment. Its probes (`Runtime.readiness`):

- ``/livez``: the event loop runs (the answer itself is the proof);
- ``/readyz``: the database answers and its schema is at the scripts' head revision (read once at
  start), and in the ``worker``, ``relay`` and ``all`` modes NATS is connected with its streams
  provisioned. An ``api`` process stays ready while NATS is away: its writes wait in the outbox.
"""

from __future__ import annotations

import asyncio
import gc
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
from .follow import Follower
from .inbox import InboxConsumer, Subscription, inbox_tables
from .inputs import MAX_BODY_BYTES
from .logging import configure_logging, get_logger
from .migrations import SchemaState, current_revisions, read_scripts
from .outbox import OutboxRelay, outbox_table
from .scheduler import ScheduledJob, Scheduler
from .settings import HttpSettings, ServiceSettings
from .statistics import StatisticsKeeper
from .workers import Backoff, wait_first

__all__ = ["MODES", "Command", "Runtime", "ServiceDefinition", "ServiceParts", "http_config", "kit_tables"]

log = get_logger("runtime")

MODES = ("api", "worker", "relay", "all")
#: the modes whose work needs NATS (consumers, relay): their readiness includes it
BUS_MODES = ("worker", "relay", "all")
#: how long a readiness probe waits for the database
PROBE_TIMEOUT_S = 2.0

Task = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


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
    #: run in every process serving the routes (``api`` and ``all`` modes, once NATS is connected):
    #: unlike a consumer, each such process hears every message of their subjects (the gateway
    #: drops the public API answers it keeps when their resource changes)
    followers: list[Follower] = field(default_factory=list)
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


def freeze_start_up_objects() -> None:
    """Everything built at start (modules, the app and its routes, tables) is moved out of the
    cyclic collector's reach (`gc.freeze`): a full collection then walks only what the running
    service made. Measured: a full collection over a service's ~140,000 start-up objects took
    ~130 ms on this machine, the GET benchmark's stalls of 150-180 ms (bench/README.md)."""
    gc.collect()
    gc.freeze()


def http_config(app: Any, http: HttpSettings) -> uvicorn.Config:
    """The HTTP server of a service: its address, the proxies it believes, no access log (the
    kit's middleware logs), 5 s to finish requests in flight on shutdown."""
    return uvicorn.Config(
        app,
        host=http.host,
        port=http.port,
        proxy_headers=True,
        forwarded_allow_ips=http.forwarded_allow_ips,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )


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
        #: what this process runs (`serve` sets it); an in-process test service runs everything
        self.mode = "all"
        #: the service's migration scripts (head and known revisions), read once
        self.scripts = read_scripts(definition.migrations)
        #: connected to NATS with the streams provisioned
        self.bus_ready = False

    def app(self, *, ops_only: bool = False) -> Any:
        from .http import create_app

        return create_app(self, self.parts, ops_only=ops_only)

    async def start(self) -> None:
        """For commands and in-process tests: connect to NATS (waiting for it), then the start hooks."""
        await self.bus.connect()
        await self._provision()
        for hook in self.parts.on_startup:
            await hook()

    async def _provision(self) -> None:
        if self.settings.nats.provision_streams:
            await ensure_streams(self.bus.js, replicas=self.settings.nats.replicas)
        self.bus_ready = True

    async def connect_bus(self, stop: asyncio.Event, backoff: Backoff | None = None) -> bool:
        """Connect to NATS and provision the streams, retrying with a capped backoff until it
        works (True) or ``stop`` is set (False)."""
        backoff = backoff or Backoff(0.25, 10.0)
        while not stop.is_set():
            try:
                if not self.bus.is_connected:
                    await self.bus.connect(retry_first=False)
                await self._provision()
                log.info("nats.ready")
                return True
            except Exception as e:
                delay = backoff.next()
                log.warning("nats.not_ready", error=f"{type(e).__name__}: {e}", retry_in_s=delay)
                await wait_first(stop, timeout=delay)
        return False

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Whether this process should receive work, with one line per check."""
        checks: dict[str, str] = {}
        body: dict[str, Any] = {"mode": self.mode, "checks": checks}
        try:
            state = await asyncio.wait_for(self._schema_state(), timeout=PROBE_TIMEOUT_S)
            checks["database"] = "ok"
            checks["schema"] = "ok" if state.usable else f"failing: {state.describe()}"
            body["schema"] = state.describe()
        except Exception as e:
            reason = f"no answer within {PROBE_TIMEOUT_S:g} s" if isinstance(e, TimeoutError) else f"{type(e).__name__}: {e}"
            checks["database"] = f"failing: {reason}"[:300]
            checks["schema"] = "failing: unknown (the database does not answer)"
        nats = "ok" if self.bus_ready and self.bus.is_connected else "failing: not connected to NATS"
        if self.bus_ready is False and self.bus.is_connected:
            nats = "failing: connected to NATS, streams not provisioned yet"
        if self.mode in BUS_MODES:
            checks["nats"] = nats
        else:
            body["not_required"] = {"nats": nats}
        ok = all(v == "ok" for v in checks.values())
        return ok, {"status": "ok" if ok else "failing", **body}

    async def _schema_state(self) -> SchemaState:
        async with self.db.engine.connect() as conn:
            current = await current_revisions(conn)
        return SchemaState(current or frozenset(), self.scripts, versioned=current is not None)

    async def close(self) -> None:
        for hook in self.parts.on_shutdown:
            try:
                await hook()
            except Exception as e:
                log.warning("runtime.shutdown_hook_failed", error=repr(e))
        await self.relay.close()
        await self.bus.close()
        await self.db.dispose()

    def tasks_for(self, mode: str, *, bus: bool | None = None) -> list[Task]:
        """The long-running tasks of ``mode``: those that need NATS (``bus=True``: relay,
        consumers, followers), those that do not (``bus=False``: jobs, statistics, background work), or all."""
        needs_bus: list[Task] = []
        free: list[Task] = []
        if mode in ("relay", "all"):
            needs_bus.append(self.relay.run)
        if mode in ("api", "all"):
            needs_bus += [f.run for f in self.parts.followers]
        if mode in ("worker", "all"):
            needs_bus.append(self.consumer.run)
            free += [self.scheduler.run, self.statistics.run, *self.parts.background]
        if bus is None:
            return needs_bus + free
        return needs_bus if bus else free

    async def _run_with_bus(self, mode: str) -> None:
        """Connect to NATS in the background, then run the tasks that need it until cancelled."""
        if not await self.connect_bus(self.stop):
            return
        tasks = [asyncio.create_task(t(self.stop)) for t in self.tasks_for(mode, bus=True)]
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def serve(self, mode: str) -> None:
        """Run until SIGINT/SIGTERM. Every mode serves HTTP (health, metrics, ops) from the start,
        whether NATS answers or not; ``api`` and ``all`` also serve the service's own routes."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        configure_logging(self.settings.log, self.name)
        self.mode = mode
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self.stop.set)
            except (NotImplementedError, RuntimeError):
                pass
        for hook in self.parts.on_startup:
            await hook()
        server = self._http_server(self.app(ops_only=mode in ("worker", "relay")))
        web = asyncio.create_task(server.serve())
        web.add_done_callback(lambda _: self.stop.set())  # a server that could not start ends the process
        running = [asyncio.create_task(t(self.stop)) for t in self.tasks_for(mode, bus=False)]
        running.append(asyncio.create_task(self._run_with_bus(mode)))
        freeze_start_up_objects()
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

    def _http_server(self, app: Any) -> uvicorn.Server:
        server = uvicorn.Server(http_config(app, self.settings.http))
        server.install_signal_handlers = lambda: None  # type: ignore[attr-defined,method-assign]
        return server
