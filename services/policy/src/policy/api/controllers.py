"""The policy service's internal HTTP API (called by the gateway; see docs/service-guide.md).

- ``GET /v1/policies`` (``?contractor=&quote=&status=active|cancelled|expired``, combinable),
  ``GET /v1/policies/{id}``: 1099Policy's policy shape.
- ``POST /v1/policies``, ``PUT|DELETE /v1/policies/{id}``: the SDK offers them, ten99 binds, changes
  and ends policies otherwise; each answers a 1099Policy error saying how (docs/public-api.md).
- ``GET /v1/coverages?contractor=|assignment=``: each assignment's coverage and current certificate.
- ``GET /v1/coverages/in_force?contractor=&job=&first_day=&last_day=``: whether the contractor is
  covered for the job on any of those days (the gateway asks it when billing says ``no_active_policy``).
- ``GET /v1/certificates?assignment=|contractor=``: every certificate issued, superseded ones too.
- ``GET /v1/certificates/{id}/pdf``: the company's download (tenant-scoped).
- ``GET /v1/public/certificates/{id}.pdf?token=``: the contractor's download through the signed
  link in the certificate email (no tenant header: the token says whose it is).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Controller, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from ten99kit import ApiError, Database, InvalidInput, NotFound
from ten99kit.clock import epoch
from ten99kit.pagination import ListEnvelope, PageRequest

from ..adapters import queries
from ..adapters.links import BadLink, CertificateLinks
from .schemas import Certificate, CertificateUrls, Coverage, CoverageCertificate, InForce, Policy

__all__ = ["CertificateController", "CoverageController", "PolicyController", "PublicCertificateController"]

S = TypeVar("S", bound=msgspec.Struct)

Limit = Annotated[int, QueryParameter(ge=1, le=100)]

#: a policy's statuses, as 1099Policy names them (the ``?status=`` filter takes one)
POLICY_STATUSES = ("active", "cancelled", "expired")


def _iso(value: date | datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _policy(row: Mapping[str, Any], rollup: queries.PolicyRollup, links: CertificateLinks) -> Policy:
    certs = rollup.certificates or {}

    def url(kind: str) -> str | None:
        return links.url(row["tenant_id"], certs[kind]) if kind in certs else None

    return Policy(
        id=row["id"],
        contractor=row["contractor_id"],
        policy_number=row["policy_number"],
        quote=row["quote_id"],
        status=row["status"],
        coverage_type=list(row["coverage_types"]),
        home_state=row["home_state"],
        effective_date=epoch(rollup.effective_date or row["effective_date"]),
        expiration_date=epoch(rollup.expiration_date),
        assignments=rollup.assignments,
        certificates=CertificateUrls(gl_coi_pdf_url=url("general"), wc_coi_pdf_url=url("workers-comp")),
        created=epoch(row["created_at"]),
    )


def _shown(row: Mapping[str, Any], struct: type[S], **shown: Any) -> S:
    """``row`` as ``struct``: the fields in ``shown`` as given, the others as their column's value."""
    values = {str(name): value for name, value in row.items()}  # column names are `quoted_name`s
    return msgspec.convert(values | shown, struct)


def _coverage(row: Mapping[str, Any], tenant_id: str, links: CertificateLinks) -> Coverage:
    """A coverage row (joined with its policy number and certificate) as the API shows it."""
    certificate_id = row["certificate_id"]
    certificate = None
    if certificate_id is not None:
        certificate = CoverageCertificate(
            certificate_id=certificate_id,
            number=row["certificate_number"],
            issued_at=_iso(row["certificate_issued_at"]),
            pdf_url=f"/v1/certificates/{certificate_id}/pdf",
            download_url=links.url(tenant_id, certificate_id),
        )
    return _shown(row, Coverage, coverage_id=row["id"], bound_at=_iso(row["bound_at"]), certificate=certificate)


def _certificate(row: Mapping[str, Any]) -> Certificate:
    """A certificate row (without its PDF) as the API shows it."""
    return _shown(
        row, Certificate, certificate_id=row["id"], issued_at=_iso(row["issued_at"]), pdf_url=f"/v1/certificates/{row['id']}/pdf"
    )


class ErrorBody(msgspec.Struct, frozen=True, kw_only=True):
    """1099Policy's error (the only answer of an operation that refuses)."""

    error_code: str
    message: str


async def _known_policy(db: Database, tenant_id: str, policy_id: str) -> None:
    async with db.reads() as session:
        if await queries.policy_row(session, tenant_id, policy_id) is None:
            raise NotFound(f"No policy {policy_id}", error_code="invalid_policy_id")


class PolicyController(Controller):
    path = "/v1/policies"

    @get("/")
    async def list_policies(
        self,
        db: NamedDependency[Database],
        links: NamedDependency[CertificateLinks],
        tenant_id: NamedDependency[str],
        contractor: FromQuery[str | None] = None,
        quote: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        limit: Limit = 10,
        starting_after: FromQuery[str | None] = None,
        ending_before: FromQuery[str | None] = None,
    ) -> ListEnvelope[Policy]:
        if status is not None and status not in POLICY_STATUSES:
            raise InvalidInput({"status": f"must be one of {', '.join(POLICY_STATUSES)}"})
        request = PageRequest(limit, starting_after, ending_before)
        filters = queries.PolicyFilter(contractor=contractor, quote=quote, status=status)
        async with db.reads() as session:
            page = await queries.policies_page(session, tenant_id, filters, request)
            rollups = await queries.policy_rollups(session, tenant_id, [row["id"] for row in page.rows])
        data = [_policy(row, rollups[row["id"]], links) for row in page.rows]
        return ListEnvelope(url="/v1/policies", has_more=page.has_more, data=data)

    @get("/{policy_id:str}")
    async def get_policy(
        self,
        db: NamedDependency[Database],
        links: NamedDependency[CertificateLinks],
        tenant_id: NamedDependency[str],
        policy_id: FromPath[str],
    ) -> Policy:
        async with db.reads() as session:
            row = await queries.policy_row(session, tenant_id, policy_id)
            if row is None:
                raise NotFound(f"No policy {policy_id}", error_code="invalid_policy_id")
            rollups = await queries.policy_rollups(session, tenant_id, [row["id"]])
        return _policy(row, rollups[row["id"]], links)

    # -- what the SDK offers and ten99 does otherwise (docs/public-api.md, "Policies"): they only
    # refuse, so they are out of this schema (no 2xx); the public OpenAPI documents their errors

    @post("/", status_code=403, include_in_schema=False)
    async def create_policy(self) -> ErrorBody:
        """1099Policy's direct bind from a quote is its custom-application mode: off here (the
        consent and e-signature are the hosted application's)."""
        raise ApiError(
            "A policy is bound when the contractor completes the application session for a quote "
            "(POST /api/v1/apply/sessions {quote}); custom applications are not enabled",
            error_code="custom_applications_disabled",
            status_code=403,
        )

    @put("/{policy_id:str}", status_code=400, include_in_schema=False)
    async def update_policy(
        self, db: NamedDependency[Database], tenant_id: NamedDependency[str], policy_id: FromPath[str]
    ) -> ErrorBody:
        await _known_policy(db, tenant_id, policy_id)
        raise ApiError(
            "A policy cannot be changed: its terms are its quote's. For other coverage create a new quote and "
            "application session; to change an assignment's coverage, update, extend or cancel the assignment",
            error_code="bad_request",
            status_code=400,
        )

    @delete("/{policy_id:str}", status_code=400, include_in_schema=False)
    async def delete_policy(
        self, db: NamedDependency[Database], tenant_id: NamedDependency[str], policy_id: FromPath[str]
    ) -> ErrorBody:
        await _known_policy(db, tenant_id, policy_id)
        raise ApiError(
            "A policy is not deleted: it expires after its last coverage ends, and is cancelled when its "
            "contractor is deleted (policy.cancelled); cancel an assignment to end its coverage",
            error_code="bad_request",
            status_code=400,
        )


class CoverageController(Controller):
    path = "/v1/coverages"

    @get("/")
    async def list_coverages(
        self,
        db: NamedDependency[Database],
        links: NamedDependency[CertificateLinks],
        tenant_id: NamedDependency[str],
        contractor: FromQuery[str | None] = None,
        assignment: FromQuery[str | None] = None,
        limit: Limit = 100,
        starting_after: FromQuery[str | None] = None,
        ending_before: FromQuery[str | None] = None,
    ) -> ListEnvelope[Coverage]:
        request = PageRequest(limit, starting_after, ending_before)
        async with db.reads() as session:
            page = await queries.coverages_page(session, tenant_id, contractor=contractor, assignment=assignment, request=request)
        data = [_coverage(row, tenant_id, links) for row in page.rows]
        return ListEnvelope(url="/v1/coverages", has_more=page.has_more, data=data)

    @get("/in_force")
    async def coverage_in_force(
        self,
        db: NamedDependency[Database],
        tenant_id: NamedDependency[str],
        contractor: FromQuery[str],
        job: FromQuery[str],
        first_day: FromQuery[date],
        last_day: FromQuery[date],
    ) -> InForce:
        """Whether the contractor is covered for the job on any of the days (the gateway asks when
        billing refuses a usage invoice with ``no_active_policy``: docs/public-api.md)."""
        if last_day < first_day:
            raise InvalidInput({"last_day": "must not be before first_day"})
        async with db.reads() as session:
            found = await queries.coverage_in_force(session, tenant_id, contractor, job, first_day, last_day)
        return InForce(in_force=found)


def tenant_of_signed_link(links: CertificateLinks, token: str, certificate_id: str) -> str:
    """The tenant a download link (``?token=``) was signed for, for an issued certificate or an upload;
    ``403 auth_token_expired`` for a link past its age, ``403 insufficient_permissions`` for none, a
    forged one or one made for another certificate."""
    if not token:
        raise ApiError("This download link has no token", error_code="insufficient_permissions", status_code=403)
    try:
        return links.verify(token, certificate_id)
    except BadLink as e:
        if e.reason == "expired":
            raise ApiError(
                "This download link has expired; download the certificate from the dashboard or ask for a new link",
                error_code="auth_token_expired",
                status_code=403,
            ) from None
        raise ApiError("This download link is not valid", error_code="insufficient_permissions", status_code=403) from None


def _pdf(row: Any, disposition: str) -> Response[bytes]:
    headers = {
        "Content-Disposition": f'{disposition}; filename="{row.filename}"',
        "X-Ten99-Certificate-Status": row.status,
        "Cache-Control": "private, max-age=300",
    }
    if row.superseded_by:
        headers["X-Ten99-Superseded-By"] = row.superseded_by
    return Response(content=bytes(row.pdf), media_type="application/pdf", headers=headers)


class CertificateController(Controller):
    path = "/v1/certificates"

    @get("/")
    async def list_certificates(
        self,
        db: NamedDependency[Database],
        tenant_id: NamedDependency[str],
        assignment: FromQuery[str | None] = None,
        contractor: FromQuery[str | None] = None,
        limit: Limit = 100,
    ) -> ListEnvelope[Certificate]:
        async with db.reads() as session:
            rows = await queries.certificate_history(
                session, tenant_id, assignment=assignment, contractor=contractor, limit=limit
            )
        return ListEnvelope(url="/v1/certificates", has_more=False, data=[_certificate(row) for row in rows])

    @get("/{certificate_id:str}/pdf", media_type="application/pdf")
    async def download(
        self, db: NamedDependency[Database], tenant_id: NamedDependency[str], certificate_id: FromPath[str]
    ) -> Response[bytes]:
        async with db.reads() as session:
            row = await queries.certificate_file(session, tenant_id, certificate_id)
        if row is None:
            raise NotFound(f"No certificate {certificate_id}")
        return _pdf(row, "attachment")


class PublicCertificateController(Controller):
    """The signed link from the email. The token names the tenant and the certificate."""

    path = "/v1/public/certificates"

    @get("/{filename:str}", media_type="application/pdf")
    async def download(
        self,
        db: NamedDependency[Database],
        links: NamedDependency[CertificateLinks],
        filename: FromPath[str],
        token: FromQuery[str] = "",
    ) -> Response[bytes]:
        certificate_id = filename.removesuffix(".pdf")
        tenant_id = tenant_of_signed_link(links, token, certificate_id)
        async with db.reads() as session:
            row = await queries.certificate_file(session, tenant_id, certificate_id)
        if row is None:
            raise NotFound(f"No certificate {certificate_id}")
        return _pdf(row, "inline")
