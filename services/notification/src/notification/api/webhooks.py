"""Webhook endpoints (``/v1/webhook_endpoints``), their attempts, and resending a delivery
(``/v1/webhook_deliveries/{id}/resend``): tenant-scoped, 1099Policy's shapes and error codes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from ten99kit import Database
from ten99kit.clock import epoch
from ten99kit.pagination import ListEnvelope, PageRequest

from ..adapters.webhook_store import list_attempts, list_endpoints
from ..application.endpoints import EndpointChange, Endpoints
from .schemas import (
    DeletedWebhookEndpoint,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEndpointCreate,
    WebhookEndpointUpdate,
    WebhookEndpointWithSecret,
)

__all__ = ["WebhookDeliveryController", "WebhookEndpointController"]


def _endpoint_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "url": row["url"],
        "description": row["description"],
        "events": list(row["events"]),
        "status": row["status"],
        "disabled_reason": row["disabled_reason"],
        "created": epoch(row["created_at"]),
        "updated": epoch(row["updated_at"]),
        "previous_secret_expires": epoch(row["previous_secret_until"]) if row.get("previous_secret_until") else None,
    }


def endpoint_view(row: Mapping[str, Any]) -> WebhookEndpoint:
    return WebhookEndpoint(**_endpoint_fields(row))


def _attempt_view(row: Mapping[str, Any]) -> WebhookAttempt:
    waiting = row["delivery_status"] == "pending"
    return WebhookAttempt(
        id=row["id"],
        delivery=row["delivery_id"],
        event=row["event_id"],
        event_type=row["event_type"],
        number=row["number"],
        attempted_at=epoch(row["attempted_at"]),
        succeeded=row["succeeded"],
        status_code=row["status_code"],
        latency_ms=row["latency_ms"],
        response_excerpt=row["response_excerpt"],
        error=row["error"],
        delivery_status=row["delivery_status"],
        next_attempt_at=epoch(row["delivery_next_attempt_at"]) if waiting else None,
    )


def _delivery_view(row: Mapping[str, Any]) -> WebhookDelivery:
    return WebhookDelivery(
        id=row["id"],
        endpoint=row["endpoint_id"],
        event=row["event_id"],
        event_type=row["event_type"],
        status=row["status"],
        attempts=row["attempts"],
        next_attempt_at=epoch(row["next_attempt_at"]) if row["status"] == "pending" else None,
        last_status_code=row["last_status_code"],
        last_error=row["last_error"],
        created=epoch(row["created_at"]),
    )


class WebhookEndpointController(Controller):
    path = "/v1/webhook_endpoints"
    tags = ["webhooks"]

    @get("/")
    async def list_endpoints(
        self,
        db: NamedDependency[Database],
        tenant_id: NamedDependency[str],
        limit: FromQuery[int] = 10,
        starting_after: FromQuery[str | None] = None,
        ending_before: FromQuery[str | None] = None,
    ) -> ListEnvelope[WebhookEndpoint]:
        """The company's endpoints, newest first (secrets never shown)."""
        page = await list_endpoints(db, tenant_id, PageRequest(limit, starting_after, ending_before))
        return ListEnvelope(url="/v1/webhook_endpoints", has_more=page.has_more, data=[endpoint_view(r) for r in page.rows])

    @post("/", status_code=200)
    async def create_endpoint(
        self, endpoints: NamedDependency[Endpoints], tenant_id: NamedDependency[str], data: JSONBody[WebhookEndpointCreate]
    ) -> WebhookEndpointWithSecret:
        """A new endpoint, enabled, with its signing secret: the only answer that shows it."""
        row, secret = await endpoints.create(tenant_id, url=data.url, description=data.description, events=data.events)
        return WebhookEndpointWithSecret(**_endpoint_fields(row), secret=secret)

    @get("/{endpoint_id:str}")
    async def get_endpoint(
        self, endpoints: NamedDependency[Endpoints], tenant_id: NamedDependency[str], endpoint_id: FromPath[str]
    ) -> WebhookEndpoint:
        return endpoint_view(await endpoints.get(tenant_id, endpoint_id))

    @put("/{endpoint_id:str}")
    async def update_endpoint(
        self,
        endpoints: NamedDependency[Endpoints],
        tenant_id: NamedDependency[str],
        endpoint_id: FromPath[str],
        data: JSONBody[WebhookEndpointUpdate],
    ) -> WebhookEndpoint:
        """Change the URL, description, events or status (``enabled`` / ``disabled``)."""
        change = EndpointChange(**msgspec.structs.asdict(data))
        return endpoint_view(await endpoints.update(tenant_id, endpoint_id, change))

    @delete("/{endpoint_id:str}", status_code=200)
    async def delete_endpoint(
        self, endpoints: NamedDependency[Endpoints], tenant_id: NamedDependency[str], endpoint_id: FromPath[str]
    ) -> DeletedWebhookEndpoint:
        """The endpoint goes, with its deliveries and attempts."""
        await endpoints.delete(tenant_id, endpoint_id)
        return DeletedWebhookEndpoint(id=endpoint_id)

    @post("/{endpoint_id:str}/secret", status_code=200)
    async def rotate_secret(
        self, endpoints: NamedDependency[Endpoints], tenant_id: NamedDependency[str], endpoint_id: FromPath[str]
    ) -> WebhookEndpointWithSecret:
        """A new signing secret, shown this once; for 24 hours (``previous_secret_expires``)
        deliveries are signed with the old one too (``webhook-signature: v1,<new> v1,<old>``)."""
        row, secret = await endpoints.rotate_secret(tenant_id, endpoint_id)
        return WebhookEndpointWithSecret(**_endpoint_fields(row), secret=secret)

    @get("/{endpoint_id:str}/deliveries")
    async def list_attempts(
        self,
        db: NamedDependency[Database],
        endpoints: NamedDependency[Endpoints],
        tenant_id: NamedDependency[str],
        endpoint_id: FromPath[str],
        limit: FromQuery[int] = 10,
        starting_after: FromQuery[str | None] = None,
        ending_before: FromQuery[str | None] = None,
    ) -> ListEnvelope[WebhookAttempt]:
        """Every attempt to deliver to the endpoint, newest first, with its delivery's state."""
        await endpoints.get(tenant_id, endpoint_id)  # invalid_webhook_endpoint_id if not the company's
        page = await list_attempts(db, tenant_id, endpoint_id, PageRequest(limit, starting_after, ending_before))
        url = f"/v1/webhook_endpoints/{endpoint_id}/deliveries"
        return ListEnvelope(url=url, has_more=page.has_more, data=[_attempt_view(r) for r in page.rows])


class WebhookDeliveryController(Controller):
    path = "/v1/webhook_deliveries"
    tags = ["webhooks"]

    @post("/{delivery_id:str}/resend", status_code=202)
    async def resend(
        self, endpoints: NamedDependency[Endpoints], tenant_id: NamedDependency[str], delivery_id: FromPath[str]
    ) -> WebhookDelivery:
        """Start the delivery over: an attempt now (202: it is queued), retried if it fails."""
        return _delivery_view(await endpoints.resend(tenant_id, delivery_id))
