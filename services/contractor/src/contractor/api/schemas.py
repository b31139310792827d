"""The response shapes of 1099Policy's resources (epoch-second dates, cents, ``object`` tags) as
msgspec Structs, so the OpenAPI documents them, and the conversion of stored rows into them.
Request bodies are the application's commands (`application.commands`), re-exported here."""

from __future__ import annotations

from datetime import date
from typing import Literal

import msgspec
from msgspec import UNSET, UnsetType
from ten99_contracts.common import AddressInput
from ten99kit.clock import epoch
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
    "EligibleView",
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


class EligibleView(msgspec.Struct, kw_only=True):
    """Enrollment's verdict on the assignment (1099Policy's ``eligible``)."""

    result: bool
    message: str


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
    #: null until enrollment decided (the contractor has not opted in yet)
    eligible: EligibleView | None = None
    #: the policy (``pl_``) the assignment's coverage is bound on, once bound
    policy: str | None = None
    #: the newest certificate of insurance: ``gl_coi_pdf_url``/``wc_coi_pdf_url`` (one document
    #: covering both lines), ``certificate_id``, ``certificate_number``; empty before one is issued
    certificates: dict[str, str] = {}


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
    #: the contractor's own approved certificate that covers it instead (application/own_insurance.py)
    own_insurance_upload_id: str | None = None


def _address(addr: Row | None) -> AddressInput | None:
    if not addr:
        return None
    return AddressInput(**{k: addr.get(k) for k in _ADDRESS_PARTS})


def _coverage_status(assignment: Row, today: date) -> str:
    return rules.coverage_status(
        cancelled=assignment["status"] == "cancelled",
        bound=assignment["coverage_bound_at"] is not None,
        effective=assignment["effective_date"],
        end=assignment["end_date"],
        today=today,
    )


def entity_view(entity: Row) -> EntityView:
    return EntityView(
        id=entity["id"],
        created=epoch(entity["created_at"]),
        name=entity["name"],
        address=_address(entity["address"]),
        coverage_limit=CoverageLimit(aggregate_limit=entity["aggregate_limit"], occurrence_limit=entity["occurrence_limit"]),
        required_coverage=list(entity["required_coverage"] or []),
    )


def contractor_view(contractor: Row) -> ContractorView:
    return ContractorView(
        id=contractor["id"],
        created=epoch(contractor["created_at"]),
        first_name=contractor["first_name"],
        middle_name=contractor["middle_name"],
        last_name=contractor["last_name"],
        email=contractor["email"],
        phone=contractor["phone"],
        address=_address(contractor["address"]),
        company_name=contractor["company_name"],
        tax_identification=contractor["tax_id_masked"],
        custom_metadata=dict(contractor["custom_metadata"] or {}),
        withhold_premium=contractor["withhold_premium"],
    )


def job_view(job: Row) -> JobView:
    return JobView(
        id=job["id"],
        created=epoch(job["created_at"]),
        entity=job["entity_id"],
        category_code=job["category_code"],
        name=job["name"],
        description=job["description"],
        wage=job["wage"],
        wage_type=job["wage_type"],
        years_experience=job["years_experience"],
        address=_address(job["address"]),
        work_state=job["work_state"],
        custom_metadata=dict(job["custom_metadata"] or {}),
        withhold_premium=job["withhold_premium"],
    )


def assignment_view(assignment: Row, today: date) -> AssignmentView:
    return AssignmentView(
        id=assignment["id"],
        created=epoch(assignment["created_at"]),
        contractor=assignment["contractor_id"],
        job=assignment["job_id"],
        effective_date=date_to_epoch(assignment["effective_date"]),
        end_date=date_to_epoch(assignment["end_date"]),
        coverage_type=list(assignment["coverage_types"]),
        status=assignment["status"],
        coverage_status=_coverage_status(assignment, today),
        po_number=assignment["po_number"],
        purchase_order_number=assignment["po_number"],
        po_contact_email=assignment["po_contact_email"],
        campaign=assignment["campaign"],
        cancel_reason=assignment["cancel_reason"],
        cancelled_at=epoch(assignment["cancelled_at"]) if assignment["cancelled_at"] else None,
        import_batch=assignment["import_batch_id"],
        source=assignment["source"],
        eligible=(
            EligibleView(result=assignment["eligible"], message=assignment["eligible_message"] or "")
            if assignment["eligible"] is not None
            else None
        ),
        policy=assignment["policy_id"],
        certificates={k: str(val) for k, val in (assignment["certificates"] or {}).items()},
    )


def profile_assignment_view(row: Row, today: date) -> ProfileAssignmentView:
    """``r``: an assignment row with its job's and end client's columns (``job_name``, ``entity_name``, ...)."""
    return ProfileAssignmentView(
        id=row["id"],
        job=ProfileJob(
            id=row["job_id"],
            name=row["job_name"],
            category_code=row["category_code"],
            wage=row["wage"],
            wage_type=row["wage_type"],
            work_state=row["work_state"],
        ),
        entity=ProfileEntity(id=row["entity_id"], name=row["entity_name"]),
        effective_date=row["effective_date"].isoformat(),
        end_date=row["end_date"].isoformat(),
        coverage_types=list(row["coverage_types"]),
        status=row["status"],
        coverage_status=_coverage_status(row, today),
        po_number=row["po_number"],
        po_contact_email=row["po_contact_email"],
        campaign=row["campaign"],
        cancel_reason=row["cancel_reason"],
        source=row["source"],
        import_batch_id=row["import_batch_id"],
        own_insurance_upload_id=row["own_insurance_upload_id"],
        created_at=row["created_at"].isoformat(),
    )


def category_code_view(category: JobCategory) -> CategoryCodeView:
    return CategoryCodeView(id=category.code, code=category.code, name=category.name, description=category.description)
