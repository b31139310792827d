"""Reactions to other contexts' messages: local copies of companies, contractors and assignments,
and what a new assignment means for enrollment.

A new assignment of a contractor is, in this order:
1. **enrolled at once** (``AssignmentEnrolledV1``) when the contractor completed an application
   before and the assignment repeats what they were quoted then (`domain.repeat_coverage`);
2. **attached** to the contractor's open invitation (no new email);
3. the reason for a **new invitation** (``InvitationIssuedV1``, which notification emails).

Speed: the consumer applies a fetched batch of messages in one unit of work. The contractor and
assignment handlers only buffer what they received; at commit (`UnitOfWork.before_commit`) the
whole batch is written and decided with a handful of bulk statements, however many messages it
holds (a 10,000-row import arrives as 10,000 assignment messages).

Every handler is safe to run twice and in any order across subjects: local copies keep the
newest state (``aggregate_version``, then ``occurred_at``), the decision is taken once per
assignment (its ``enrollment`` column), and a cancellation that arrives before its assignment
is remembered.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.sql import ColumnElement
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
from ..adapters.db import (
    assignment_cancellations,
    assignments,
    companies,
    contractors,
    invitation_assignments,
    invitations,
    quotes,
)
from ..domain.eligibility import PricedCoverage
from ..domain.repeat_coverage import ConfirmedTerms, matching_terms
from .invitations import NewInvitation, close_as_expired, emit_issued, new_invitation, revoke_invitation
from .links import OptInLinks
from .quoting import assignment_quote, home_state_of, price_row, quote_row

__all__ = ["Reactions"]

log = get_logger(__name__)

Row = Mapping[Any, Any]  # a RowMapping or a dict
Key = tuple[str, str]  # (tenant, id)


def _address(value: Any) -> dict[str, Any] | None:
    return msgspec.to_builtins(value) if value is not None else None


def _within(tenant_column: Any, id_column: Any, keys: Sequence[Key]) -> list[ColumnElement[bool]]:
    """Rows whose (tenant, id) may be among ``keys``: two IN lists, which use the indexes (a
    batch rarely spans tenants); callers keep the exact keys."""
    return [tenant_column.in_(sorted({t for t, _ in keys})), id_column.in_(sorted({i for _, i in keys}))]


def _newer(candidate: dict[str, Any], held: dict[str, Any] | None, *, version_first: bool) -> bool:
    if held is None:
        return True
    if version_first:
        return (candidate["version"], candidate["observed_at"]) >= (held["version"], held["observed_at"])
    return (candidate["observed_at"], candidate["version"]) >= (held["observed_at"], held["version"])


@dataclass
class _Batch:
    """What one unit of work received, newest state per key, in order of arrival."""

    contractors: dict[Key, dict[str, Any]] = field(default_factory=dict)
    assignments: dict[Key, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Reactions:
    links: OptInLinks
    _batches: weakref.WeakKeyDictionary[UnitOfWork, _Batch] = field(default_factory=weakref.WeakKeyDictionary)

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

    def _batch(self, uow: UnitOfWork) -> _Batch:
        batch = self._batches.get(uow)
        if batch is None:
            batch = self._batches[uow] = _Batch()

            async def write() -> None:
                await self._write(uow, batch)

            uow.before_commit(write)
        return batch

    # -- handlers ----------------------------------------------------------------------------

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
        self._buffer_contractor(
            uow,
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
        c, job = d.contractor, d.job
        self._buffer_contractor(
            uow,
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
            "job_work_state": job.work_state.upper() if job.work_state else None,
            "coverage_types": list(d.coverage_types),
            "effective_date": d.effective_date,
            "end_date": d.end_date,
            "status": "cancelled" if d.status == "cancelled" else "pending",
            "version": envelope.aggregate_version,
            "observed_at": envelope.occurred_at,
            "enrollment": None,
            "enrollment_note": None,
        }
        batch = self._batch(uow)
        key = (tenant_id, d.assignment_id)
        if _newer(values, batch.assignments.get(key), version_first=True):
            batch.assignments.pop(key, None)  # keep the order of the newest arrival
            batch.assignments[key] = values

    async def on_assignment_cancelled(self, uow: UnitOfWork, envelope: Envelope[AssignmentCancelledV1]) -> None:
        d = envelope.data
        tenant_id = envelope.tenant_id
        await store.contractor(uow.session, tenant_id, d.contractor_id, lock=True)  # the lock order: contractor first
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

    def _buffer_contractor(self, uow: UnitOfWork, tenant_id: str, contractor_id: str, **fields: Any) -> None:
        batch = self._batch(uow)
        row = {"tenant_id": tenant_id, "contractor_id": contractor_id, **fields}
        key = (tenant_id, contractor_id)
        if _newer(row, batch.contractors.get(key), version_first=False):
            batch.contractors[key] = row

    # -- the batch, in bulk --------------------------------------------------------------------

    async def _write(self, uow: UnitOfWork, batch: _Batch) -> None:
        self._batches.pop(uow, None)
        session = uow.session
        # contractors first and in key order: this locks them, so that concurrent batches (and
        # opt-ins, which lock the contractor first too) take turns per contractor
        await store.upsert_contractors(session, list(batch.contractors.values()))
        if not batch.assignments:
            return
        stmt = store.dialect_insert(session, assignments)
        a, ex = assignments.c, stmt.excluded
        keep = ("tenant_id", "assignment_id", "enrollment", "enrollment_note")
        stmt = stmt.on_conflict_do_update(
            index_elements=[a.tenant_id, a.assignment_id],
            set_={c.name: ex[c.name] for c in assignments.c if c.name not in keep},
            # newest wins; a cancelled assignment stays cancelled ("it cannot be reactivated")
            where=and_(
                or_(ex.version > a.version, and_(ex.version == a.version, ex.observed_at >= a.observed_at)),
                a.status != "cancelled",
            ),
        )
        keys = list(batch.assignments)
        await session.execute(stmt, [batch.assignments[k] for k in sorted(keys)])

        # which of them were cancelled before they arrived
        ac = assignment_cancellations.c
        cancelled = {
            (t, i)
            for t, i in (
                await session.execute(
                    select(ac.tenant_id, ac.assignment_id).where(*_within(ac.tenant_id, ac.assignment_id, keys))
                )
            ).all()
            if (t, i) in batch.assignments
        }
        if cancelled:
            await session.execute(
                update(assignments)
                .where(a.tenant_id == bindparam("b_tenant"), a.assignment_id == bindparam("b_id"))
                .values(status="cancelled"),
                [{"b_tenant": t, "b_id": i} for t, i in cancelled],
            )
        rows = {
            (r["tenant_id"], r["assignment_id"]): r
            for r in (await session.execute(select(assignments).where(*_within(a.tenant_id, a.assignment_id, keys)))).mappings()
        }
        undecided: list[Row] = []
        for key in keys:  # in order of arrival
            row = rows[key]
            if key in cancelled:
                continue
            if row["status"] == "cancelled":
                if batch.assignments[key]["status"] == "cancelled":
                    await self._withdraw(uow, *key)  # rare: cancelled through an update
            elif row["enrollment"] is None:
                undecided.append(row)
        if undecided:
            await self._enroll(uow, undecided)

    async def _enroll(self, uow: UnitOfWork, undecided: Sequence[Row]) -> None:
        session = uow.session
        now, today = uow.clock.now(), uow.clock.today()
        who_keys = sorted({(r["tenant_id"], r["contractor_id"]) for r in undecided})
        c = contractors.c
        people = {
            (r["tenant_id"], r["contractor_id"]): r
            for r in (
                await session.execute(select(contractors).where(*_within(c.tenant_id, c.contractor_id, who_keys)))
            ).mappings()
        }
        q = quotes.c
        confirmed: dict[Key, list[ConfirmedTerms]] = {}
        for r in (
            await session.execute(
                select(quotes)
                .where(*_within(q.tenant_id, q.contractor_id, who_keys), q.accepted.is_(True))
                .order_by(q.created_at.desc())
            )
        ).mappings():
            confirmed.setdefault((r["tenant_id"], r["contractor_id"]), []).append(
                ConfirmedTerms(
                    r["session_id"], r["id"], r["category_code"], tuple(r["coverage_types"]), r["home_state"], r["work_state"]
                )
            )
        i = invitations.c
        wanted = set(who_keys)
        open_links: dict[Key, Row] = {
            (r["tenant_id"], r["contractor_id"]): r
            for r in (
                await session.execute(
                    select(invitations)
                    .where(*_within(i.tenant_id, i.contractor_id, who_keys), i.status == "pending")
                    .with_for_update()
                )
            ).mappings()
            if (r["tenant_id"], r["contractor_id"]) in wanted
        }
        ran_out = [r for r in open_links.values() if r["expires_at"] <= now]
        if ran_out:  # the expiry job has not recorded it yet: do it now, a new link follows
            await close_as_expired(uow, ran_out, now)
            for gone in ran_out:
                del open_links[(gone["tenant_id"], gone["contractor_id"])]

        new_links: dict[Key, NewInvitation] = {}
        new_link_assignments: dict[str, list[str]] = {}
        attached: list[dict[str, str]] = []
        new_quotes: list[dict[str, Any]] = []
        marks: list[tuple[str, str, str, str | None]] = []
        for row in undecided:
            key = (row["tenant_id"], row["contractor_id"])
            person = people[key]
            repeat = self._repeat(row, person, confirmed.get(key), now, today)
            if repeat is not None:
                new_quotes.append(repeat)
                marks.append((key[0], row["assignment_id"], "enrolled", repeat["eligibility_message"]))
                uow.emit(
                    AssignmentEnrolledV1(session_id=repeat["session_id"], contractor_id=key[1], quote=assignment_quote(repeat)),
                    tenant_id=key[0],
                    aggregate_id=row["assignment_id"],
                    aggregate_version=1,
                )
                continue
            link = open_links.get(key)
            if link is not None:
                invitation_id = link["id"]
            else:
                if key not in new_links:
                    new_links[key] = new_invitation(self.links, now, tenant_id=key[0], contractor=person)
                invitation_id = new_links[key].row["id"]
                new_link_assignments.setdefault(invitation_id, []).append(row["assignment_id"])
            attached.append({"invitation_id": invitation_id, "assignment_id": row["assignment_id"], "tenant_id": key[0]})
            marks.append((key[0], row["assignment_id"], "invited", None))

        if new_links:
            await session.execute(invitations.insert(), [n.row for n in new_links.values()])
        if attached:
            await session.execute(store.dialect_insert(session, invitation_assignments).on_conflict_do_nothing(), attached)
        if new_quotes:
            await session.execute(quotes.insert(), new_quotes)
        await store.record_enrollment(session, marks)
        for key, issued in new_links.items():
            emit_issued(uow, issued, people[key], new_link_assignments[issued.row["id"]])

    def _repeat(
        self, assignment: Row, person: Row, confirmed: list[ConfirmedTerms] | None, now: datetime, today: Any
    ) -> dict[str, Any] | None:
        """A quote for the assignment if it repeats what the contractor confirmed before."""
        if not confirmed:
            return None
        priced = price_row(assignment, home_state_of(person["address"]), today)
        if not isinstance(priced, PricedCoverage):
            return None  # a new opt-in will say why it cannot be covered
        match = matching_terms(assignment["category_code"], priced, confirmed)
        if match is None:
            return None
        return quote_row(
            now,
            tenant_id=assignment["tenant_id"],
            contractor_id=person["contractor_id"],
            job_id=assignment["job_id"],
            assignment_id=assignment["assignment_id"],
            session_id=match.session_id,
            source="repeat",
            category_code=assignment["category_code"],
            priced=priced,
            accepted=True,
        )

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
