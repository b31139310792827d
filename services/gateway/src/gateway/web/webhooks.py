"""Webhooks: the company's endpoints (url, events, status, created), creating one (its signing
secret shown once, on the page that answers the creation), enabling, disabling and deleting one,
and per endpoint its recent delivery attempts (event type, status code, latency, answer excerpt,
time) with "Send again". Everything is notification's internal API; every id from the browser is
checked (`require_id`) before it is put in a service path."""

from __future__ import annotations

import re
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from ..adapters.services import ServiceError
from ..api.ids import is_id, require_id
from .common import gateway_of, page, redirect, user_of
from .shapes import items, next_cursor, pick

__all__ = [
    "create_webhook_endpoint",
    "delete_webhook_endpoint",
    "resend_webhook_delivery",
    "set_webhook_endpoint_status",
    "webhook_endpoint_page",
    "webhooks_page",
]

STATUSES = ("enabled", "disabled")
#: an attempt's id, the page cursor of the attempts: its delivery's id and its number
_ATTEMPT_ID = re.compile(r"wh_[0-9A-Za-z]{20,40}\.[0-9]{1,6}")


def endpoint_view(row: dict[str, Any]) -> dict[str, Any]:
    events = row.get("events")
    events = [str(e) for e in events] if isinstance(events, list) else ([str(events)] if events else [])
    return {
        "id": pick(row, "id"),
        "url": pick(row, "url", default=""),
        "description": pick(row, "description", default=""),
        "events": [] if events in ([], ["*"]) else events,
        "status": pick(row, "status", default=""),
        "disabled_reason": pick(row, "disabled_reason"),
        "created": pick(row, "created", "created_at"),
    }


def attempt_view(row: dict[str, Any]) -> dict[str, Any]:
    delivery = pick(row, "delivery", "delivery_id")
    return {
        "id": pick(row, "id"),
        "delivery_id": delivery if is_id(delivery, "wh") else None,
        "event_type": pick(row, "event_type", default="—"),
        "succeeded": bool(row.get("succeeded")),
        "status_code": pick(row, "status_code"),
        "latency_ms": pick(row, "latency_ms"),
        "excerpt": pick(row, "response_excerpt", "error", default=""),
        "error": pick(row, "error"),
        "delivery_status": pick(row, "delivery_status", default=""),
        "attempted_at": pick(row, "attempted_at", "created"),
    }


def _events_of(text: str) -> list[str] | None:
    """The form's comma- or space-separated event types; none (or ``*``) is every event."""
    events = [e for e in text.replace(",", " ").split() if e]
    return None if not events or events == ["*"] else events


async def _render_list(request: Request[Any, Any, Any], *, status_code: int = 200, **extra: Any) -> Template:
    gateway, user = gateway_of(request), user_of(request)
    answer = await gateway.services.notification.get("/v1/webhook_endpoints", tenant=user.company_id, params={"limit": 100})
    endpoints = [endpoint_view(row) for row in items(answer, "endpoints")]
    return page(
        request,
        "webhooks/list.html",
        status_code=status_code,
        endpoints=endpoints,
        values=extra.pop("values", {"url": "", "description": "", "events": ""}),
        errors=extra.pop("errors", {}),
        **extra,
    )


@get("/webhooks", include_in_schema=False)
async def webhooks_page(request: Request[Any, Any, Any]) -> Template:
    return await _render_list(request)


@post("/webhooks", include_in_schema=False)
async def create_webhook_endpoint(request: Request[Any, Any, Any]) -> Response[Any]:
    gateway, user = gateway_of(request), user_of(request)
    form = await request.form()
    values = {name: str(form.get(name) or "").strip() for name in ("url", "description", "events")}
    body: dict[str, Any] = {"url": values["url"], "description": values["description"] or None}
    if (events := _events_of(values["events"])) is not None:
        body["events"] = events
    try:
        created = await gateway.services.notification.post("/v1/webhook_endpoints", tenant=user.company_id, json=body)
    except ServiceError as e:
        errors = e.field_errors or {"form": e.text}
        return await _render_list(request, status_code=400, values=values, errors=errors)
    new_endpoint = {**endpoint_view(created or {}), "secret": (created or {}).get("secret")}
    response = await _render_list(request, new_endpoint=new_endpoint)
    response.headers["Cache-Control"] = "no-store"  # the secret is on this page only
    return response


@get("/webhooks/{endpoint_id:str}", include_in_schema=False)
async def webhook_endpoint_page(
    request: Request[Any, Any, Any], endpoint_id: FromPath[str], starting_after: FromQuery[str] = ""
) -> Template:
    endpoint_id = require_id(endpoint_id, "whe", "webhook endpoint")
    gateway, user = gateway_of(request), user_of(request)
    notification = gateway.services.notification
    endpoint = await notification.get(f"/v1/webhook_endpoints/{endpoint_id}", tenant=user.company_id)
    cursor = starting_after if _ATTEMPT_ID.fullmatch(starting_after) else ""
    answer = await notification.get(
        f"/v1/webhook_endpoints/{endpoint_id}/deliveries",
        tenant=user.company_id,
        params={"limit": 50, "starting_after": cursor or None},
    )
    attempts = [attempt_view(row) for row in items(answer, "attempts")]
    return page(
        request,
        "webhooks/endpoint.html",
        endpoint=endpoint_view(endpoint),
        attempts=attempts,
        next_cursor=next_cursor(answer, attempts),
    )


@post("/webhooks/{endpoint_id:str}/status", include_in_schema=False)
async def set_webhook_endpoint_status(request: Request[Any, Any, Any], endpoint_id: FromPath[str]) -> Response[Any]:
    endpoint_id = require_id(endpoint_id, "whe", "webhook endpoint")
    gateway, user = gateway_of(request), user_of(request)
    status = str((await request.form()).get("status") or "")
    if status not in STATUSES:
        return redirect(f"/webhooks/{endpoint_id}", error="Choose enabled or disabled.")
    try:
        await gateway.services.notification.put(
            f"/v1/webhook_endpoints/{endpoint_id}", tenant=user.company_id, json={"status": status}
        )
    except ServiceError as e:
        return redirect(f"/webhooks/{endpoint_id}", error=f"The endpoint was not changed: {e.text}")
    return redirect(f"/webhooks/{endpoint_id}", notice=f"The endpoint is {status}.")


@post("/webhooks/{endpoint_id:str}/delete", include_in_schema=False)
async def delete_webhook_endpoint(request: Request[Any, Any, Any], endpoint_id: FromPath[str]) -> Response[Any]:
    endpoint_id = require_id(endpoint_id, "whe", "webhook endpoint")
    gateway, user = gateway_of(request), user_of(request)
    try:
        await gateway.services.notification.call("DELETE", f"/v1/webhook_endpoints/{endpoint_id}", tenant=user.company_id)
    except ServiceError as e:
        return redirect(f"/webhooks/{endpoint_id}", error=f"The endpoint was not deleted: {e.text}")
    return redirect("/webhooks", notice="The endpoint was deleted: no more events are sent to it.")


@post("/webhooks/{endpoint_id:str}/deliveries/{delivery_id:str}/resend", include_in_schema=False)
async def resend_webhook_delivery(
    request: Request[Any, Any, Any], endpoint_id: FromPath[str], delivery_id: FromPath[str]
) -> Response[Any]:
    endpoint_id = require_id(endpoint_id, "whe", "webhook endpoint")
    delivery_id = require_id(delivery_id, "wh", "webhook delivery")
    gateway, user = gateway_of(request), user_of(request)
    try:
        await gateway.services.notification.post(f"/v1/webhook_deliveries/{delivery_id}/resend", tenant=user.company_id)
    except ServiceError as e:
        return redirect(f"/webhooks/{endpoint_id}", error=f"The event was not sent again: {e.text}")
    return redirect(f"/webhooks/{endpoint_id}", notice="The event will be sent again in a moment.")
