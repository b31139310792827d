"""The public API's reference page, ``GET /api/docs``: rendered here from the OpenAPI document the
gateway serves at ``/api/v1/openapi.json`` (no login, no CDN, no script)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.response import Template

from ..api.reference import reference_view
from .common import page

__all__ = ["api_reference"]


@get("/api/docs", include_in_schema=False)
async def api_reference(request: Request[Any, Any, Any]) -> Template:
    return page(request, "api/reference.html", reference=reference_view())
