"""``GET /v1/verifications/{verification_id}``: a certificate's public view and live status, for
the gateway's public page ``/verify/<id>`` (docs/certificates.md). Behind the internal token like
every route here, but with no tenant header: the verification id is the key, as a signed link's
token is for a download.

It answers only what the page shows: the insured's name, the holder, the coverage types, the
dates, the certificate's number and issue day, and the status today by the service's clock. An
unknown id and a malformed one get the same 404.

``GET /v1/verifications?assignment=<an_...>&assignment=...`` (tenant-scoped, up to 100 ids) is the
facility view's read (docs/facility-view.md): for each of the company's assignments that has a
coverage, the coverage's live status and its current certificate's verification id. An assignment
without coverage is not in the list.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from ten99kit import Database, InvalidInput, NotFound
from ten99kit.ids import is_id
from ten99kit.pagination import ListEnvelope

from ..adapters.verification import assignment_verifications, certificate_by_verification_id
from ..domain.certificate import COVERAGE_LABELS
from ..domain.verification import is_verification_id, live_status

__all__ = ["AssignmentVerification", "CertificateVerification", "VerificationController"]

#: assignment ids one request may ask about
MAX_ASSIGNMENTS = 100


class CertificateVerification(msgspec.Struct, frozen=True, kw_only=True):
    """What anyone holding a certificate may check about it, and nothing more (no address, tax id,
    pay, premium or email)."""

    verification_id: str
    #: scheduled | active | expired | cancelled | superseded, as of ``status_on``
    status: str
    #: today, UTC, by the service's clock
    status_on: date
    certificate_number: str
    issued_on: date
    insured_name: str
    holder_name: str
    coverage_types: list[str]
    #: the coverage types as printed on the certificate
    coverages: list[str]
    effective_date: date
    end_date: date
    #: the verification id of the certificate that replaced this one (status superseded)
    superseded_by: str | None


class AssignmentVerification(msgspec.Struct, frozen=True, kw_only=True):
    """An assignment's coverage as a facility may see it: its status today and where its current
    certificate can be verified (``/verify/<verification_id>``), nothing else."""

    assignment_id: str
    coverage_id: str
    #: scheduled | active | expired | cancelled, as of ``status_on``
    status: str
    status_on: date
    #: None until the coverage's certificate is issued
    verification_id: str | None


def _label(kind: str) -> str:
    return COVERAGE_LABELS.get(kind, kind.replace("-", " ").title())


def _status_today(row: Any, today: date, certificate_status: str) -> str:
    """The live status of a row joining a coverage (its status and dates) and its policy's status."""
    return live_status(
        certificate_status=certificate_status,
        coverage_status=row.coverage_status or "",
        policy_status=row.policy_status or "",
        effective_date=row.effective_date,
        end_date=row.end_date,
        today=today,
    )


def _view(row: Any, today: date) -> CertificateVerification:
    types = list(row.coverage_types or [])
    document = row.document or {}
    status = _status_today(row, today, row.certificate_status)
    return CertificateVerification(
        verification_id=row.verification_id,
        status=status,
        status_on=today,
        certificate_number=row.number,
        issued_on=row.issued_at.date(),
        insured_name=str(document.get("insured_name") or ""),
        holder_name=row.holder_name,
        coverage_types=types,
        coverages=[_label(kind) for kind in types],
        effective_date=row.effective_date,
        end_date=row.end_date,
        superseded_by=row.superseded_by if status == "superseded" else None,
    )


def _assignment_view(row: Any, today: date) -> AssignmentVerification:
    status = _status_today(row, today, certificate_status="")  # the coverage's current certificate: never superseded
    return AssignmentVerification(
        assignment_id=row.assignment_id,
        coverage_id=row.coverage_id,
        status=status,
        status_on=today,
        verification_id=row.verification_id,
    )


def _assignment_ids(values: list[str] | None) -> list[str]:
    ids = list(dict.fromkeys(values or []))
    if not ids or len(ids) > MAX_ASSIGNMENTS:
        raise InvalidInput({"assignment": f"give 1 to {MAX_ASSIGNMENTS} assignment ids"})
    bad = [value for value in ids if not is_id(value, "an")]
    if bad:
        raise InvalidInput({"assignment": "not an assignment id"})
    return ids


class VerificationController(Controller):
    path = "/v1/verifications"

    @get("/")
    async def assignment_verifications(
        self, db: NamedDependency[Database], tenant_id: NamedDependency[str], assignment: FromQuery[list[str] | None] = None
    ) -> ListEnvelope[AssignmentVerification]:
        """The company's assignments' coverage status today and current certificate's verification
        id (the facility view); an assignment without coverage is left out."""
        ids = _assignment_ids(assignment)
        async with db.reads() as session:
            rows = await assignment_verifications(session, tenant_id, ids)
        today = db.clock.today()
        return ListEnvelope(url="/v1/verifications", has_more=False, data=[_assignment_view(row, today) for row in rows])

    @get("/{verification_id:str}")
    async def verify_certificate(self, db: NamedDependency[Database], verification_id: FromPath[str]) -> CertificateVerification:
        row = None
        if is_verification_id(verification_id):
            async with db.reads() as session:
                row = await certificate_by_verification_id(session, verification_id)
        if row is None:
            raise NotFound("No certificate has this verification id", error_code="resource_not_found")
        return _view(row, db.clock.today())
