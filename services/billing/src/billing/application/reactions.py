"""Reactions to other contexts' messages: billing keeps the local copy it needs.

Every handler writes through the consumer's unit of work (never commits), is an upsert keyed by
the business id, tolerates any order across subjects and is harmless when repeated. Handlers
that may make a line billable wake the invoice issuer right after the consumer's commit.

Consumed: ``CompanyCreatedV1`` (gateway); ``AssignmentCreatedV1``, ``AssignmentUpdatedV1``,
``AssignmentCancelledV1``, ``PoNumberSetV1``, ``ImportCompletedV1`` (contractor);
``CoverageBoundV1``, ``CoverageRetimedV1``, ``CoverageExtendedV1``, ``CoverageCancelledV1``
(policy).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from ten99_contracts import CoverageTerms, Envelope
from ten99_contracts.contractor_v1 import (
    AssignmentCancelledV1,
    AssignmentCreatedV1,
    AssignmentUpdatedV1,
    ImportCompletedV1,
    PoNumberSetV1,
)
from ten99_contracts.gateway_v1 import CompanyCreatedV1
from ten99_contracts.policy_v1 import CoverageBoundV1, CoverageCancelledV1, CoverageExtendedV1, CoverageRetimedV1
from ten99kit import UnitOfWork, insert_ignore

from ..adapters.db import import_batches
from ..adapters.local_copy import upsert_assignment_part, upsert_company

__all__ = ["Reactions"]


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _po_part(po_number: str | None, contact: str | None, campaign: str | None) -> dict[str, Any]:
    """The PO part of an assignment row (snapshots and ``PoNumberSetV1`` carry it)."""
    return {"po_number": _clean(po_number), "po_contact_email": _clean(contact), "campaign": campaign}


class Reactions:
    """The handlers of the messages billing consumes (bootstrap subscribes them)."""

    def __init__(
        self,
        *,
        po_reminder_delay: timedelta,
        wake_issuer: Callable[[UnitOfWork], None],
        warm_up: Callable[[], None] = lambda: None,
    ) -> None:
        self.po_reminder_delay = po_reminder_delay
        self.wake_issuer = wake_issuer
        #: start loading the PDF renderer in the background: invoices will follow, and the
        #: library's import should not be their wait
        self.warm_up = warm_up

    async def _apply(
        self, uow: UnitOfWork, envelope: Envelope[Any], assignment_id: str, parts: dict[str, dict[str, Any]], **flags: Any
    ) -> None:
        """Apply the ``parts`` of one assignment the message carries (ordered by its version and
        time), then wake the issuer after the commit: the row may have become billable."""
        await upsert_assignment_part(
            uow.session,
            uow.db.dialect,
            tenant_id=envelope.tenant_id,
            assignment_id=assignment_id,
            now=uow.clock.now(),
            version=envelope.aggregate_version,
            at=envelope.occurred_at,
            parts=parts,
            **flags,
        )
        self.wake_issuer(uow)

    async def on_company_created(self, uow: UnitOfWork, envelope: Envelope[CompanyCreatedV1]) -> None:
        data = envelope.data
        await upsert_company(
            uow.session,
            uow.db.dialect,
            tenant_id=envelope.tenant_id,
            name=data.name,
            owner_email=data.owner_email,
            now=uow.clock.now(),
        )

    async def on_assignment_state(self, uow: UnitOfWork, envelope: Envelope[AssignmentCreatedV1 | AssignmentUpdatedV1]) -> None:
        assignment = envelope.data
        self.warm_up()
        contractor = assignment.contractor
        snapshot = {
            "snapshot_known": True,
            "contractor_id": contractor.contractor_id,
            "contractor_name": f"{contractor.first_name} {contractor.last_name}".strip()[:300],
            "contractor_email": contractor.email[:320],
            "job_id": assignment.job.job_id,
            "job_name": assignment.job.name[:300],
            "entity_name": assignment.job.entity.name[:300],
            "wage_cents": assignment.job.wage_cents,
            "wage_type": assignment.job.wage_type,
            "withhold_premium": assignment.job.withhold_premium,
            "effective_date": assignment.effective_date,
            "end_date": assignment.end_date,
            "import_batch_id": assignment.import_batch_id,
        }
        po = _po_part(assignment.po_number, assignment.po_contact_email, assignment.campaign)
        await self._apply(
            uow,
            envelope,
            assignment.assignment_id,
            {"snapshot": snapshot, "po": po},
            cancelled=assignment.status == "cancelled",
            cancel_reason="cancelled" if assignment.status == "cancelled" else None,
            contractor_id=contractor.contractor_id,
        )

    async def on_assignment_cancelled(self, uow: UnitOfWork, envelope: Envelope[AssignmentCancelledV1]) -> None:
        cancelled = envelope.data
        await self._apply(
            uow,
            envelope,
            cancelled.assignment_id,
            {},
            cancelled=True,
            cancel_reason=(cancelled.reason or "cancelled")[:500],
            contractor_id=cancelled.contractor_id,
        )

    async def on_po_number_set(self, uow: UnitOfWork, envelope: Envelope[PoNumberSetV1]) -> None:
        po = envelope.data
        part = _po_part(po.po_number, po.po_contact_email, po.campaign)
        await self._apply(uow, envelope, po.assignment_id, {"po": part}, contractor_id=po.contractor_id)

    async def _coverage(self, uow: UnitOfWork, envelope: Envelope[Any], terms: CoverageTerms, cancel_reason: str | None) -> None:
        cancelled = cancel_reason is not None or terms.status == "cancelled"
        coverage = {
            "coverage_id": terms.coverage_id,
            "coverage_effective_date": terms.effective_date,
            "coverage_end_date": terms.end_date,
            "net_rate": terms.net_rate,
        }
        await self._apply(
            uow,
            envelope,
            terms.assignment_id,
            {"coverage": coverage},
            coverage_cancelled=cancelled,
            coverage_cancel_reason=(cancel_reason or "cancelled")[:500] if cancelled else None,
            contractor_id=terms.contractor_id,
        )

    async def on_coverage_changed(
        self, uow: UnitOfWork, envelope: Envelope[CoverageBoundV1 | CoverageRetimedV1 | CoverageExtendedV1]
    ) -> None:
        await self._coverage(uow, envelope, envelope.data.terms, None)

    async def on_coverage_cancelled(self, uow: UnitOfWork, envelope: Envelope[CoverageCancelledV1]) -> None:
        await self._coverage(uow, envelope, envelope.data.terms, envelope.data.reason or "cancelled")

    async def on_import_completed(self, uow: UnitOfWork, envelope: Envelope[ImportCompletedV1]) -> None:
        data = envelope.data
        uploaded_at = envelope.occurred_at  # the upload time (contract: occurred_at of the import)
        await uow.session.execute(
            insert_ignore(import_batches, uow.db.dialect).values(
                tenant_id=envelope.tenant_id,
                import_batch_id=data.import_batch_id,
                filename=data.filename[:300],
                uploaded_at=uploaded_at,
                uploaded_by=_clean(data.uploaded_by),
                reminder_due_at=uploaded_at + self.po_reminder_delay,
                reminder_state="pending",
            )
        )
