"""Clients for the five services' internal HTTP APIs (one `httpx.AsyncClient` each).

Every call carries the internal token (``X-Ten99-Internal-Token``), the correlation id of the
request being handled (``X-Correlation-ID``) and, for tenant-scoped routes, the company the
gateway acts for (``X-Tenant-Id``). That company always comes from the gateway's own session or
API key, never from the caller's request: ``tenant`` is a required keyword argument.

A 4xx answer becomes `ServiceError` (with the service's ``error_code`` and ``message``); a 5xx
answer, a timeout or a refused connection becomes `ServiceUnavailable`.

The public API's calls go through `ServiceClient.forward`, on an aiohttp session: its connection
pool costs a fraction of httpx's per request (httpcore checks every pooled connection's socket on
each request, which was a third of the gateway's CPU at 200 requests/s). The dashboard's calls
(fewer, and reading the answers) stay on httpx.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
import httpx
from ten99kit.http import ACTOR_HEADER, INTERNAL_TOKEN_HEADER, TENANT_HEADER
from ten99kit.logging import actor, correlation_id, get_logger
from ten99kit.tls import client_tls
from yarl import URL

from ..settings import GatewaySettings

__all__ = ["Forwarded", "ServiceClient", "ServiceError", "ServiceUnavailable", "Services", "format_message"]

log = get_logger(__name__)


def format_message(message: Any) -> str:
    """A service's ``message`` (a string, or a dict of field errors) as one sentence."""
    if isinstance(message, dict):
        return "; ".join(f"{k}: {format_message(v)}" for k, v in message.items())
    if isinstance(message, list):
        return "; ".join(format_message(m) for m in message)
    return str(message)


class ServiceError(Exception):
    """The service refused the request (4xx): show the message to the user."""

    def __init__(self, service: str, status_code: int, error_code: str, message: Any) -> None:
        super().__init__(f"{service}: {status_code} {error_code}: {format_message(message)}")
        self.service = service
        self.status_code = status_code
        self.error_code = error_code
        self.message = message

    @property
    def text(self) -> str:
        return format_message(self.message)

    @property
    def field_errors(self) -> dict[str, str]:
        return {str(k): format_message(v) for k, v in self.message.items()} if isinstance(self.message, dict) else {}


class ServiceUnavailable(Exception):
    """The service failed (5xx) or could not be reached: show an error page."""

    def __init__(self, service: str, reason: str, status_code: int | None = None) -> None:
        super().__init__(f"{service}: {reason}")
        self.service = service
        self.reason = reason
        self.status_code = status_code


def _error_of(service: str, response: httpx.Response) -> ServiceError:
    error_code, message = "bad_request", response.reason_phrase or "refused"
    try:
        body = response.json()
        if isinstance(body, dict):
            error_code = str(body.get("error_code") or error_code)
            message = body.get("message", message)
    except ValueError:
        pass
    return ServiceError(service, response.status_code, error_code, message)


def _clean(params: Mapping[str, Any] | list[tuple[str, Any]] | None) -> list[tuple[str, Any]]:
    pairs = list(params.items()) if isinstance(params, Mapping) else list(params or [])
    return [(k, v) for k, v in pairs if v not in (None, "")]


@dataclass(frozen=True)
class Forwarded:
    """A service's whole answer to a forwarded call (`ServiceClient.forward`)."""

    status_code: int
    #: case-insensitive
    headers: Mapping[str, str]
    content: bytes


class ServiceClient:
    def __init__(
        self, name: str, base_url: str, token: str, timeout_s: float, *, transport: httpx.AsyncBaseTransport | None = None
    ):
        self.name = name
        self.base_url = base_url.rstrip("/")
        headers = {INTERNAL_TOKEN_HEADER: token} if token else {}
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(5.0, timeout_s)),
            transport=transport,
            follow_redirects=False,
            verify=client_tls(),
        )
        self._token_headers = headers
        self._timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None

    def _forwarding_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                # the services answer uncompressed on the internal hop: no CPU spent on gzip either side
                headers={**self._token_headers, "Accept-Encoding": "identity"},
                # not ``connect``: in aiohttp that includes waiting for a free pooled connection
                timeout=aiohttp.ClientTimeout(total=self._timeout_s, sock_connect=min(5.0, self._timeout_s)),
                # idle connections closed before the service's uvicorn closes them (its keep-alive
                # is 5 s): a request never goes out on a connection the other end is closing
                connector=aiohttp.TCPConnector(limit=100, keepalive_timeout=4),
                auto_decompress=False,
            )
        return self._session

    async def forward(
        self,
        method: str,
        path: str,
        *,
        tenant: str,
        params: list[tuple[str, Any]] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Forwarded:
        """The service's answer (status, headers, body), whatever its status; `ServiceUnavailable`
        if none came. Used by the public API, which passes the answer on as it is."""
        session = self._forwarding_session()
        try:
            query = urlencode(_clean(params))  # encoded as httpx does (``@`` as ``%40``), not as yarl would
            url = URL(f"{self.base_url}{path}?{query}" if query else f"{self.base_url}{path}", encoded=True)
            async with session.request(
                method,
                url,
                data=content,
                headers=self._headers(tenant, headers),
                allow_redirects=False,
            ) as response:
                return Forwarded(response.status, response.headers, await response.read())
        except TimeoutError as e:
            log.warning("service.timeout", service=self.name, path=path, error=repr(e))
            raise ServiceUnavailable(self.name, "did not answer in time") from None
        except (aiohttp.ClientError, ValueError) as e:
            log.warning("service.unreachable", service=self.name, path=path, error=repr(e))
            raise ServiceUnavailable(self.name, "cannot be reached") from None

    def _headers(self, tenant: str | None, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = dict(extra or {})
        cid = correlation_id.get()
        if cid:
            headers["X-Correlation-ID"] = cid
        if tenant:
            headers[TENANT_HEADER] = tenant
        requester = actor.get()
        if requester:
            headers[ACTOR_HEADER] = requester
        return headers

    async def request(
        self,
        method: str,
        path: str,
        *,
        tenant: str | None,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        json: Any = None,
        content: bytes | None = None,
        data: Mapping[str, Any] | None = None,
        files: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        """The raw response, whatever its status; `ServiceUnavailable` if none came."""
        clean_params = _clean(params)
        kwargs: dict[str, Any] = {}
        if timeout is not None:
            kwargs["timeout"] = timeout
        try:
            return await self._client.request(
                method,
                path,
                params=clean_params,
                json=json,
                content=content,
                data=data,
                files=files,
                headers=self._headers(tenant, headers),
                **kwargs,
            )
        except httpx.TimeoutException as e:
            log.warning("service.timeout", service=self.name, path=path, error=repr(e))
            raise ServiceUnavailable(self.name, "did not answer in time") from None
        except httpx.TransportError as e:
            log.warning("service.unreachable", service=self.name, path=path, error=repr(e))
            raise ServiceUnavailable(self.name, "cannot be reached") from None

    async def call(self, method: str, path: str, *, tenant: str | None, **kwargs: Any) -> Any:
        """The decoded JSON answer of a 2xx; `ServiceError` for a 4xx; `ServiceUnavailable` otherwise."""
        response = await self.request(method, path, tenant=tenant, **kwargs)
        return self.decode(response)

    def decode(self, response: httpx.Response) -> Any:
        if response.status_code >= 500:
            log.warning("service.failed", service=self.name, status=response.status_code, body=response.text[:500])
            raise ServiceUnavailable(self.name, f"answered {response.status_code}", response.status_code)
        if response.status_code >= 400:
            raise _error_of(self.name, response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ServiceUnavailable(self.name, "answered something that is not JSON", response.status_code) from None

    async def get(self, path: str, *, tenant: str | None, **kwargs: Any) -> Any:
        return await self.call("GET", path, tenant=tenant, **kwargs)

    async def post(self, path: str, *, tenant: str | None, **kwargs: Any) -> Any:
        return await self.call("POST", path, tenant=tenant, **kwargs)

    async def put(self, path: str, *, tenant: str | None, **kwargs: Any) -> Any:
        return await self.call("PUT", path, tenant=tenant, **kwargs)

    @asynccontextmanager
    async def stream(
        self, method: str, path: str, *, tenant: str | None, params: Mapping[str, Any] | None = None, timeout: float | None = None
    ) -> AsyncIterator[httpx.Response]:
        """A streamed response (PDFs, CSVs). The caller checks the status."""
        request = self._client.build_request(
            method,
            path,
            params=_clean(params),
            headers=self._headers(tenant, None),
            timeout=timeout if timeout is not None else self._client.timeout,
        )
        try:
            response = await self._client.send(request, stream=True)
        except httpx.TimeoutException:
            raise ServiceUnavailable(self.name, "did not answer in time") from None
        except httpx.TransportError:
            raise ServiceUnavailable(self.name, "cannot be reached") from None
        try:
            yield response
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()
        if self._session is not None:
            await self._session.close()


class Services:
    """The five services, as the gateway reaches them."""

    def __init__(self, settings: GatewaySettings, *, transports: Mapping[str, httpx.AsyncBaseTransport] | None = None):
        token = settings.internal_token.get_secret_value()
        urls = settings.services
        transports = transports or {}

        def make(name: str, url: str) -> ServiceClient:
            return ServiceClient(name, url, token, urls.timeout_s, transport=transports.get(name))

        self.contractor = make("contractor", urls.contractor_url)
        self.enrollment = make("enrollment", urls.enrollment_url)
        self.policy = make("policy", urls.policy_url)
        self.billing = make("billing", urls.billing_url)
        self.notification = make("notification", urls.notification_url)
        self.upload_timeout_s = urls.upload_timeout_s

    def by_name(self, name: str) -> ServiceClient:
        client = getattr(self, name, None)
        if not isinstance(client, ServiceClient):
            raise KeyError(name)
        return client

    async def aclose(self) -> None:
        for c in (self.contractor, self.enrollment, self.policy, self.billing, self.notification):
            await c.aclose()
