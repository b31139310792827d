"""Passing a file (certificate or invoice PDF, error report CSV, mail attachment) from a service
to the browser as a stream, with the service's content type and a sensible file name."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

from litestar import Response
from litestar.response import Stream

from ..adapters.services import ServiceClient

__all__ = ["relay_download"]

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def _disposition(filename: str, inline: bool) -> str:
    name = _SAFE_NAME.sub("_", filename)[:150] or "download"
    return f'{"inline" if inline else "attachment"}; filename="{name}"'


async def relay_download(
    client: ServiceClient,
    path: str,
    *,
    tenant: str | None,
    filename: str,
    params: dict[str, Any] | None = None,
    inline: bool = False,
    keep_service_filename: bool = False,
) -> Response[Any]:
    """Stream ``path`` of ``client`` to the browser. A 4xx/5xx answer raises `ServiceError` /
    `ServiceUnavailable` (which the caller's exception handlers turn into a page)."""
    context = client.stream("GET", path, tenant=tenant, params=params, timeout=120.0)
    upstream = await context.__aenter__()
    if upstream.status_code >= 400:
        try:
            await upstream.aread()
            client.decode(upstream)  # raises
        finally:
            await context.__aexit__(None, None, None)

    async def body() -> AsyncIterator[bytes]:
        try:
            async for chunk in upstream.aiter_bytes():
                yield chunk
        finally:
            await context.__aexit__(None, None, None)

    headers = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}
    service_disposition = upstream.headers.get("content-disposition")
    headers["Content-Disposition"] = (
        service_disposition if keep_service_filename and service_disposition else _disposition(filename, inline)
    )
    if "content-length" in upstream.headers and "content-encoding" not in upstream.headers:
        headers["Content-Length"] = upstream.headers["content-length"]
    media_type = upstream.headers.get("content-type", "application/octet-stream")
    return Stream(body(), media_type=media_type, headers=headers, status_code=upstream.status_code)
