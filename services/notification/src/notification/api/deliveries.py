"""``GET /v1/deliveries`` and ``GET /v1/deliveries/{id}``: the tenant's delivery log."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from ten99kit import Database, InvalidInput, NotFound
from ten99kit.pagination import ListEnvelope, PageRequest

from ..adapters.deliveries import DeliveryFilters, get_delivery, list_deliveries
from ..domain import TEMPLATES, DeliveryStatus
from .schemas import AttachmentInfo, Delivery, DeliveryDetail

__all__ = ["DeliveryController"]

_STATUSES = tuple(s.value for s in DeliveryStatus)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _summary(row: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a delivery as the log shows it (list and detail)."""
    return {
        "id": row["id"],
        "template": row["template"],
        "to": row["to_emails"],
        "cc": row["cc_emails"],
        "subject": row["subject"],
        "status": row["status"],
        "attempts": row["attempts"],
        "last_error": row["last_error"],
        "next_attempt_at": _iso(row["next_attempt_at"]) if row["status"] == DeliveryStatus.QUEUED else None,
        "created_at": _iso(row["created_at"]),
        "sent_at": _iso(row["sent_at"]),
        "related_id": row["related_id"],
        "contractor_id": row["contractor_id"],
        "has_attachments": row["has_attachments"],
        "message_id": row["message_id"],
    }


def _detail(row: Mapping[str, Any]) -> DeliveryDetail:
    attachments = [
        AttachmentInfo(index=a["position"], filename=a["filename"], content_type=a["content_type"], size=a["size"])
        for a in row["attachments"]
    ]
    return DeliveryDetail(**_summary(row), text=row["text_body"], html=row["html_body"], attachments=attachments)


def _filters(
    to: str | None, template: str | None, status: str | None, related_id: str | None, contractor: str | None
) -> DeliveryFilters:
    if template is not None and template not in TEMPLATES:
        raise InvalidInput(f"template must be one of: {', '.join(TEMPLATES)}")
    if status is not None and status not in _STATUSES:
        raise InvalidInput(f"status must be one of: {', '.join(_STATUSES)}")
    return DeliveryFilters(to=to, template=template, status=status, related_id=related_id, contractor_id=contractor)


class DeliveryController(Controller):
    path = "/v1/deliveries"
    tags = ["deliveries"]

    @get("/")
    async def list_deliveries(
        self,
        db: NamedDependency[Database],
        tenant_id: NamedDependency[str],
        to: FromQuery[str | None] = None,
        template: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        related_id: FromQuery[str | None] = None,
        contractor: FromQuery[str | None] = None,
        limit: FromQuery[int] = 10,
        starting_after: FromQuery[str | None] = None,
        ending_before: FromQuery[str | None] = None,
    ) -> ListEnvelope[Delivery]:
        """The tenant's emails, newest first. ``to`` matches any recipient (to or cc) exactly,
        case-insensitively. A cursor naming no delivery of the list is 404 (as it always was)."""
        request = PageRequest(limit, starting_after, ending_before)
        filters = _filters(to, template, status, related_id, contractor)
        try:
            page = await list_deliveries(db, tenant_id, filters, request)
        except InvalidInput:  # the request was checked above: only an unknown cursor is left
            raise NotFound(f"No such delivery: {starting_after or ending_before}") from None
        data = [Delivery(**_summary(row)) for row in page.rows]
        return ListEnvelope(url="/v1/deliveries", has_more=page.has_more, data=data)

    @get("/{delivery_id:str}")
    async def get_delivery(
        self, db: NamedDependency[Database], tenant_id: NamedDependency[str], delivery_id: FromPath[str]
    ) -> DeliveryDetail:
        """One email with its rendered text and HTML bodies and its attachments' names."""
        row = await get_delivery(db, tenant_id, delivery_id)
        if row is None:
            raise NotFound(f"No such delivery: {delivery_id}")
        return _detail(row)
