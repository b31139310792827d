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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import msgspec
from sqlalchemy import and_, bindparam, or_, select, update
from ten99_contracts import ContractorSnapshot, Envelope
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
from ten99kit import UnitOfWork, get_logger
from ten99kit.db import Row

from ..adapters import store
from ..adapters.db import (
    assignment_cancellations,
    assignments,
    companies,
    invitation_assignments,
    invitations,
    quotes,
)
from ..adapters.store import EnrollmentMark, Key
from ..domain.eligibility import PricedCoverage
from ..domain.repeat_coverage import ConfirmedTerms, matching_terms
from .invitations import NewInvitation, close_as_expired, emit_issued, new_invitation, revoke_invitation
from .links import OptInLinks
from .quoting import accepted_quote, assignment_quote, home_state_of, price_row

__all__ = ["Reactions"]

log = get_logger(__name__)


def _address(value: Any) -> dict[str, Any] | None:
    return msgspec.to_builtins(value) if value is not None else None


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

    def keep_contractor(self, key: Key, row: dict[str, Any]) -> None:
        """A contractor's details: the latest observed wins, then the higher version."""
        if _newer(row, self.contractors.get(key), version_first=False):
            self.contractors[key] = row

    def keep_assignment(self, key: Key, row: dict[str, Any]) -> None:
        """An assignment: the higher version wins, then the latest observed; it moves to the
        place of its newest arrival."""
        if _newer(row, self.assignments.get(key), version_first=True):
            self.assignments.pop(key, None)
            self.assignments[key] = row


@dataclass(frozen=True)
class Reactions:
    """The handlers of other contexts' messages (`bootstrap` subscribes them). One instance per
    consumer: it holds each unit of work's batch until that unit of work commits."""

    links: OptInLinks
    _batches: weakref.WeakKeyDictionary[UnitOfWork, _Batch] = field(default_factory=weakref.WeakKeyDictionary)

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
        message = envelope.data
        values = {
            "tenant_id": envelope.tenant_id,
            "name": message.name,
            "owner_email": message.owner_email,
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
        self._buffer_contractor(uow, envelope.tenant_id, envelope.data, envelope.occurred_at, envelope.aggregate_version)

    async def on_assignment_state(
        self, uow: UnitOfWork, envelope: Envelope[AssignmentCreatedV1] | Envelope[AssignmentUpdatedV1]
    ) -> None:
        message = envelope.data
        tenant_id = envelope.tenant_id
        job = message.job
        # a snapshot inside another aggregate's message: only its time counts (version 0)
        self._buffer_contractor(uow, tenant_id, message.contractor, envelope.occurred_at, 0)
        values = {
            "tenant_id": tenant_id,
            "assignment_id": message.assignment_id,
            "contractor_id": message.contractor.contractor_id,
            "job_id": job.job_id,
            "job_name": job.name,
            "job_description": job.description,
            "entity_id": job.entity.entity_id,
            "entity_name": job.entity.name,
            "required_coverage": list(job.entity.required_coverage),
            "category_code": job.category_code,
            "job_work_state": job.work_state.upper() if job.work_state else None,
            "coverage_types": list(message.coverage_types),
            "effective_date": message.effective_date,
            "end_date": message.end_date,
            "status": "cancelled" if message.status == "cancelled" else "pending",
            "version": envelope.aggregate_version,
            "observed_at": envelope.occurred_at,
            "enrollment": None,
            "enrollment_note": None,
        }
        self._batch(uow).keep_assignment((tenant_id, message.assignment_id), values)

    async def on_assignment_cancelled(self, uow: UnitOfWork, envelope: Envelope[AssignmentCancelledV1]) -> None:
        message = envelope.data
        tenant_id = envelope.tenant_id
        await store.contractor(uow.session, tenant_id, message.contractor_id, lock=True)  # the lock order: contractor first
        cancellation = {
            "tenant_id": tenant_id,
            "assignment_id": message.assignment_id,
            "cancelled_at": message.cancelled_at,
            "reason": message.reason,
        }
        await uow.session.execute(
            store.dialect_insert(uow.session, assignment_cancellations).values(cancellation).on_conflict_do_nothing()
        )
        await uow.session.execute(
            update(assignments)
            .where(assignments.c.tenant_id == tenant_id, assignments.c.assignment_id == message.assignment_id)
            .values(status="cancelled")
        )
        await self._withdraw(uow, tenant_id, message.assignment_id)

    async def on_assignment_extended(self, uow: UnitOfWork, envelope: Envelope[AssignmentExtendedV1]) -> None:
        message = envelope.data
        # end dates only move later, so the later one wins whatever the order of arrival
        await uow.session.execute(
            update(assignments)
            .where(
                assignments.c.tenant_id == envelope.tenant_id,
                assignments.c.assignment_id == message.assignment_id,
                assignments.c.end_date < message.end_date,
            )
            .values(end_date=message.end_date)
        )

    def _buffer_contractor(
        self,
        uow: UnitOfWork,
        tenant_id: str,
        source: ContractorSnapshot | ContractorRegisteredV1 | ContractorUpdatedV1,
        observed_at: datetime,
        version: int,
    ) -> None:
        """Keep the newest state of a contractor the batch heard of (from their own message or
        from an assignment's snapshot of them)."""
        row = {
            "tenant_id": tenant_id,
            "contractor_id": source.contractor_id,
            "first_name": source.first_name,
            "last_name": source.last_name,
            "email": source.email,
            "phone": source.phone,
            "address": _address(source.address),
            "company_name": source.company_name,
            "observed_at": observed_at,
            "version": version,
        }
        self._batch(uow).keep_contractor((tenant_id, source.contractor_id), row)

    # -- the batch, in bulk --------------------------------------------------------------------

    async def _write(self, uow: UnitOfWork, batch: _Batch) -> None:
        self._batches.pop(uow, None)
        # contractors first and in key order: this locks them, so that concurrent batches (and
        # opt-ins, which lock the contractor first too) take turns per contractor
        await store.upsert_contractors(uow.session, list(batch.contractors.values()))
        if not batch.assignments:
            return
        await _upsert_assignments(uow.session, batch)
        cancelled = await _cancel_those_cancelled_before_arrival(uow.session, batch)
        undecided = await self._undecided(uow, batch, cancelled)
        if undecided:
            await self._enroll(uow, undecided)

    async def _undecided(self, uow: UnitOfWork, batch: _Batch, cancelled: set[Key]) -> list[Row]:
        """The batch's assignments that still await a decision, in order of arrival; one
        cancelled through an update leaves its invitation."""
        keys = list(batch.assignments)
        a = assignments.c
        found = await uow.session.execute(select(assignments).where(*store.within(a.tenant_id, a.assignment_id, keys)))
        rows = {(r["tenant_id"], r["assignment_id"]): r for r in found.mappings()}
        undecided: list[Row] = []
        for key in keys:
            row = rows[key]
            if key in cancelled:
                continue
            if row["status"] == "cancelled":
                if batch.assignments[key]["status"] == "cancelled":
                    await self._withdraw(uow, *key)  # rare: cancelled through an update
            elif row["enrollment"] is None:
                undecided.append(row)
        return undecided

    async def _enroll(self, uow: UnitOfWork, undecided: Sequence[Row]) -> None:
        """Decide each new assignment (in order of arrival): enrolled as a repeat, attached to the
        open link, or the reason for a new one; then write the decisions in bulk."""
        now, today = uow.clock.now(), uow.clock.today()
        known = await _read_what_deciding_needs(uow, undecided, now)
        decisions = _Decisions()
        for row in undecided:
            key = (row["tenant_id"], row["contractor_id"])
            person = known.people[key]
            repeat = _repeat(row, person, known.confirmed.get(key), now, today)
            if repeat is not None:
                decisions.enroll(uow, row, repeat)
                continue
            link = known.open_links.get(key)
            if link is not None:
                decisions.attach(row, link["id"])
            else:
                if key not in decisions.new_links:
                    decisions.new_links[key] = new_invitation(self.links, now, tenant_id=key[0], contractor=person)
                decisions.attach(row, decisions.new_links[key].row["id"], new_link=True)
        await decisions.write(uow, known.people)

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


# -- the batch's steps -------------------------------------------------------------------------


async def _upsert_assignments(session: Any, batch: _Batch) -> None:
    """Write the batch's assignments in key order: the newest state wins, and a cancelled
    assignment stays cancelled ("it cannot be reactivated"); what enrollment decided is kept."""
    stmt = store.dialect_insert(session, assignments)
    a, excluded = assignments.c, stmt.excluded
    keep = ("tenant_id", "assignment_id", "enrollment", "enrollment_note")
    stmt = stmt.on_conflict_do_update(
        index_elements=[a.tenant_id, a.assignment_id],
        set_={c.name: excluded[c.name] for c in assignments.c if c.name not in keep},
        where=and_(
            or_(excluded.version > a.version, and_(excluded.version == a.version, excluded.observed_at >= a.observed_at)),
            a.status != "cancelled",
        ),
    )
    await session.execute(stmt, [batch.assignments[k] for k in sorted(batch.assignments)])


async def _cancel_those_cancelled_before_arrival(session: Any, batch: _Batch) -> set[Key]:
    """The batch's assignments whose cancellation came first, now marked cancelled."""
    ac = assignment_cancellations.c
    found = await session.execute(
        select(ac.tenant_id, ac.assignment_id).where(*store.within(ac.tenant_id, ac.assignment_id, list(batch.assignments)))
    )
    cancelled = {
        (tenant_id, assignment_id) for tenant_id, assignment_id in found.all() if (tenant_id, assignment_id) in batch.assignments
    }
    if cancelled:
        a = assignments.c
        await session.execute(
            update(assignments)
            .where(a.tenant_id == bindparam("b_tenant"), a.assignment_id == bindparam("b_id"))
            .values(status="cancelled"),
            [{"b_tenant": tenant_id, "b_id": assignment_id} for tenant_id, assignment_id in cancelled],
        )
    return cancelled


@dataclass(frozen=True)
class _Known:
    """What deciding new assignments needs of their contractors, read in a few statements."""

    people: dict[Key, Row]
    confirmed: dict[Key, list[ConfirmedTerms]]
    #: each contractor's pending invitation that is still open (locked)
    open_links: dict[Key, Row]


async def _read_what_deciding_needs(uow: UnitOfWork, undecided: Sequence[Row], now: datetime) -> _Known:
    session = uow.session
    who = sorted({(r["tenant_id"], r["contractor_id"]) for r in undecided})
    people = await store.contractors_by_key(session, who)
    confirmed = await store.confirmed_terms_by_contractor(session, who)
    open_links = await store.pending_invitations_by_contractor(session, who)
    ran_out = [r for r in open_links.values() if r["expires_at"] <= now]
    if ran_out:  # the expiry job has not recorded it yet: do it now, a new link follows
        await close_as_expired(uow, ran_out, now)
        for gone in ran_out:
            del open_links[(gone["tenant_id"], gone["contractor_id"])]
    return _Known(people=people, confirmed=confirmed, open_links=open_links)


def _repeat(assignment: Row, person: Row, confirmed: list[ConfirmedTerms] | None, now: datetime, today: date) -> Row | None:
    """A quote for the assignment if it repeats what the contractor confirmed before."""
    if not confirmed:
        return None
    priced = price_row(assignment, home_state_of(person["address"]), today)
    if not isinstance(priced, PricedCoverage):
        return None  # a new opt-in will say why it cannot be covered
    match = matching_terms(assignment["category_code"], priced, confirmed)
    if match is None:
        return None
    return accepted_quote(
        now, assignment, priced, contractor_id=person["contractor_id"], session_id=match.session_id, source="repeat"
    )


@dataclass
class _Decisions:
    """What was decided for a batch's new assignments, written in bulk at the end."""

    new_links: dict[Key, NewInvitation] = field(default_factory=dict)
    #: new invitation id -> the assignments it is issued for
    new_link_assignments: dict[str, list[str]] = field(default_factory=dict)
    attached: list[dict[str, str]] = field(default_factory=list)
    new_quotes: list[Row] = field(default_factory=list)
    marks: list[EnrollmentMark] = field(default_factory=list)

    def enroll(self, uow: UnitOfWork, assignment: Row, quote: Row) -> None:
        tenant_id, assignment_id = assignment["tenant_id"], assignment["assignment_id"]
        self.new_quotes.append(quote)
        self.marks.append(EnrollmentMark(tenant_id, assignment_id, "enrolled", quote["eligibility_message"]))
        uow.emit(
            AssignmentEnrolledV1(
                session_id=quote["session_id"], contractor_id=assignment["contractor_id"], quote=assignment_quote(quote)
            ),
            tenant_id=tenant_id,
            aggregate_id=assignment_id,
            aggregate_version=1,
        )

    def attach(self, assignment: Row, invitation_id: str, *, new_link: bool = False) -> None:
        tenant_id, assignment_id = assignment["tenant_id"], assignment["assignment_id"]
        if new_link:
            self.new_link_assignments.setdefault(invitation_id, []).append(assignment_id)
        self.attached.append({"invitation_id": invitation_id, "assignment_id": assignment_id, "tenant_id": tenant_id})
        self.marks.append(EnrollmentMark(tenant_id, assignment_id, "invited"))

    async def write(self, uow: UnitOfWork, people: dict[Key, Row]) -> None:
        session = uow.session
        if self.new_links:
            await session.execute(invitations.insert(), [n.row for n in self.new_links.values()])
        if self.attached:
            await session.execute(store.dialect_insert(session, invitation_assignments).on_conflict_do_nothing(), self.attached)
        if self.new_quotes:
            await session.execute(quotes.insert(), self.new_quotes)
        await store.record_enrollment(session, self.marks)
        for key, issued in self.new_links.items():
            emit_issued(uow, issued, people[key], self.new_link_assignments[issued.row["id"]])
