"""``GET /v1/deliveries`` and ``GET /v1/deliveries/{id}``: the tenant's delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from ten99kit import Database, InvalidInput, NotFound

from ..adapters.deliveries import get_delivery, list_deliveries
from ..domain import TEMPLATES, DeliveryStatus

__all__ = ["DeliveryController"]

_STATUSES = tuple(s.value for s in DeliveryStatus)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _delivery(row: dict[str, Any]) -> dict[str, Any]:
    out = {
        "id": row["id"],
        "object": "email_delivery",
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
    if "text_body" in row:
        out["text"] = row["text_body"]
        out["html"] = row["html_body"]
        out["attachments"] = [
            {"index": a["position"], "filename": a["filename"], "content_type": a["content_type"], "size": a["size"]}
            for a in row.get("attachments", [])
        ]
    return out


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
    ) -> dict[str, Any]:
        """The tenant's emails, newest first. ``to`` matches any recipient (to or cc) exactly,
        case-insensitively."""
        if not 1 <= limit <= 100:
            raise InvalidInput("limit must be between 1 and 100")
        if template is not None and template not in TEMPLATES:
            raise InvalidInput(f"template must be one of: {', '.join(TEMPLATES)}")
        if status is not None and status not in _STATUSES:
            raise InvalidInput(f"status must be one of: {', '.join(_STATUSES)}")
        if starting_after and ending_before:
            raise InvalidInput("give starting_after or ending_before, not both")
        page = await list_deliveries(
            db,
            tenant_id,
            to=to,
            template=template,
            status=status,
            related_id=related_id,
            contractor_id=contractor,
            limit=limit,
            starting_after=starting_after,
            ending_before=ending_before,
        )
        if page is None:
            raise NotFound(f"No such delivery: {starting_after or ending_before}")
        return {"object": "list", "data": [_delivery(r) for r in page.rows], "has_more": page.has_more, "url": "/v1/deliveries"}

    @get("/{delivery_id:str}")
    async def get_delivery(
        self, db: NamedDependency[Database], tenant_id: NamedDependency[str], delivery_id: FromPath[str]
    ) -> dict[str, Any]:
        """One email with its rendered text and HTML bodies and its attachments' names."""
        row = await get_delivery(db, tenant_id, delivery_id)
        if row is None:
            raise NotFound(f"No such delivery: {delivery_id}")
        return _delivery(row)
