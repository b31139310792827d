"""`ten99kit.runtime.http_config`: a service's HTTP server believes ``X-Forwarded-For`` only from
the proxies in ``HTTP__FORWARDED_ALLOW_IPS``, and takes the first untrusted address from the right
as the client (the portal's and the login's limits count it). Served by a real uvicorn."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import uvicorn
from litestar import Litestar, Request, get
from ten99_testing import free_port, wait_until
from ten99kit.runtime import http_config
from ten99kit.settings import HttpSettings


@get("/who", sync_to_thread=False)
def who(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else ""


@asynccontextmanager
async def serving(forwarded_allow_ips: str) -> AsyncIterator[str]:
    settings = HttpSettings(host="127.0.0.1", port=free_port(), forwarded_allow_ips=forwarded_allow_ips)
    server = uvicorn.Server(http_config(Litestar([who]), settings))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    try:
        await wait_until(lambda: server.started or task.done(), timeout=30, what="uvicorn started")
        assert not task.done(), task
        yield f"http://127.0.0.1:{settings.port}/who"
    finally:
        server.should_exit = True
        await task


async def client_seen(forwarded_allow_ips: str, forwarded_for: str | None) -> str:
    async with serving(forwarded_allow_ips) as url, httpx.AsyncClient() as client:
        headers = {"x-forwarded-for": forwarded_for} if forwarded_for else {}
        return (await client.get(url, headers=headers)).text


async def test_the_client_is_the_first_untrusted_address_from_the_right() -> None:
    chain = "198.51.100.7, 203.0.113.9"  # someone wrote the first; the trusted proxy appended the second
    # the default trusts loopback only: the address the nearest proxy saw
    assert await client_seen("127.0.0.1", chain) == "203.0.113.9"
    # the Ingress controller's network trusted too: the address it saw connect
    assert await client_seen("127.0.0.1, 203.0.113.0/24", chain) == "198.51.100.7"
    # a peer that is not a trusted proxy: its header is ignored, the connection's address counts
    assert await client_seen("10.0.0.0/8", chain) == "127.0.0.1"
    assert await client_seen("127.0.0.1", None) == "127.0.0.1"
