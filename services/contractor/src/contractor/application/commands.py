"""The commands the API hands to the use cases: request bodies as msgspec Structs, in which
``UNSET`` marks a field the caller did not send (a PUT changes only what it names). The use cases
check the values themselves (1099Policy's error codes and messages), so the types here are as
loose as clients send them."""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, UnsetType
from ten99_contracts.common import AddressInput

__all__ = [
    "AssignmentIn",
    "BulkPoIn",
    "CancelIn",
    "ContractorIn",
    "CoverageLimitIn",
    "EntityIn",
    "ExtendIn",
    "JobIn",
    "provided",
]


class CoverageLimitIn(msgspec.Struct, kw_only=True):
    aggregate_limit: int | str | None = None
    occurrence_limit: int | str | None = None


class EntityIn(msgspec.Struct, kw_only=True):
    name: str | UnsetType | None = UNSET
    address: AddressInput | UnsetType | None = UNSET
    coverage_limit: CoverageLimitIn | UnsetType | None = UNSET
    required_coverage: list[str] | UnsetType | None = UNSET


class ContractorIn(msgspec.Struct, kw_only=True):
    first_name: str | UnsetType | None = UNSET
    middle_name: str | UnsetType | None = UNSET
    last_name: str | UnsetType | None = UNSET
    email: str | UnsetType | None = UNSET
    phone: str | UnsetType | None = UNSET
    address: AddressInput | UnsetType | None = UNSET
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
    address: AddressInput | UnsetType | None = UNSET
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
