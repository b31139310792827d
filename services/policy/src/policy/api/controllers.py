"""The policy service's internal HTTP API (called by the gateway; see docs/service-guide.md).

- ``GET /v1/policies`` (``?contractor=``), ``GET /v1/policies/{id}``: 1099Policy's policy shape.
- ``GET /v1/coverages?contractor=|assignment=``: each assignment's coverage and current certificate.
- ``GET /v1/certificates?assignment=|contractor=``: every certificate issued, superseded ones too.
- ``GET /v1/certificates/{id}/pdf``: the company's download (tenant-scoped).
- ``GET /v1/public/certificates/{id}.pdf?token=``: the contractor's download through the signed
  link in the certificate email (no tenant header: the token says whose it is).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from ten99kit import ApiError, Database, NotFound

from ..adapters import queries
from ..adapters.links import BadLink, CertificateLinks

__all__ = ["CertificateController", "CoverageController", "PolicyController", "PublicCertificateController"]

Limit = Annotated[int, QueryParameter(ge=1, le=100)]


def epoch(value: date | datetime | None) -> int | None:
    """Dates as 1099Policy sends them: Unix seconds (a day is its midnight, UTC)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return int(value.timestamp())
    return int(datetime.combine(value, time(), UTC).timestamp())


def _iso(value: date | datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _policy(row: Any, rollup: queries.PolicyRollup, links: CertificateLinks) -> dict[str, Any]:
    certs = rollup.certificates or {}

    def url(kind: str) -> str | None:
        return links.url(row.tenant_id, certs[kind]) if kind in certs else None

    return {
        "id": row.id,
        "object": "policy",
        "contractor": row.contractor_id,
        "policy_number": row.policy_number,
        "quote": row.quote_id,
        "status": row.status,
        "coverage_type": list(row.coverage_types),
        "home_state": row.home_state,
        "effective_date": epoch(rollup.effective_date or row.effective_date),
        "expiration_date": epoch(rollup.expiration_date),
        "assignments": rollup.assignments,
        "pdf_url": None,
        "certificates": {"gl_coi_pdf_url": url("general"), "wc_coi_pdf_url": url("workers-comp")},
        "created": epoch(row.created_at),
    }


def _list(url: str, data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


class PolicyController(Controller):
    path = "/v1/policies"

    @get("/")
    async def list_policies(
        self,
        db: NamedDependency[Database],
        links: NamedDependency[CertificateLinks],
        tenant_id: NamedDependency[str],
        contractor: FromQuery[str | None] = None,
        limit: Limit = 10,
        starting_after: FromQuery[str | None] = None,
        ending_before: FromQuery[str | None] = None,
    ) -> dict[str, Any]:
        async with db.session() as s:
            page = await queries.policies_page(
                s, tenant_id, contractor=contractor, limit=limit, starting_after=starting_after, ending_before=ending_before
            )
            rollups = await queries.policy_rollups(s, tenant_id, [r.id for r in page.rows])
        return _list("/v1/policies", [_policy(r, rollups[r.id], links) for r in page.rows], page.has_more)

    @get("/{policy_id:str}")
    async def get_policy(
        self,
        db: NamedDependency[Database],
        links: NamedDependency[CertificateLinks],
        tenant_id: NamedDependency[str],
        policy_id: FromPath[str],
    ) -> dict[str, Any]:
        async with db.session() as s:
            row = await queries.policy_row(s, tenant_id, policy_id)
            if row is None:
                raise NotFound(f"No policy {policy_id}", error_code="invalid_policy_id")
            rollups = await queries.policy_rollups(s, tenant_id, [row.id])
        return _policy(row, rollups[row.id], links)


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
    ) -> dict[str, Any]:
        async with db.session() as s:
            page = await queries.coverages_page(
                s,
                tenant_id,
                contractor=contractor,
                assignment=assignment,
                limit=limit,
                starting_after=starting_after,
                ending_before=ending_before,
            )
        data = [
            {
                "coverage_id": r.id,
                "assignment_id": r.assignment_id,
                "contractor_id": r.contractor_id,
                "policy_id": r.policy_id,
                "policy_number": r.policy_number,
                "status": r.status,
                "effective_date": _iso(r.effective_date),
                "end_date": _iso(r.end_date),
                "coverage_types": list(r.coverage_types),
                "net_rate": r.net_rate,
                "bound_at": _iso(r.bound_at),
                "cancel_reason": r.cancel_reason,
                "certificate": None
                if r.certificate_id is None
                else {
                    "certificate_id": r.certificate_id,
                    "number": r.certificate_number,
                    "issued_at": _iso(r.certificate_issued_at),
                    "pdf_url": f"/v1/certificates/{r.certificate_id}/pdf",
                    "download_url": links.url(tenant_id, r.certificate_id),
                },
            }
            for r in page.rows
        ]
        return _list("/v1/coverages", data, page.has_more)


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
    ) -> dict[str, Any]:
        async with db.session() as s:
            rows = await queries.certificate_history(s, tenant_id, assignment=assignment, contractor=contractor, limit=limit)
        data = [
            {
                "certificate_id": r.id,
                "number": r.number,
                "status": r.status,
                "reason": r.reason,
                "coverage_id": r.coverage_id,
                "assignment_id": r.assignment_id,
                "contractor_id": r.contractor_id,
                "policy_number": r.policy_number,
                "holder_name": r.holder_name,
                "coverage_types": list(r.coverage_types),
                "effective_date": _iso(r.effective_date),
                "end_date": _iso(r.end_date),
                "issued_at": _iso(r.issued_at),
                "supersedes": r.supersedes,
                "superseded_by": r.superseded_by,
                "pdf_url": f"/v1/certificates/{r.id}/pdf",
            }
            for r in rows
        ]
        return _list("/v1/certificates", data, False)

    @get("/{certificate_id:str}/pdf", media_type="application/pdf")
    async def download(
        self, db: NamedDependency[Database], tenant_id: NamedDependency[str], certificate_id: FromPath[str]
    ) -> Response[bytes]:
        async with db.session() as s:
            row = await queries.certificate_file(s, tenant_id, certificate_id)
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
        if not token:
            raise ApiError("This download link has no token", error_code="insufficient_permissions", status_code=403)
        try:
            tenant_id = links.verify(token, certificate_id)
        except BadLink as e:
            if e.reason == "expired":
                raise ApiError(
                    "This download link has expired; download the certificate from the dashboard or ask for a new link",
                    error_code="auth_token_expired",
                    status_code=403,
                ) from None
            raise ApiError("This download link is not valid", error_code="insufficient_permissions", status_code=403) from None
        async with db.session() as s:
            row = await queries.certificate_file(s, tenant_id, certificate_id)
        if row is None:
            raise NotFound(f"No certificate {certificate_id}")
        return _pdf(row, "inline")
