"""Certificates of insurance contractors bring (docs/uploaded-certificates.md).

- `upload_certificate`: the PDF is checked (size, ``%PDF`` magic bytes, pypdf opens it; a refusal
  stores nothing), stored with its sha256, its text read and reviewed by the rules of
  `domain.review` against each assignment it is for (one, or all of the contractor's known here).
- `decide_upload`: a person approves or denies a flagged upload.

An approved upload covers its assignments instead of ten99 coverage: they are recorded in
``own_insurance`` and binding binds none of them (no policy coverage, so no premium). An
assignment that already has ten99 coverage when the upload is approved keeps it (it runs to its
end or is cancelled by the company): the upload covers only those not bound yet.
Every review and decision is announced as `UploadedCertificateReviewedV1`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ten99_contracts.policy_v1 import UploadedCertificateFailure, UploadedCertificateReviewedV1
from ten99kit import ApiError, Conflict, Database, InvalidInput, NotFound, UnitOfWork, get_logger, new_id

from ..adapters import store
from ..adapters import uploads as upload_store
from ..domain.review import APPROVED, DENIED, FLAGGED, ExtractedPdf, Requirement, RuleResult, is_pdf, review

__all__ = ["UploadDesk", "decide_upload", "upload_certificate"]

log = get_logger(__name__)

DECISIONS = {"approve": APPROVED, "deny": DENIED}


@dataclass(frozen=True)
class UploadDesk:
    """What the upload use cases need from the outside, handed in by bootstrap."""

    read_pdf: Callable[[bytes], ExtractedPdf]
    max_bytes: int


def _check_file(desk: UploadDesk, filename: str, content: bytes) -> ExtractedPdf:
    """The file as read, or a 4xx (nothing stored): 1099Policy's error codes."""
    if not content:
        raise ApiError("Send the certificate PDF as the multipart field 'certificate'", error_code="missing_certificate")
    if len(content) > desk.max_bytes:
        raise ApiError(
            f"The certificate is larger than {desk.max_bytes // (1024 * 1024)} MB",
            error_code="invalid_file_size",
            status_code=413,
        )
    if not filename.lower().endswith(".pdf") or not is_pdf(content):
        raise ApiError("The certificate must be a PDF (a .pdf file starting with %PDF)", error_code="invalid_file_type")
    extracted = desk.read_pdf(content)
    if not extracted.opened:
        raise ApiError("The certificate is not a PDF that can be opened", error_code="invalid_file_type")
    return extracted


def _requirement(row: Any) -> Requirement:
    contractor = row.contractor or {}
    name = " ".join(str(contractor.get(k) or "") for k in ("first_name", "last_name")).strip()
    return Requirement(
        assignment_id=row.assignment_id,
        contractor_name=name,
        holder_name=row.entity_name or "",
        coverage_types=tuple(row.coverage_types or ()),
        occurrence_limit_cents=row.occurrence_limit_cents or 0,
        aggregate_limit_cents=row.aggregate_limit_cents or 0,
        effective_date=row.effective_date,
        end_date=row.end_date,
    )


def _result_json(result: RuleResult) -> dict[str, Any]:
    return {
        "rule": result.rule,
        "passed": result.passed,
        "hard": result.hard,
        "message": result.message,
        "assignment_id": result.assignment_id,
    }


async def _requirements(uow: UnitOfWork, tenant_id: str, contractor_id: str, assignment_id: str | None) -> list[Requirement]:
    """Lock the company and the assignments (binding's order) and read what they require."""
    session, now = uow.session, uow.clock.now()
    await store.lock_company(session, uow.db.dialect, tenant_id, now)
    ids = await upload_store.assignment_ids_to_review(session, tenant_id, contractor_id, assignment_id)
    if not ids:
        if assignment_id is not None:
            raise NotFound(f"No assignment {assignment_id} of contractor {contractor_id}", error_code="invalid_assignment_id")
        raise NotFound(
            f"No assignment of contractor {contractor_id} to review the certificate against (one created a moment "
            "ago may still be on its way: retry shortly)",
            error_code="no_insurance_requirement_found",
        )
    facts = await store.lock_assignments(session, uow.db.dialect, tenant_id, contractor_id, ids, now)
    return [_requirement(f.row) for f in facts.values() if f.has_snapshot and not f.cancelled]


async def upload_certificate(
    desk: UploadDesk,
    db: Database,
    tenant_id: str,
    *,
    contractor_id: str,
    assignment_id: str | None,
    filename: str,
    content: bytes,
) -> dict[str, Any]:
    """Store and review an uploaded certificate; the stored row (without the PDF)."""
    extracted = _check_file(desk, filename, content)
    async with db.uow() as uow:
        requirements = await _requirements(uow, tenant_id, contractor_id, assignment_id)
        if not requirements:
            raise Conflict(f"The assignments of {contractor_id} were cancelled", error_code="invalid_assignment_id")
        outcome = review(extracted.text, requirements, uow.clock.today())
        now = uow.clock.now()
        values: dict[str, Any] = {
            "id": new_id("ci"),
            "tenant_id": tenant_id,
            "contractor_id": contractor_id,
            "assignment_id": assignment_id,
            "filename": filename[-200:],
            "size_bytes": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
            "pdf": content,
            "text": extracted.text,
            "status": outcome.status,
            "review_id": new_id("ca"),
            "review": [_result_json(r) for r in outcome.results],
            "assignment_ids": [r.assignment_id for r in requirements],
            "decided_by": None,
            "decided_at": None,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        await upload_store.insert_upload(uow.session, values)
        covered = await _cover_if_approved(uow, values)
        _emit_reviewed(uow, values, covered)
        await uow.commit()
    log.info("upload.reviewed", upload_id=values["id"], status=values["status"])
    del values["pdf"], values["text"]
    return values


async def _cover_if_approved(uow: UnitOfWork, upload: dict[str, Any]) -> list[str]:
    """The assignments the upload covers from now on (none unless approved): those without ten99
    coverage (a bound one keeps its coverage)."""
    if upload["status"] != APPROVED:
        return []
    session, tenant_id = uow.session, upload["tenant_id"]
    ids = list(upload["assignment_ids"])
    bound = await upload_store.bound_assignment_ids(session, tenant_id, ids)
    covered = [i for i in ids if i not in bound]
    await upload_store.cover_assignments(
        session, uow.db.dialect, tenant_id, upload["id"], upload["contractor_id"], covered, uow.clock.now()
    )
    return covered


def _emit_reviewed(uow: UnitOfWork, upload: dict[str, Any], covered: list[str]) -> None:
    failures = [
        UploadedCertificateFailure(rule=r["rule"], hard=r["hard"], message=r["message"], assignment_id=r.get("assignment_id"))
        for r in upload["review"]
        if not r["passed"]
    ]
    uow.emit(
        UploadedCertificateReviewedV1(
            upload_id=upload["id"],
            contractor_id=upload["contractor_id"],
            assignment_id=upload["assignment_id"],
            status=upload["status"],
            assignment_ids=list(upload["assignment_ids"]),
            covered_assignment_ids=covered,
            filename=upload["filename"],
            sha256=upload["sha256"],
            failures=failures,
            reviewed_at=upload["updated_at"],
            decided_by=upload["decided_by"],
        ),
        tenant_id=upload["tenant_id"],
        aggregate_id=upload["id"],
        aggregate_version=upload["version"],
    )


async def decide_upload(db: Database, tenant_id: str, upload_id: str, decision: str, decided_by: str | None) -> dict[str, Any]:
    """A person's decision on a flagged upload (``approve`` or ``deny``). Deciding again the way it
    was decided changes nothing; any other decision on an upload that is not flagged is a 409."""
    status = DECISIONS.get(decision)
    if status is None:
        raise InvalidInput({"decision": "must be approve or deny"})
    async with db.uow() as uow:
        row = await upload_store.upload_row(uow.session, tenant_id, upload_id)
        if row is None:
            raise NotFound(f"No certificate {upload_id}", error_code="invalid_certificate_id")
        if row["status"] == status and row["decided_at"] is not None:
            return dict(row)
        if row["status"] != FLAGGED:
            raise Conflict(f"The certificate is {row['status']}: only a flagged one is decided", error_code="bad_request")
        # binding's lock order: the company, the assignments, then the upload
        ids = list(row["assignment_ids"])
        await store.lock_company(uow.session, uow.db.dialect, tenant_id, uow.clock.now())
        await store.lock_assignments(uow.session, uow.db.dialect, tenant_id, row["contractor_id"], ids, uow.clock.now())
        locked = await upload_store.upload_row(uow.session, tenant_id, upload_id, lock=True)
        if locked is None or locked["status"] != FLAGGED:  # decided meanwhile: that decision stands
            raise Conflict("The certificate was decided meanwhile", error_code="bad_request")
        now = uow.clock.now()
        upload = dict(locked) | {"status": status, "decided_by": decided_by, "decided_at": now, "updated_at": now}
        upload["version"] = locked["version"] + 1
        changes = {k: upload[k] for k in ("status", "decided_by", "decided_at", "updated_at", "version")}
        await upload_store.update_upload(uow.session, tenant_id, upload_id, changes)
        covered = await _cover_if_approved(uow, upload)
        _emit_reviewed(uow, upload, covered)
        await uow.commit()
    return upload
