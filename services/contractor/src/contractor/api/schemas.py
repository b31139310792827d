"""Request bodies (msgspec Structs; ``UNSET`` marks a field the caller did not send) and the
response shapes of 1099Policy's resources (epoch-second dates, cents, ``object`` tags)."""

from __future__ import annotations

from datetime import date
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from ..domain import rules
from ..domain.values import date_to_epoch

__all__ = [
    "AddressIn",
    "AssignmentIn",
    "BulkPoIn",
    "CancelIn",
    "ContractorIn",
    "EntityIn",
    "ExtendIn",
    "JobIn",
    "assignment_view",
    "contractor_view",
    "entity_view",
    "job_view",
    "provided",
]


class AddressIn(msgspec.Struct, kw_only=True):
    line1: str | None = None
    line2: str | None = None
    locality: str | None = None
    region: str | None = None
    postalcode: str | None = None
    country: str | None = None


class CoverageLimitIn(msgspec.Struct, kw_only=True):
    aggregate_limit: int | str | None = None
    occurrence_limit: int | str | None = None


class EntityIn(msgspec.Struct, kw_only=True):
    name: str | UnsetType | None = UNSET
    address: AddressIn | UnsetType | None = UNSET
    coverage_limit: CoverageLimitIn | UnsetType | None = UNSET
    required_coverage: list[str] | UnsetType | None = UNSET


class ContractorIn(msgspec.Struct, kw_only=True):
    first_name: str | UnsetType | None = UNSET
    middle_name: str | UnsetType | None = UNSET
    last_name: str | UnsetType | None = UNSET
    email: str | UnsetType | None = UNSET
    phone: str | UnsetType | None = UNSET
    address: AddressIn | UnsetType | None = UNSET
    company_name: str | UnsetType | None = UNSET
    #: EIN or SSN; stored encrypted, returned masked (``***-**-6789``)
    tax_identification: str | UnsetType | None = UNSET
    custom_metadata: dict[str, Any] | UnsetType | None = UNSET
    withhold_premium: bool | UnsetType | None = UNSET


class JobIn(msgspec.Struct, kw_only=True):
    entity: str | UnsetType | None = UNSET
    category_code: str | UnsetType | None = UNSET
    name: str | UnsetType | None = UNSET
    description: str | UnsetType | None = UNSET
    #: cents per wage_type unit
    wage: int | UnsetType | None = UNSET
    wage_type: str | UnsetType | None = UNSET
    years_experience: int | UnsetType | None = UNSET
    #: the work location (its state is the work state); omit when remote
    address: AddressIn | UnsetType | None = UNSET
    #: shortcut for a work state without an address (``"remote"`` or null for remote work)
    work_state: str | UnsetType | None = UNSET
    custom_metadata: dict[str, Any] | UnsetType | None = UNSET
    withhold_premium: bool | UnsetType | None = UNSET


class AssignmentIn(msgspec.Struct, kw_only=True):
    contractor: str | UnsetType | None = UNSET
    job: str | UnsetType | None = UNSET
    #: epoch seconds or an ISO date (YYYY-MM-DD)
    effective_date: int | str | UnsetType | None = UNSET
    end_date: int | str | UnsetType | None = UNSET
    #: a list (general, workers-comp); a single string is accepted too (the pre-2023 form)
    coverage_type: list[str] | str | UnsetType | None = UNSET
    po_number: str | UnsetType | None = UNSET
    purchase_order_number: str | UnsetType | None = UNSET
    po_contact_email: str | UnsetType | None = UNSET
    campaign: str | UnsetType | None = UNSET
    set_by: str | UnsetType | None = UNSET


class CancelIn(msgspec.Struct, kw_only=True):
    reason: str | None = None


class ExtendIn(msgspec.Struct, kw_only=True):
    end_date: int | str | None = None
    send_email: bool = True


class BulkPoIn(msgspec.Struct, kw_only=True):
    assignment_ids: list[str] | None = None
    po_number: str | None = None
    po_contact_email: str | None = None
    campaign: str | None = None
    set_by: str | None = None


def provided(data: msgspec.Struct) -> dict[str, Any]:
    """The fields a caller sent, as plain JSON-like values."""
    out: dict[str, Any] = {}
    for name in data.__struct_fields__:
        value = getattr(data, name)
        if value is UNSET:
            continue
        out[name] = msgspec.to_builtins(value) if isinstance(value, msgspec.Struct) else value
    return out


def _epoch(value: Any) -> int:
    return int(value.timestamp())


def _address(addr: dict[str, Any] | None) -> dict[str, Any] | None:
    if not addr:
        return None
    return {k: addr.get(k) for k in ("line1", "line2", "locality", "region", "postalcode", "country")}


def entity_view(e: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": e["id"],
        "object": "entity",
        "created": _epoch(e["created_at"]),
        "name": e["name"],
        "address": _address(e["address"]),
        "coverage_limit": {"aggregate_limit": e["aggregate_limit"], "occurrence_limit": e["occurrence_limit"]},
        "required_coverage": list(e["required_coverage"] or []),
    }


def contractor_view(c: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": c["id"],
        "object": "contractor",
        "created": _epoch(c["created_at"]),
        "first_name": c["first_name"],
        "middle_name": c["middle_name"],
        "last_name": c["last_name"],
        "email": c["email"],
        "phone": c["phone"],
        "address": _address(c["address"]),
        "company_name": c["company_name"],
        "tax_identification": c["tax_id_masked"],
        "custom_metadata": dict(c["custom_metadata"] or {}),
        "withhold_premium": c["withhold_premium"],
    }


def job_view(j: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": j["id"],
        "object": "job",
        "created": _epoch(j["created_at"]),
        "entity": j["entity_id"],
        "category_code": j["category_code"],
        "name": j["name"],
        "description": j["description"],
        "wage": j["wage"],
        "wage_type": j["wage_type"],
        "years_experience": j["years_experience"],
        "address": _address(j["address"]),
        "work_state": j["work_state"],
        "custom_metadata": dict(j["custom_metadata"] or {}),
        "withhold_premium": j["withhold_premium"],
    }


def assignment_view(a: dict[str, Any], today: date) -> dict[str, Any]:
    return {
        "id": a["id"],
        "object": "assignment",
        "created": _epoch(a["created_at"]),
        "contractor": a["contractor_id"],
        "job": a["job_id"],
        "effective_date": date_to_epoch(a["effective_date"]),
        "end_date": date_to_epoch(a["end_date"]),
        "coverage_type": list(a["coverage_types"]),
        "status": a["status"],
        "coverage_status": rules.coverage_status(
            cancelled=a["status"] == "cancelled",
            bound=a["coverage_bound_at"] is not None,
            effective=a["effective_date"],
            end=a["end_date"],
            today=today,
        ),
        "po_number": a["po_number"],
        "purchase_order_number": a["po_number"],
        "po_contact_email": a["po_contact_email"],
        "campaign": a["campaign"],
        "cancel_reason": a["cancel_reason"],
        "cancelled_at": _epoch(a["cancelled_at"]) if a["cancelled_at"] else None,
        "import_batch": a["import_batch_id"],
        "source": a["source"],
    }
