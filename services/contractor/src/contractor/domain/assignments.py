"""A new assignment, as every write path makes it (the API's create, the CSV import, an
integration's sync): one function builds its row, so the three cannot drift apart on a default
(status, version, the PO's timestamp, the dedupe key)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ten99kit import new_id

from .rules import coverage_types_for

__all__ = ["PoFields", "dedupe_key", "new_assignment"]


@dataclass(frozen=True)
class PoFields:
    """What a new assignment may carry about its purchase order."""

    po_number: str | None = None
    po_contact_email: str | None = None
    campaign: str | None = None
    #: who set the PO (kept with it only when there is one)
    set_by: str | None = None


def dedupe_key(effective: date, end: date) -> str:
    """(contractor, job, this key) is unique: the same dates again add nothing."""
    return f"{effective.isoformat()}:{end.isoformat()}"


def new_assignment(
    *,
    tenant_id: str,
    contractor_id: str,
    job_id: str,
    effective: date,
    end: date,
    required_coverage: list[str] | None,
    coverage_types: list[str] | None = None,
    po: PoFields = PoFields(),
    source: str,
    import_batch_id: str | None = None,
    now: datetime,
    assignment_id: str | None = None,
) -> dict[str, Any]:
    """The row of a new pending assignment. Its coverage is what was asked for, else what the end
    client requires (`coverage_types_for`)."""
    return {
        "id": assignment_id or new_id("an"),
        "tenant_id": tenant_id,
        "contractor_id": contractor_id,
        "job_id": job_id,
        "effective_date": effective,
        "end_date": end,
        "dedupe_key": dedupe_key(effective, end),
        "coverage_types": coverage_types or coverage_types_for(required_coverage),
        "po_number": po.po_number,
        "po_contact_email": po.po_contact_email,
        "campaign": po.campaign,
        "po_set_at": now if po.po_number else None,
        "po_set_by": po.set_by if po.po_number else None,
        "status": "pending",
        "cancel_reason": None,
        "cancelled_at": None,
        "deleted_at": None,
        "import_batch_id": import_batch_id,
        "source": source,
        "version": 1,
        "coverage_bound_at": None,
        "created_at": now,
        "updated_at": now,
    }
