"""The response shapes of 1099Policy's resources (epoch-second dates, cents, ``object`` tags) as
msgspec Structs, so the OpenAPI documents them, and the conversion of stored rows into them.
Request bodies are the application's commands (`application.commands`), re-exported here."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

import msgspec
from msgspec import UNSET, UnsetType
from ten99_contracts.common import AddressInput
from ten99kit.db import Row

from ..application.commands import AssignmentIn, BulkPoIn, CancelIn, ContractorIn, EntityIn, ExtendIn, JobIn
from ..domain import rules
from ..domain.catalogue import JobCategory
from ..domain.values import date_to_epoch

__all__ = [
    "AssignmentIn",
    "AssignmentView",
    "BulkPoIn",
    "CancelIn",
    "CategoryCodeView",
    "ContractorIn",
    "ContractorView",
    "DeletedView",
    "EntityIn",
    "EntityView",
    "ExtendIn",
    "JobIn",
    "JobView",
    "ProfileAssignmentView",
    "assignment_view",
    "category_code_view",
    "contractor_view",
    "entity_view",
    "job_view",
    "profile_assignment_view",
]

_ADDRESS_PARTS = ("line1", "line2", "locality", "region", "postalcode", "country")


class CoverageLimit(msgspec.Struct, kw_only=True):
    aggregate_limit: int
    occurrence_limit: int


class EntityView(msgspec.Struct, kw_only=True):
    id: str
    object: Literal["entity"] = "entity"
    created: int
    name: str
    address: AddressInput | None
    coverage_limit: CoverageLimit
    required_coverage: list[str]


class ContractorView(msgspec.Struct, kw_only=True):
    id: str
    object: Literal["contractor"] = "contractor"
    created: int
    first_name: str
    middle_name: str | None
    last_name: str
    email: str
    phone: str | None
    address: AddressInput | None
    company_name: str | None
    #: masked (``***-**-6789``); the clear value is never returned
    tax_identification: str | None
    custom_metadata: dict[str, str]
    withhold_premium: bool | None


class JobView(msgspec.Struct, kw_only=True):
    id: str
    object: Literal["job"] = "job"
    created: int
    entity: str
    category_code: str
    name: str
    description: str
    #: cents per wage_type unit
    wage: int
    wage_type: str
    years_experience: int | None
    address: AddressInput | None
    #: None: remote
    work_state: str | None
    custom_metadata: dict[str, str]
    withhold_premium: bool | None


class AssignmentView(msgspec.Struct, kw_only=True):
    id: str
    object: Literal["assignment"] = "assignment"
    created: int
    contractor: str
    job: str
    #: epoch seconds of the day's start (UTC)
    effective_date: int | None
    end_date: int | None
    coverage_type: list[str]
    status: str
    coverage_status: str
    po_number: str | None
    purchase_order_number: str | None
    po_contact_email: str | None
    campaign: str | None
    cancel_reason: str | None
    cancelled_at: int | None
    import_batch: str | None
    source: str


class DeletedView(msgspec.Struct, kw_only=True):
    id: str
    object: str
    deleted: bool = True
    #: epoch seconds (assignments only)
    deleted_at: int | UnsetType = UNSET


class CategoryCodeView(msgspec.Struct, kw_only=True):
    id: str
    object: Literal["job_category"] = "job_category"
    code: str
    name: str
    description: str


class ProfileJob(msgspec.Struct, kw_only=True):
    id: str
    name: str
    category_code: str
    wage: int
    wage_type: str
    work_state: str | None


class ProfileEntity(msgspec.Struct, kw_only=True):
    id: str
    name: str


class ProfileAssignmentView(msgspec.Struct, kw_only=True):
    """An assignment on the contractor's profile page: with its job and end client, ISO dates."""

    id: str
    object: Literal["assignment"] = "assignment"
    job: ProfileJob
    entity: ProfileEntity
    effective_date: str
    end_date: str
    coverage_types: list[str]
    status: str
    coverage_status: str
    po_number: str | None
    po_contact_email: str | None
    campaign: str | None
    cancel_reason: str | None
    source: str
    import_batch_id: str | None
    created_at: str


def _epoch(value: datetime) -> int:
    return int(value.timestamp())


def _address(addr: Row | None) -> AddressInput | None:
    if not addr:
        return None
    return AddressInput(**{k: addr.get(k) for k in _ADDRESS_PARTS})


def _coverage_status(a: Row, today: date) -> str:
    return rules.coverage_status(
        cancelled=a["status"] == "cancelled",
        bound=a["coverage_bound_at"] is not None,
        effective=a["effective_date"],
        end=a["end_date"],
        today=today,
    )


def entity_view(e: Row) -> EntityView:
    return EntityView(
        id=e["id"],
        created=_epoch(e["created_at"]),
        name=e["name"],
        address=_address(e["address"]),
        coverage_limit=CoverageLimit(aggregate_limit=e["aggregate_limit"], occurrence_limit=e["occurrence_limit"]),
        required_coverage=list(e["required_coverage"] or []),
    )


def contractor_view(c: Row) -> ContractorView:
    return ContractorView(
        id=c["id"],
        created=_epoch(c["created_at"]),
        first_name=c["first_name"],
        middle_name=c["middle_name"],
        last_name=c["last_name"],
        email=c["email"],
        phone=c["phone"],
        address=_address(c["address"]),
        company_name=c["company_name"],
        tax_identification=c["tax_id_masked"],
        custom_metadata=dict(c["custom_metadata"] or {}),
        withhold_premium=c["withhold_premium"],
    )


def job_view(j: Row) -> JobView:
    return JobView(
        id=j["id"],
        created=_epoch(j["created_at"]),
        entity=j["entity_id"],
        category_code=j["category_code"],
        name=j["name"],
        description=j["description"],
        wage=j["wage"],
        wage_type=j["wage_type"],
        years_experience=j["years_experience"],
        address=_address(j["address"]),
        work_state=j["work_state"],
        custom_metadata=dict(j["custom_metadata"] or {}),
        withhold_premium=j["withhold_premium"],
    )


def assignment_view(a: Row, today: date) -> AssignmentView:
    return AssignmentView(
        id=a["id"],
        created=_epoch(a["created_at"]),
        contractor=a["contractor_id"],
        job=a["job_id"],
        effective_date=date_to_epoch(a["effective_date"]),
        end_date=date_to_epoch(a["end_date"]),
        coverage_type=list(a["coverage_types"]),
        status=a["status"],
        coverage_status=_coverage_status(a, today),
        po_number=a["po_number"],
        purchase_order_number=a["po_number"],
        po_contact_email=a["po_contact_email"],
        campaign=a["campaign"],
        cancel_reason=a["cancel_reason"],
        cancelled_at=_epoch(a["cancelled_at"]) if a["cancelled_at"] else None,
        import_batch=a["import_batch_id"],
        source=a["source"],
    )


def profile_assignment_view(r: Row, today: date) -> ProfileAssignmentView:
    """``r``: an assignment row with its job's and end client's columns (``job_name``, ``entity_name``, ...)."""
    return ProfileAssignmentView(
        id=r["id"],
        job=ProfileJob(
            id=r["job_id"],
            name=r["job_name"],
            category_code=r["category_code"],
            wage=r["wage"],
            wage_type=r["wage_type"],
            work_state=r["work_state"],
        ),
        entity=ProfileEntity(id=r["entity_id"], name=r["entity_name"]),
        effective_date=r["effective_date"].isoformat(),
        end_date=r["end_date"].isoformat(),
        coverage_types=list(r["coverage_types"]),
        status=r["status"],
        coverage_status=_coverage_status(r, today),
        po_number=r["po_number"],
        po_contact_email=r["po_contact_email"],
        campaign=r["campaign"],
        cancel_reason=r["cancel_reason"],
        source=r["source"],
        import_batch_id=r["import_batch_id"],
        created_at=r["created_at"].isoformat(),
    )


def category_code_view(c: JobCategory) -> CategoryCodeView:
    return CategoryCodeView(id=c.code, code=c.code, name=c.name, description=c.description)
