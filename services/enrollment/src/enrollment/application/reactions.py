"""Reactions to other contexts' messages: local copies of companies, contractors and assignments,
and what a new assignment means for enrollment.

A new assignment of a contractor is, in this order:
1. **enrolled at once** (``AssignmentEnrolledV1``) when the contractor completed an application
   before and the assignment repeats what they were quoted then (`domain.repeat_coverage`);
2. **attached** to the contractor's open invitation (no new email);
3. the reason for a **new invitation** (``InvitationIssuedV1``, which notification emails).

Every handler is safe to run twice and in any order across subjects: local copies keep the
newest state (``aggregate_version``, then ``occurred_at``), the decision is taken once per
assignment (its ``enrollment`` column), and a cancellation that arrives before its assignment
is remembered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import and_, or_, select, update
from ten99_contracts import Envelope
from ten99_contracts.contractor_v1 import (
    AssignmentCancelledV1,
    AssignmentCreatedV1,
    AssignmentExtendedV1,
    AssignmentUpdatedV1,
    ContractorRegisteredV1,
    ContractorUpdatedV1,
)
from ten99_contracts.enrollment_v1 import AssignmentEnrolledV1
from ten99_contracts.gateway_v1 import CompanyCreatedV1
from ten99kit import Subscription, UnitOfWork, get_logger

from ..adapters import store
from ..adapters.db import assignment_cancellations, assignments, companies, invitation_assignments, invitations
from ..domain.eligibility import NotCoverable
from ..domain.repeat_coverage import matching_terms
from .invitations import attach_assignments, close_as_expired, issue_invitation, revoke_invitation
from .links import OptInLinks
from .quoting import assignment_quote, home_state_of, insert_quote, price_row

__all__ = ["Reactions"]

log = get_logger(__name__)

Row = Mapping[Any, Any]  # a RowMapping or a dict


def _address(value: Any) -> dict[str, Any] | None:
    return msgspec.to_builtins(value) if value is not None else None


@dataclass(frozen=True)
class Reactions:
    links: OptInLinks

    def subscriptions(self) -> list[Subscription]:
        return [
            Subscription(CompanyCreatedV1.SUBJECT, self.on_company_created),
            Subscription(ContractorRegisteredV1.SUBJECT, self.on_contractor_changed),
            Subscription(ContractorUpdatedV1.SUBJECT, self.on_contractor_changed),
            Subscription(AssignmentCreatedV1.SUBJECT, self.on_assignment_state),
            Subscription(AssignmentUpdatedV1.SUBJECT, self.on_assignment_state),
            Subscription(AssignmentCancelledV1.SUBJECT, self.on_assignment_cancelled),
            Subscription(AssignmentExtendedV1.SUBJECT, self.on_assignment_extended),
        ]

    async def on_company_created(self, uow: UnitOfWork, envelope: Envelope[CompanyCreatedV1]) -> None:
        d = envelope.data
        values = {
            "tenant_id": envelope.tenant_id,
            "name": d.name,
            "owner_email": d.owner_email,
            "updated_at": envelope.occurred_at,
        }
        stmt = store.dialect_insert(uow.session, companies).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[companies.c.tenant_id],
            set_={"name": stmt.excluded.name, "owner_email": stmt.excluded.owner_email, "updated_at": stmt.excluded.updated_at},
            where=stmt.excluded.updated_at >= companies.c.updated_at,
        )
        await uow.session.execute(stmt)

    async def on_contractor_changed(
        self, uow: UnitOfWork, envelope: Envelope[ContractorRegisteredV1] | Envelope[ContractorUpdatedV1]
    ) -> None:
        d = envelope.data
        await store.upsert_contractor(
            uow.session,
            envelope.tenant_id,
            d.contractor_id,
            first_name=d.first_name,
            last_name=d.last_name,
            email=d.email,
            phone=d.phone,
            address=_address(d.address),
            company_name=d.company_name,
            observed_at=envelope.occurred_at,
            version=envelope.aggregate_version,
        )

    async def on_assignment_state(
        self, uow: UnitOfWork, envelope: Envelope[AssignmentCreatedV1] | Envelope[AssignmentUpdatedV1]
    ) -> None:
        d = envelope.data
        tenant_id = envelope.tenant_id
        c = d.contractor
        await store.upsert_contractor(
            uow.session,
            tenant_id,
            c.contractor_id,
            first_name=c.first_name,
            last_name=c.last_name,
            email=c.email,
            phone=c.phone,
            address=_address(c.address),
            company_name=c.company_name,
            observed_at=envelope.occurred_at,
            version=0,  # a snapshot inside another aggregate's message: only its time counts
        )
        job = d.job
        values = {
            "tenant_id": tenant_id,
            "assignment_id": d.assignment_id,
            "contractor_id": c.contractor_id,
            "job_id": job.job_id,
            "job_name": job.name,
            "job_description": job.description,
            "entity_id": job.entity.entity_id,
            "entity_name": job.entity.name,
            "required_coverage": list(job.entity.required_coverage),
            "category_code": job.category_code,
            "job_work_state": (job.work_state or None) and job.work_state.upper(),
            "coverage_types": list(d.coverage_types),
            "effective_date": d.effective_date,
            "end_date": d.end_date,
            "status": "cancelled" if d.status == "cancelled" else "pending",
            "version": envelope.aggregate_version,
            "observed_at": envelope.occurred_at,
            "enrollment": None,
            "enrollment_note": None,
        }
        stmt = store.dialect_insert(uow.session, assignments).values(values)
        a, ex = assignments.c, stmt.excluded
        keep = ("tenant_id", "assignment_id", "enrollment", "enrollment_note")
        stmt = stmt.on_conflict_do_update(
            index_elements=[a.tenant_id, a.assignment_id],
            set_={k: ex[k] for k in values if k not in keep},
            # newest wins; a cancelled assignment stays cancelled ("it cannot be reactivated")
            where=and_(
                or_(ex.version > a.version, and_(ex.version == a.version, ex.observed_at >= a.observed_at)),
                a.status != "cancelled",
            ),
        ).returning(*assignments.c)
        applied = (await uow.session.execute(stmt)).mappings().first()
        if applied is None:
            return  # an older state than the one we hold
        if applied["status"] == "cancelled" or await store.is_cancelled(uow.session, tenant_id, d.assignment_id):
            await self._withdraw(uow, tenant_id, d.assignment_id)
            return
        if applied["enrollment"] is None:
            await self._enroll(uow, tenant_id, applied)

    async def on_assignment_cancelled(self, uow: UnitOfWork, envelope: Envelope[AssignmentCancelledV1]) -> None:
        d = envelope.data
        tenant_id = envelope.tenant_id
        await uow.session.execute(
            store.dialect_insert(uow.session, assignment_cancellations)
            .values(tenant_id=tenant_id, assignment_id=d.assignment_id, cancelled_at=d.cancelled_at, reason=d.reason)
            .on_conflict_do_nothing()
        )
        await uow.session.execute(
            update(assignments)
            .where(assignments.c.tenant_id == tenant_id, assignments.c.assignment_id == d.assignment_id)
            .values(status="cancelled")
        )
        await self._withdraw(uow, tenant_id, d.assignment_id)

    async def on_assignment_extended(self, uow: UnitOfWork, envelope: Envelope[AssignmentExtendedV1]) -> None:
        d = envelope.data
        # end dates only move later, so the later one wins whatever the order of arrival
        await uow.session.execute(
            update(assignments)
            .where(
                assignments.c.tenant_id == envelope.tenant_id,
                assignments.c.assignment_id == d.assignment_id,
                assignments.c.end_date < d.end_date,
            )
            .values(end_date=d.end_date)
        )

    # -- decisions ---------------------------------------------------------------------------

    async def _enroll(self, uow: UnitOfWork, tenant_id: str, assignment: Row) -> None:
        session = uow.session
        assignment_id = assignment["assignment_id"]
        contractor_id = assignment["contractor_id"]
        contractor = await store.contractor(session, tenant_id, contractor_id)
        assert contractor is not None  # written just before, in this transaction
        if await self._enroll_as_repeat(uow, tenant_id, assignment, contractor):
            return
        now = uow.clock.now()
        pending = await store.open_invitation(session, tenant_id, contractor_id, lock=True)
        if pending is not None and pending["expires_at"] > now:
            await attach_assignments(uow, tenant_id, pending["id"], [assignment_id])
            return
        if pending is not None:  # ran out, and the expiry job has not recorded it yet
            await close_as_expired(uow, [pending], now)
        await issue_invitation(uow, self.links, tenant_id=tenant_id, contractor=contractor, assignment_ids=[assignment_id])

    async def _enroll_as_repeat(self, uow: UnitOfWork, tenant_id: str, assignment: Row, contractor: Row) -> bool:
        confirmed = await store.confirmed_terms(uow.session, tenant_id, contractor["contractor_id"])
        if not confirmed:
            return False
        priced = price_row(assignment, home_state_of(contractor["address"]), uow.clock.today())
        if isinstance(priced, NotCoverable):
            return False  # a new opt-in will say why
        match = matching_terms(assignment["category_code"], priced, confirmed)
        if match is None:
            return False
        quote = await insert_quote(
            uow,
            tenant_id=tenant_id,
            contractor_id=contractor["contractor_id"],
            job_id=assignment["job_id"],
            assignment_id=assignment["assignment_id"],
            session_id=match.session_id,
            source="repeat",
            category_code=assignment["category_code"],
            priced=priced,
            accepted=True,
        )
        await store.mark_assignments(
            uow.session, tenant_id, [assignment["assignment_id"]], "enrolled", quote["eligibility_message"]
        )
        uow.emit(
            AssignmentEnrolledV1(
                session_id=match.session_id, contractor_id=contractor["contractor_id"], quote=assignment_quote(quote)
            ),
            tenant_id=tenant_id,
            aggregate_id=assignment["assignment_id"],
            aggregate_version=1,
        )
        return True

    async def _withdraw(self, uow: UnitOfWork, tenant_id: str, assignment_id: str) -> None:
        """A cancelled assignment leaves the open invitation; a link left with nothing to opt
        into is revoked (the contractor then sees a clear "revoked" page)."""
        ia, inv = invitation_assignments, invitations
        pending = (
            (
                await uow.session.execute(
                    select(inv)
                    .join(ia, ia.c.invitation_id == inv.c.id)
                    .where(ia.c.tenant_id == tenant_id, ia.c.assignment_id == assignment_id, inv.c.status == "pending")
                    .with_for_update(of=inv)
                )
            )
            .mappings()
            .first()
        )
        if pending is None:
            return
        if not await store.live_assignments_of_invitation(uow.session, tenant_id, pending["id"]):
            await revoke_invitation(uow, pending, replaced_by=None)
