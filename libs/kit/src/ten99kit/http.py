"""The Litestar app factory every service uses: health (``/livez``, ``/readyz``), Prometheus
``/metrics``, OpenAPI JSON/YAML at ``/schema`` (no CDN-hosted UI), 1099Policy-style errors,
correlation ids, internal auth between the gateway and the services, and operator endpoints
under ``/_ops`` (dead letters; the clock, where allowed).

Two credentials, never interchangeable: the internal token (the gateway holds it) opens a
service's own API; the operator token opens ``/_ops`` and ``/schema``. Health and metrics stay open
for probes and Prometheus."""

from __future__ import annotations

import gzip
import hmac
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Controller, Litestar, MediaType, Request, Response, Router, get, post, put
from litestar.config.compression import CompressionConfig
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, YamlRenderPlugin
from litestar.openapi.spec import OpenAPI, OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Reference, Schema
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from litestar.types import ASGIApp, Receive, Scope, Send

from .errors import ApiError, exception_handlers
from .inputs import input_guard
from .logging import bind_actor, bind_correlation, get_logger

if TYPE_CHECKING:
    from .runtime import Runtime, ServiceParts

__all__ = [
    "ACTOR_HEADER",
    "COMPRESSION_LEVEL",
    "COMPRESSION_MINIMUM",
    "ERROR_SCHEMA",
    "INTERNAL_TOKEN_HEADER",
    "NO_COMPRESSION",
    "OPERATOR_TOKEN_HEADER",
    "TENANT_HEADER",
    "create_app",
    "document_errors",
    "gzipped",
    "internal_guard",
    "operator_guard",
    "tenant_id_from_header",
]

log = get_logger("http")

INTERNAL_TOKEN_HEADER = "x-ten99-internal-token"  # noqa: S105 (a header name)
#: or ``Authorization: Bearer <operator token>``
OPERATOR_TOKEN_HEADER = "x-ten99-operator-token"  # noqa: S105 (a header name)
TENANT_HEADER = "x-tenant-id"
#: who asked (`ten99_contracts.valid_actor`), sent by the gateway on every call; anything else is ignored
ACTOR_HEADER = "x-ten99-actor"
_QUIET = ("/livez", "/readyz", "/metrics")
#: a route handler's ``opt`` key that keeps its answers out of compression: for answers nearly
#: always under the 2 KB minimum, where Litestar would still set up a gzip stream per request
#: (measured: a tenth of the gateway's CPU on a cached public API retrieve); such a route gzips
#: its larger answers itself (`gzipped`)
NO_COMPRESSION = "no_compression"
#: answers at least this large are gzipped for a client that accepts gzip, at this level: 6 (zlib's
#: default) compresses an 8 KB page as well as Litestar's default 9 (2,572 bytes against 2,571) in
#: three quarters of the time
COMPRESSION_MINIMUM = 2048
COMPRESSION_LEVEL = 6


def gzipped(body: bytes) -> bytes:
    """``body`` as the compression middleware would gzip it: for a route that skips the middleware
    (`NO_COMPRESSION`) and compresses the answers it keeps once, not once per request."""
    return gzip.compress(body, COMPRESSION_LEVEL, mtime=0)


def correlation_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        raw = headers.get(b"x-correlation-id") or headers.get(b"x-request-id")
        cid = bind_correlation(raw.decode("latin-1")[:64] if raw else None)
        given_actor = headers.get(ACTOR_HEADER.encode())
        bind_actor(given_actor.decode("latin-1") if given_actor else None)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"request-id", cid.encode())]
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            path = scope.get("path", "")
            if not path.startswith(_QUIET):
                log.info(
                    "http.request",
                    method=scope.get("method"),
                    path=path,
                    status=status,
                    ms=round((time.perf_counter() - started) * 1000, 1),
                )

    return middleware


async def internal_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Only the gateway (holding the shared internal token) may call a service's API. During a
    rotation the previous token is accepted too (``<PREFIX>INTERNAL_TOKEN_PREVIOUS``)."""
    settings = connection.app.state.runtime.settings
    accepted = _tokens(settings.internal_token, settings.internal_token_previous)
    if not accepted:
        return
    if not _matches(connection.headers.get(INTERNAL_TOKEN_HEADER, ""), accepted):
        raise NotAuthorizedException("missing or wrong internal token")


async def operator_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Only an operator may call ``/_ops`` and read ``/schema``: the internal token does not open them.
    During a rotation the previous operator token is accepted too."""
    settings = connection.app.state.runtime.settings
    accepted = _tokens(settings.operator_token, settings.operator_token_previous)
    if not accepted:
        if settings.development:
            return  # a laptop without an operator token (a process outside development refuses to start so)
        raise NotAuthorizedException("no operator token is configured")
    given = connection.headers.get(OPERATOR_TOKEN_HEADER) or _bearer(connection.headers.get("authorization", ""))
    if not _matches(given, accepted):
        raise NotAuthorizedException("missing or wrong operator token")
    bind_actor("operator")


def _tokens(*secrets: Any) -> list[bytes]:
    """The non-empty tokens among a primary and its previous value."""
    return [v.encode() for v in (s.get_secret_value() for s in secrets) if v]


def _matches(given: str, accepted: list[bytes]) -> bool:
    """Constant-time comparison against every accepted token (no early exit on a match)."""
    found = False
    for token in accepted:
        found |= hmac.compare_digest(given.encode(), token)
    return found


def _bearer(authorization: str) -> str:
    scheme, _, credential = authorization.partition(" ")
    return credential.strip() if scheme.lower() == "bearer" else ""


def tenant_id_from_header(request: Request[Any, Any, Any]) -> str:
    """The company the gateway acts for. Every tenant-scoped query filters by it."""
    tenant = request.headers.get(TENANT_HEADER, "").strip()
    if not tenant:
        raise ApiError("No tenant given", error_code="no_tenant_found", status_code=400)
    return tenant


class ClockChange(msgspec.Struct, frozen=True):
    now: datetime | None = None
    advance_seconds: float | None = None


class Health(Controller):
    path = "/"
    include_in_schema = False

    @get("/livez", media_type=MediaType.JSON)
    async def livez(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/readyz", media_type=MediaType.JSON)
    async def readyz(self, request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
        """200 when this process should receive work; 503 with the failing checks named
        (database, schema at head, and NATS in the modes that need it)."""
        runtime: Runtime = request.app.state.runtime
        ok, body = await runtime.readiness()
        return Response(body, status_code=200 if ok else 503)


class Ops(Controller):
    """Operator endpoints. Behind the operator token; moving the clock also needs the setting."""

    path = "/_ops"
    include_in_schema = False
    guards = [operator_guard]

    @get("/clock")
    async def read_clock(self, request: Request[Any, Any, Any]) -> dict[str, Any]:
        return {"now": request.app.state.runtime.clock.now().isoformat()}

    @put("/clock")
    async def set_clock(self, request: Request[Any, Any, Any], data: JSONBody[ClockChange]) -> dict[str, Any]:
        runtime: Runtime = request.app.state.runtime
        if not runtime.settings.clock.controllable:
            raise ApiError("The clock of this process cannot be moved", error_code="insufficient_permissions", status_code=403)
        if data.now is not None:
            runtime.clock.set(data.now)
        if data.advance_seconds:
            from datetime import timedelta

            runtime.clock.advance(timedelta(seconds=data.advance_seconds))
        return {"now": runtime.clock.now().isoformat()}

    @post("/tick", status_code=200)
    async def tick(self, request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Run the clock-driven jobs now (instead of waiting for the timer)."""
        runtime: Runtime = request.app.state.runtime
        return {"now": runtime.clock.now().isoformat(), "jobs": await runtime.scheduler.run_due()}

    @get("/dead-letters")
    async def list_dead_letters(
        self, request: Request[Any, Any, Any], include_replayed: FromQuery[bool] = False
    ) -> list[dict[str, Any]]:
        runtime: Runtime = request.app.state.runtime
        rows = await runtime.consumer.dead_letters(include_replayed=include_replayed)
        return [
            {
                "id": r.id,
                "consumer": r.consumer,
                "subject": r.subject,
                "message_id": r.message_id,
                "error": r.error,
                "deliveries": r.deliveries,
                "created_at": r.created_at.isoformat(),
                "replayed_at": r.replayed_at.isoformat() if r.replayed_at else None,
            }
            for r in rows
        ]

    @post("/dead-letters/{dead_letter_id:int}/replay", status_code=200)
    async def replay_dead_letter(self, request: Request[Any, Any, Any], dead_letter_id: FromPath[int]) -> dict[str, Any]:
        runtime: Runtime = request.app.state.runtime
        try:
            applied = await runtime.consumer.replay(dead_letter_id)
        except LookupError as e:
            raise ApiError(str(e), error_code="resource_not_found", status_code=404) from None
        return {"id": dead_letter_id, "applied": applied}


def create_app(runtime: Runtime, parts: ServiceParts, *, ops_only: bool = False) -> Litestar:
    settings = runtime.settings
    prometheus = PrometheusConfig(app_name=f"ten99_{runtime.name}", group_path=True, exclude=list(_QUIET))
    handlers: list[Any] = [Health, Ops, PrometheusController]
    if not ops_only and parts.route_handlers:
        guards = [internal_guard] if parts.internal_api else []
        handlers.append(Router(path="/", route_handlers=parts.route_handlers, guards=guards))
    deps = {"tenant_id": Provide(tenant_id_from_header, sync_to_thread=False)}
    for name, value in parts.dependencies.items():
        deps[name] = Provide(_constant(value), use_cache=True, sync_to_thread=False)
    app = Litestar(
        route_handlers=handlers,
        dependencies=deps,
        exception_handlers=exception_handlers,
        middleware=[correlation_middleware, prometheus.middleware, input_guard, *parts.middleware],
        openapi_config=OpenAPIConfig(
            title=f"ten99 {runtime.name}",
            version="1.0.0",
            path="/schema",
            # the whole API's shape is for operators, not for whoever reaches the port
            openapi_router=Router(path="/schema", route_handlers=[], guards=[operator_guard], include_in_schema=False),
            render_plugins=[JsonRenderPlugin(), YamlRenderPlugin()],
        ),
        template_config=parts.template_config,
        compression_config=CompressionConfig(
            backend="gzip",
            minimum_size=COMPRESSION_MINIMUM,
            gzip_compress_level=COMPRESSION_LEVEL,
            exclude_opt_key=NO_COMPRESSION,
        )
        if parts.compress
        else None,
        logging_config=None,
        debug=False,
        request_max_body_size=parts.max_body_size,
        **parts.app_options,
    )
    app.state.runtime = runtime
    app.state.settings = settings
    document_errors(app.openapi_schema)
    return app


ERROR_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    title="Error",
    description="Every error, as 1099Policy returns them; `message` names the fields at fault where it is an object",
    required=["error_code", "message"],
    properties={
        "error_code": Schema(type=OpenAPIType.STRING, examples=["invalid_input"]),
        "message": Schema(
            one_of=[
                Schema(type=OpenAPIType.STRING),
                Schema(type=OpenAPIType.OBJECT, additional_properties=Schema(type=OpenAPIType.STRING)),
            ]
        ),
    },
)


def document_errors(openapi: OpenAPI) -> None:
    """Every operation documents its errors as they are sent (``{error_code, message}``), not
    as Litestar's default body: each 4xx/5xx response it declares, and a ``default`` response."""
    components = openapi.components
    components.schemas = {**(components.schemas or {}), "Error": ERROR_SCHEMA}
    reference = Reference(ref="#/components/schemas/Error")
    for item in (openapi.paths or {}).values():
        for method in ("get", "put", "post", "delete", "patch"):
            operation: Operation | None = getattr(item, method, None)
            if operation is None:
                continue
            responses = dict(operation.responses or {})
            for status, response in list(responses.items()):
                if status[:1] in ("4", "5") and isinstance(response, OpenAPIResponse):
                    responses[status] = OpenAPIResponse(
                        description=response.description, content={MediaType.JSON: OpenAPIMediaType(schema=reference)}
                    )
            responses.setdefault(
                "default", OpenAPIResponse(description="An error", content={MediaType.JSON: OpenAPIMediaType(schema=reference)})
            )
            operation.responses = responses


def _constant(value: Any) -> Any:
    def provide() -> Any:
        return value

    return provide
