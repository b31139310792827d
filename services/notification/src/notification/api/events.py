"""``GET /v1/events`` and ``GET /v1/events/{id}``: the company's public event log (1099Policy's
events), newest first, kept 30 days."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from ten99kit import Database, InvalidInput, NotFound
from ten99kit.clock import epoch
from ten99kit.pagination import ListEnvelope, PageRequest

from ..adapters.webhook_store import EventFilters, get_event, list_events
from ..domain.public_events import EVENT_TYPES
from .schemas import Event, EventData

__all__ = ["EventController", "event_view"]

_FAMILIES = frozenset(t.split(".", 1)[0] for t in EVENT_TYPES)


def event_view(row: Mapping[str, Any]) -> Event:
    return Event(id=row["id"], type=row["type"], created=epoch(row["created_at"]), data=EventData(object=row["object"]))


def _instant(name: str, value: int | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidInput({name: "must be Unix seconds"}) from None


def event_filters(type_: str | None, created_gte: int | None, created_lte: int | None) -> EventFilters:
    """``type`` is one event type (``policy.active``), a family (``policy.*``) or ``*`` (all)."""
    exact = prefix = None
    if type_ and type_ != "*":
        if type_.endswith(".*") and type_[:-2] in _FAMILIES:
            prefix = type_[:-1]
        elif type_ in EVENT_TYPES:
            exact = type_
        else:
            raise InvalidInput({"type": f"unknown event type {type_!r}: give a type such as policy.active, or policy.*"})
    return EventFilters(
        type=exact,
        prefix=prefix,
        created_gte=_instant("created_gte", created_gte),
        created_lte=_instant("created_lte", created_lte),
    )


class EventController(Controller):
    path = "/v1/events"
    tags = ["events"]

    @get("/")
    async def list_events(
        self,
        db: NamedDependency[Database],
        tenant_id: NamedDependency[str],
        type: FromQuery[str | None] = None,
        created_gte: FromQuery[int | None] = None,
        created_lte: FromQuery[int | None] = None,
        limit: FromQuery[int] = 10,
        starting_after: FromQuery[str | None] = None,
        ending_before: FromQuery[str | None] = None,
    ) -> ListEnvelope[Event]:
        """The company's events, newest first. ``type``: one type, a family such as ``policy.*``,
        or ``*``; ``created_gte`` / ``created_lte``: Unix seconds, inclusive."""
        request = PageRequest(limit, starting_after, ending_before)
        page = await list_events(db, tenant_id, event_filters(type, created_gte, created_lte), request)
        return ListEnvelope(url="/v1/events", has_more=page.has_more, data=[event_view(row) for row in page.rows])

    @get("/{event_id:str}")
    async def get_event(self, db: NamedDependency[Database], tenant_id: NamedDependency[str], event_id: FromPath[str]) -> Event:
        row = await get_event(db, tenant_id, event_id)
        if row is None:
            raise NotFound(f"No such event: {event_id}", error_code="invalid_event_id")
        return event_view(row)
