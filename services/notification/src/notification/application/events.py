"""Recording public events from the bus: each message the mapping (`domain.public_events`) knows
becomes at most one event of its company, and, in the same transaction, one webhook delivery per
enabled endpoint of that company that hears its type. Keyed by (tenant, message id) or by the
business fact, so a redelivered or repeated message records nothing twice."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from ten99_contracts import Envelope
from ten99kit import UnitOfWork, new_id

from ..adapters.webhook_store import after_commit, insert_deliveries, record_event
from ..domain.public_events import PublicEvent, public_event
from ..domain.webhooks import DeliveryState, subscribed

__all__ = ["EventRecorder", "both"]

Handler = Callable[[UnitOfWork, Envelope[Any]], Awaitable[None]]


def both(*handlers: Handler) -> Handler:
    """One subscription's handler doing several reactions in the consumer's transaction (the email
    and the public event of a subject share its consumer)."""

    async def handle(uow: UnitOfWork, envelope: Envelope[Any]) -> None:
        for handler in handlers:
            await handler(uow, envelope)

    return handle


class EventRecorder:
    def __init__(self, wake_deliverer: Callable[[], None]) -> None:
        self.wake_deliverer = wake_deliverer

    async def on_message(self, uow: UnitOfWork, envelope: Envelope[Any]) -> None:
        event = public_event(envelope)
        if event is not None:
            await self.record(uow, envelope, event)

    async def record(self, uow: UnitOfWork, envelope: Envelope[Any], event: PublicEvent) -> None:
        now = uow.clock.now()
        event_id = new_id("ev")
        row = {
            "id": event_id,
            "tenant_id": envelope.tenant_id,
            "type": event.type,
            "dedupe_key": event.dedupe_key or f"message:{envelope.id}",
            "source_subject": envelope.subject,
            "object": event.object,
            "created_at": now,
        }
        deliveries = [
            _delivery_row(envelope.tenant_id, endpoint_id, event_id, event.type, now)
            for endpoint_id, types in await record_event(uow.session, uow.db.dialect, row)
            if subscribed(types, event.type)
        ]
        if deliveries:
            await insert_deliveries(uow.session, uow.db.dialect, deliveries)
            after_commit(uow.session, self.wake_deliverer)


def _delivery_row(tenant_id: str, endpoint_id: str, event_id: str, event_type: str, now: datetime) -> dict[str, Any]:
    return {
        "id": new_id("wh"),
        "tenant_id": tenant_id,
        "endpoint_id": endpoint_id,
        "event_id": event_id,
        "event_type": event_type,
        "status": DeliveryState.PENDING.value,
        "attempts": 0,
        "round_attempts": 0,
        "round_started_at": now,
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
    }
