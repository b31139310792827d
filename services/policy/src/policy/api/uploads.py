"""Uploaded certificates of insurance (1099Policy's ``/files/certificates``; docs/uploaded-certificates.md).

- ``POST /v1/uploads`` (multipart: ``certificate`` the PDF, ``contractor``, optional ``assignment``;
  without it the certificate is for all of the contractor's work): stored and reviewed at once.
- ``GET /v1/uploads`` (``?contractor=&status=``), ``GET /v1/uploads/{id}``: 1099Policy's
  certificate object with its review results.
- ``POST /v1/uploads/{id}/decision {decision: approve|deny, decided_by?}``: a person decides a flagged one.
- ``GET /v1/uploads/{id}/pdf``: the file (tenant-scoped, for the dashboard).
- ``GET /v1/public/uploads/{id}.pdf?token=``: the file through its signed link (``pdf_url``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, MultipartBody, QueryParameter
from ten99kit import ApiError, Database, InvalidInput, NotFound
from ten99kit.clock import epoch
from ten99kit.ids import is_id
from ten99kit.pagination import ListEnvelope, PageRequest

from ..adapters import uploads as upload_store
from ..adapters.links import CertificateLinks
from ..application.uploads import UploadDesk, decide_upload, upload_certificate
from ..domain.review import APPROVED, DENIED, ERROR, FLAGGED
from .controllers import tenant_of_signed_link

__all__ = ["PublicUploadController", "UploadController"]

Limit = Annotated[int, QueryParameter(ge=1, le=100)]
STATUSES = (APPROVED, FLAGGED, DENIED, ERROR)


class AuditResult(msgspec.Struct, frozen=True, kw_only=True):
    rule: str
    passed: bool
    #: a failed hard rule denies the certificate; a failed soft rule flags it for a person
    hard: bool
    message: str
    assignment: str | None = None


class ReviewSummary(msgspec.Struct, frozen=True, kw_only=True):
    passed: int
    failed: int
    total_rules: int


class ReviewResults(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    status: str
    created: int
    summary: ReviewSummary
    audit_results: list[AuditResult]
    object: str = "certificate_audit"


class UploadedCertificate(msgspec.Struct, frozen=True, kw_only=True):
    """1099Policy's uploaded certificate (``ci_...``), with ten99's additions (``assignment``,
    ``assignments`` reviewed, ``sha256``, ``decided_by``)."""

    id: str
    contractor: str
    assignment: str | None
    assignments: list[str]
    status: str
    created: int
    updated: int
    filename: str
    size: int
    sha256: str
    pdf_url: str | None
    review_results: ReviewResults | None
    decided_by: str | None = None
    object: str = "certificate"


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    decision: str
    decided_by: str | None = None


@dataclass
class CertificateForm:
    """The multipart form of an upload (1099Policy's field names)."""

    certificate: UploadFile | None = None
    contractor: str | None = None
    assignment: str | None = None


def _shown(row: Mapping[str, Any], links: CertificateLinks) -> UploadedCertificate:
    results = [
        AuditResult(rule=r["rule"], passed=r["passed"], hard=r["hard"], message=r["message"], assignment=r.get("assignment_id"))
        for r in row["review"]
    ]
    passed = sum(1 for r in results if r.passed)
    review = ReviewResults(
        id=row["review_id"],
        status=row["status"],
        created=epoch(row["created_at"]),
        summary=ReviewSummary(passed=passed, failed=len(results) - passed, total_rules=len(results)),
        audit_results=results,
    )
    return UploadedCertificate(
        id=row["id"],
        contractor=row["contractor_id"],
        assignment=row["assignment_id"],
        assignments=list(row["assignment_ids"]),
        status=row["status"],
        created=epoch(row["created_at"]),
        updated=epoch(row["updated_at"]),
        filename=row["filename"],
        size=row["size_bytes"],
        sha256=row["sha256"],
        pdf_url=links.upload_url(row["tenant_id"], row["id"]),
        review_results=review,
        decided_by=row["decided_by"],
    )


def _filename(upload: UploadFile) -> str:
    """The file's own name (a client may send a whole path), printable characters only."""
    name = (upload.filename or "certificate.pdf").replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in name if ch.isprintable()) or "certificate.pdf"


async def _row(db: Database, tenant_id: str, upload_id: str) -> Mapping[str, Any]:
    async with db.reads() as session:
        row = await upload_store.upload_row(session, tenant_id, upload_id)
    if row is None:
        raise NotFound(f"No certificate {upload_id}", error_code="invalid_certificate_id")
    return row


def _pdf(filename: str, content: bytes, disposition: str) -> Response[bytes]:
    safe = "".join(ch for ch in filename if ch.isalnum() or ch in "._-") or "certificate.pdf"
    headers = {"Content-Disposition": f'{disposition}; filename="{safe}"', "X-Content-Type-Options": "nosniff"}
    return Response(content, media_type="application/pdf", headers=headers)


class UploadController(Controller):
    path = "/v1/uploads"

    @post("/", status_code=200)
    async def upload(
        self,
        db: NamedDependency[Database],
        uploads: NamedDependency[UploadDesk],
        links: NamedDependency[CertificateLinks],
        tenant_id: NamedDependency[str],
        data: MultipartBody[CertificateForm],
    ) -> UploadedCertificate:
        if not isinstance(data.certificate, UploadFile):
            raise ApiError("Send the certificate PDF as the multipart field 'certificate'", error_code="missing_certificate")
        contractor = (data.contractor or "").strip()
        if not is_id(contractor, "cn"):
            raise ApiError("contractor must be a contractor id (cn_...)", error_code="invalid_contractor_id")
        assignment = (data.assignment or "").strip() or None
        if assignment is not None and not is_id(assignment, "an"):
            raise ApiError("assignment must be an assignment id (an_...)", error_code="invalid_assignment_id")
        content = await data.certificate.read()
        row = await upload_certificate(
            uploads,
            db,
            tenant_id,
            contractor_id=contractor,
            assignment_id=assignment,
            filename=_filename(data.certificate),
            content=content,
        )
        return _shown(row, links)

    @get("/")
    async def list_uploads(
        self,
        db: NamedDependency[Database],
        links: NamedDependency[CertificateLinks],
        tenant_id: NamedDependency[str],
        contractor: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        limit: Limit = 10,
        starting_after: FromQuery[str | None] = None,
        ending_before: FromQuery[str | None] = None,
    ) -> ListEnvelope[UploadedCertificate]:
        if status is not None and status not in STATUSES:
            raise InvalidInput({"status": f"must be one of {', '.join(STATUSES)}"})
        request = PageRequest(limit, starting_after, ending_before)
        async with db.reads() as session:
            page = await upload_store.uploads_page(session, tenant_id, contractor, status, request)
        # the public resource's path (the gateway passes the list on as /api/v1/files/certificates)
        return ListEnvelope(url="/v1/files/certificates", has_more=page.has_more, data=[_shown(row, links) for row in page.rows])

    @get("/{upload_id:str}")
    async def retrieve(
        self,
        db: NamedDependency[Database],
        links: NamedDependency[CertificateLinks],
        tenant_id: NamedDependency[str],
        upload_id: FromPath[str],
    ) -> UploadedCertificate:
        return _shown(await _row(db, tenant_id, upload_id), links)

    @post("/{upload_id:str}/decision", status_code=200)
    async def decide(
        self,
        db: NamedDependency[Database],
        links: NamedDependency[CertificateLinks],
        tenant_id: NamedDependency[str],
        upload_id: FromPath[str],
        data: JSONBody[Decision],
    ) -> UploadedCertificate:
        decided_by = (data.decided_by or "").strip()[:320] or None
        row = await decide_upload(db, tenant_id, upload_id, data.decision, decided_by)
        return _shown(row, links)

    @get("/{upload_id:str}/pdf", media_type="application/pdf")
    async def download(
        self, db: NamedDependency[Database], tenant_id: NamedDependency[str], upload_id: FromPath[str]
    ) -> Response[bytes]:
        async with db.reads() as session:
            found = await upload_store.upload_file(session, tenant_id, upload_id)
        if found is None:
            raise NotFound(f"No certificate {upload_id}", error_code="invalid_certificate_id")
        return _pdf(*found, "attachment")


class PublicUploadController(Controller):
    """An uploaded certificate's signed link (``pdf_url``): the token names the tenant and the upload."""

    path = "/v1/public/uploads"

    @get("/{filename:str}", media_type="application/pdf")
    async def download(
        self,
        db: NamedDependency[Database],
        links: NamedDependency[CertificateLinks],
        filename: FromPath[str],
        token: FromQuery[str] = "",
    ) -> Response[bytes]:
        upload_id = filename.removesuffix(".pdf")
        tenant_id = tenant_of_signed_link(links, token, upload_id)
        async with db.reads() as session:
            found = await upload_store.upload_file(session, tenant_id, upload_id)
        if found is None:
            raise NotFound(f"No certificate {upload_id}", error_code="invalid_certificate_id")
        return _pdf(*found, "inline")
