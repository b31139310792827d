"""Issuing Certificates of Insurance: one per coverage for its current dates, drawn and stored in
the transaction that made it due (bind, retime, extend) whenever everything it prints is known,
else as soon as the missing fact arrives (the assignment's snapshot, the company's name).

A new certificate for new dates supersedes the previous one; the old PDF is drawn again with a
"superseded" stamp, and a cancelled coverage's certificate with a "void" stamp, so that an old
link still opens but cannot be mistaken for current proof of cover.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import msgspec
from ten99_contracts import Address
from ten99_contracts.policy_v1 import CertificateIssuedV1
from ten99kit import UnitOfWork, get_logger, new_id

from ..adapters import store
from ..domain.certificate import CertificateDocument, certificate_filename, new_certificate_number
from ..domain.verification import new_verification_id
from .context import PolicyContext

__all__ = ["Numbered", "address_lines", "issue_certificates", "issue_due_certificates", "void_certificate"]

log = get_logger(__name__)


def address_lines(address: Address | None) -> list[str]:
    if address is None:
        return []
    lines = [address.line1]
    if address.line2:
        lines.append(address.line2)
    lines.append(f"{address.locality}, {address.region} {address.postalcode}")
    if address.country and address.country.upper() != "US":
        lines.append(address.country.upper())
    return lines


def _document(
    ctx: PolicyContext, item: store.CertificateInputs, number: str, now: datetime, verification_id: str
) -> CertificateDocument:
    cov, pol, asg = item.coverage, item.policy, item.assignment
    snapshot = store.contractor_snapshot(asg.contractor)
    if pol.insured_first_name or pol.insured_last_name:
        name = f"{pol.insured_first_name or ''} {pol.insured_last_name or ''}".strip()
        address = msgspec.convert(pol.insured_address, Address) if pol.insured_address else None
    else:
        name = f"{snapshot.first_name} {snapshot.last_name}".strip() if snapshot else ""
        address = snapshot.address if snapshot else None
    return CertificateDocument(
        certificate_number=number,
        policy_number=pol.policy_number,
        issued_at=now,
        producer_name=ctx.producer_name,
        insurer_name=ctx.insurer_name,
        insured_name=name,
        insured_business=snapshot.company_name if snapshot else None,
        insured_address=address_lines(address),
        holder_name=asg.entity_name or "",
        company_name=item.company_name,
        job_name=asg.job_name or "",
        assignment_id=cov.assignment_id,
        work_state=cov.work_state or asg.work_state,
        coverage_types=list(cov.coverage_types),
        aggregate_limit_cents=asg.aggregate_limit_cents or 0,
        occurrence_limit_cents=asg.occurrence_limit_cents or 0,
        effective_date=cov.effective_date,
        end_date=cov.end_date,
        supersedes_number=item.previous_number,
        verification_url=ctx.links.verification_url(verification_id),
    )


def _email(item: store.CertificateInputs) -> tuple[str, str]:
    pol = item.policy
    snapshot = store.contractor_snapshot(item.assignment.contractor)
    contact = store.contact_from(pol.insured_first_name, pol.insured_last_name, pol.insured_email, snapshot)
    return contact.name, contact.email


async def issue_due_certificates(
    ctx: PolicyContext,
    uow: UnitOfWork,
    *,
    tenant_id: str | None = None,
    coverage_ids: Iterable[str] | None = None,
    assignment_id: str | None = None,
    limit: int = 500,
) -> int:
    """Issue the certificates that are due and can be issued now. Returns how many."""
    now = uow.clock.now()
    due = await store.certificate_inputs(
        uow.session,
        tenant_id=tenant_id,
        coverage_ids=coverage_ids,
        assignment_id=assignment_id,
        company_known_or_bound_before=now - ctx.company_wait,
        limit=limit,
        postgres=uow.db.is_postgres,
    )
    if not due:
        return 0
    issued = await issue_certificates(ctx, uow, [(item, new_id("coi"), new_certificate_number(now.year)) for item in due])
    await store.point_coverages_at(
        uow.session, [{"b_coverage_id": item.coverage.id, "b_certificate_id": cid} for item, cid, _ in issued], now
    )
    return len(issued)


Numbered = tuple[store.CertificateInputs, str, str]  # what to certify, certificate id, certificate number


def _row(
    item: store.CertificateInputs,
    certificate_id: str,
    doc: CertificateDocument,
    pdf: bytes,
    *,
    verification_id: str,
    previous: str | None,
    reason: str,
) -> dict[str, Any]:
    """The certificate's row: what it says, its PDF, and the id of its public status page."""
    cov = item.coverage
    return {
        "id": certificate_id,
        "tenant_id": cov.tenant_id,
        "number": doc.certificate_number,
        "coverage_id": cov.id,
        "assignment_id": cov.assignment_id,
        "contractor_id": cov.contractor_id,
        "policy_id": cov.policy_id,
        "policy_number": item.policy.policy_number,
        "holder_name": doc.holder_name,
        "coverage_types": doc.coverage_types,
        "effective_date": cov.effective_date,
        "end_date": cov.end_date,
        "issued_at": doc.issued_at,
        "reason": reason,
        "status": "current",
        "verification_id": verification_id,
        "supersedes": previous,
        "document": msgspec.to_builtins(doc),
        "filename": certificate_filename(doc.certificate_number),
        "pdf": pdf,
        "pdf_sha256": hashlib.sha256(pdf).hexdigest(),
    }


async def issue_certificates(ctx: PolicyContext, uow: UnitOfWork, items: list[Numbered]) -> list[Numbered]:
    """Draw, store and announce a certificate for each coverage (with its id and number chosen
    by the caller); supersede the coverage's previous certificate, if it had one. The caller
    points the coverages at their new certificates."""
    now = uow.clock.now()
    rows: list[dict[str, Any]] = []
    superseded: dict[str, tuple[str, str]] = {}  # old certificate id -> (new id, new number)
    for item, certificate_id, number in items:
        cov = item.coverage
        previous = cov.certificate_id if cov.certificate_id != certificate_id else None
        verification_id = new_verification_id()
        doc = _document(ctx, item, number, now, verification_id)
        pdf = ctx.render(doc)
        filename = certificate_filename(number)
        reason = cov.certificate_reason or "bound"
        rows.append(_row(item, certificate_id, doc, pdf, verification_id=verification_id, previous=previous, reason=reason))
        if previous:
            superseded[previous] = (certificate_id, number)
        name, email = _email(item)
        uow.emit(
            CertificateIssuedV1(
                certificate_id=certificate_id,
                certificate_number=number,
                coverage_id=cov.id,
                assignment_id=cov.assignment_id,
                contractor_id=cov.contractor_id,
                policy_id=cov.policy_id,
                policy_number=item.policy.policy_number,
                contractor_email=email,
                contractor_name=name,
                holder_name=doc.holder_name,
                coverage_types=doc.coverage_types,
                effective_date=cov.effective_date,
                end_date=cov.end_date,
                issued_at=now,
                download_url=ctx.links.url(cov.tenant_id, certificate_id),
                filename=filename,
                pdf=pdf,
                supersedes=previous,
                reason=reason,
                send_email=bool(cov.certificate_notify),
            ),
            tenant_id=cov.tenant_id,
            aggregate_id=cov.id,
            aggregate_version=cov.version,
        )
    await store.insert_certificates(uow.session, rows)
    if superseded:
        await _restamp(
            ctx,
            uow,
            {old: f"SUPERSEDED on {now.date().isoformat()} by certificate {number}" for old, (_, number) in superseded.items()},
            status="superseded",
            superseded_by={old: new for old, (new, _) in superseded.items()},
        )
    if rows:
        log.info("certificates.issued", numbers=[r["number"] for r in rows], coverage_ids=[r["coverage_id"] for r in rows])
    return items


async def void_certificate(ctx: PolicyContext, uow: UnitOfWork, tenant_id: str, certificate_id: str, stamp: str) -> None:
    """The coverage was cancelled: its certificate stays downloadable, stamped void."""
    await _restamp(ctx, uow, {certificate_id: stamp}, status="void", superseded_by={}, tenant_id=tenant_id)


async def _restamp(
    ctx: PolicyContext,
    uow: UnitOfWork,
    stamps: dict[str, str],
    *,
    status: str,
    superseded_by: dict[str, str],
    tenant_id: str | None = None,
) -> None:
    now = uow.clock.now()
    documents = await store.documents_of(uow.session, tenant_id, list(stamps))
    changes = []
    for certificate_id, raw in documents.items():
        doc = msgspec.structs.replace(msgspec.convert(raw, CertificateDocument), stamp=stamps[certificate_id])
        pdf = ctx.render(doc)
        changes.append(
            {
                "b_id": certificate_id,
                "b_status": status,
                "b_superseded_by": superseded_by.get(certificate_id),
                "b_at": now,
                "b_document": msgspec.to_builtins(doc),
                "b_pdf": pdf,
                "b_sha": hashlib.sha256(pdf).hexdigest(),
            }
        )
    await store.mark_certificates(uow.session, changes)
