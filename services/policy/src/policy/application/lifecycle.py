"""Coverage after binding: the local copies of assignments and companies, and every change to a
coverage, evented (re-timed, extended, cancelled) or clock-driven (activated, expired).

Messages arrive in any order across subjects. The local copy of an assignment keeps the newest
state by ``aggregate_version`` (its dates separately, since an extension carries only the end);
a cancellation is final whatever order it arrives in. Each coverage transition happens once:
the rules in `policy.domain.coverage` say whether a change applies, and the clock-driven jobs
move rows with a single conditional UPDATE, so concurrent workers or a repeated tick cannot
apply a transition twice.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import msgspec
from sqlalchemy import and_, exists, select, update
from ten99_contracts import Envelope
from ten99_contracts.contractor_v1 import (
    AssignmentCancelledV1,
    AssignmentCreatedV1,
    AssignmentExtendedV1,
    AssignmentUpdatedV1,
    ContractorDeletedV1,
)
from ten99_contracts.gateway_v1 import CompanyCreatedV1
from ten99_contracts.policy_v1 import (
    CoverageActivatedV1,
    CoverageCancelledV1,
    CoverageExpiredV1,
    CoverageExtendedV1,
    CoverageRetimedV1,
    PolicyCancelledV1,
    PolicyReactivatedV1,
)
from ten99kit import Database, UnitOfWork, get_logger

from ..adapters import store
from ..adapters.db import coverages, policies, quote_bindings
from ..domain.coverage import ACTIVE, CANCELLED, EXPIRED, LIVE, SCHEDULED, Cancelled, Extended, Refused, Retimed
from .certificates import issue_due_certificates, void_certificate
from .context import PolicyContext
from .messages import terms

__all__ = [
    "activate_due_coverages",
    "expire_ended_coverages",
    "expire_quote_only_policies",
    "issue_waiting_certificates",
    "on_assignment_cancelled",
    "on_assignment_changed",
    "on_assignment_extended",
    "on_company_created",
    "on_contractor_deleted",
]

log = get_logger(__name__)

JOB_BATCH = 500


# -- local copies -----------------------------------------------------------------------------


async def on_company_created(ctx: PolicyContext, uow: UnitOfWork, envelope: Envelope[CompanyCreatedV1]) -> None:
    data = envelope.data
    await store.upsert_company(uow.session, uow.db.dialect, envelope.tenant_id, data.name, data.owner_email, uow.clock.now())
    # certificates that waited for the company's name
    await issue_due_certificates(ctx, uow, tenant_id=envelope.tenant_id)


async def _lock_for_new_dates(
    ctx: PolicyContext, uow: UnitOfWork, tenant_id: str, assignment_id: str, contractor_id: str, now: datetime
) -> Any:
    """Before a change that may draw a certificate: start loading the PDF renderer, lock the
    company, then the assignment (lock order: see store.lock_company). Returns the assignment's row."""
    ctx.warm_up()
    await store.lock_company(uow.session, uow.db.dialect, tenant_id, now)
    return await store.lock_assignment(uow.session, uow.db.dialect, tenant_id, assignment_id, contractor_id, now)


async def on_assignment_changed(
    ctx: PolicyContext, uow: UnitOfWork, envelope: Envelope[AssignmentCreatedV1] | Envelope[AssignmentUpdatedV1]
) -> None:
    """A full snapshot of the assignment (created or updated). Keeps the newest; if its dates
    changed before the coverage started, the coverage follows them (re-timed, new certificate)."""
    data = envelope.data
    tenant_id, version = envelope.tenant_id, envelope.aggregate_version
    now, today = uow.clock.now(), uow.clock.today()
    session = uow.session
    row = await _lock_for_new_dates(ctx, uow, tenant_id, data.assignment_id, data.contractor.contractor_id, now)
    values: dict[str, Any] = {}
    if row.snapshot_version is None or version >= row.snapshot_version:
        entity = data.job.entity
        values.update(
            snapshot_version=version,
            contractor_id=data.contractor.contractor_id,
            contractor=msgspec.to_builtins(data.contractor),
            job_id=data.job.job_id,
            job_name=data.job.name,
            work_state=data.job.work_state,
            entity_id=entity.entity_id,
            entity_name=entity.name,
            aggregate_limit_cents=entity.aggregate_limit_cents,
            occurrence_limit_cents=entity.occurrence_limit_cents,
            coverage_types=list(data.coverage_types),
        )
        if row.status != CANCELLED:  # a cancellation is final
            values["status"] = data.status
    dates_moved = row.dates_version is None or version >= row.dates_version
    if dates_moved:
        values.update(dates_version=version, effective_date=data.effective_date, end_date=data.end_date)
    if values:
        values["updated_at"] = now
        await store.update_assignment(session, tenant_id, data.assignment_id, values)

    coverage = await store.coverage_for_assignment(session, tenant_id, data.assignment_id)
    if coverage is None:
        return  # not bound (yet): binding will use these dates
    if dates_moved:
        outcome = coverage.retime(data.effective_date, data.end_date, today)
        if isinstance(outcome, Retimed):
            extra: dict[str, Any] = {"certificate_due": True, "certificate_reason": "retimed", "certificate_notify": True}
            if outcome.activated:
                extra["activated_at"] = now
            await store.save_coverage(session, coverage, now, **extra)
            first = coverage.version - (2 if outcome.activated else 1)
            uow.emit(
                CoverageRetimedV1(
                    terms=terms(coverage),
                    previous_effective_date=outcome.previous_effective_date,
                    previous_end_date=outcome.previous_end_date,
                ),
                tenant_id=tenant_id,
                aggregate_id=coverage.id,
                aggregate_version=first + 1,
            )
            if outcome.activated:
                uow.emit(
                    CoverageActivatedV1(terms=terms(coverage)),
                    tenant_id=tenant_id,
                    aggregate_id=coverage.id,
                    aggregate_version=coverage.version,
                )
        elif isinstance(outcome, Refused):
            log.info("coverage.retime_refused", assignment_id=data.assignment_id, reason=outcome.reason)
    # the snapshot may be what a waiting certificate needed
    await issue_due_certificates(ctx, uow, tenant_id=tenant_id, coverage_ids=[coverage.id])


async def on_assignment_cancelled(ctx: PolicyContext, uow: UnitOfWork, envelope: Envelope[AssignmentCancelledV1]) -> None:
    """Cancelled before its start: the coverage is cancelled and its certificate voided. A
    cancellation made on or after the start (the contractor service refuses those, so this means
    a bug or a clock skew) leaves the coverage in place and is logged as a warning."""
    data = envelope.data
    tenant_id = envelope.tenant_id
    now = uow.clock.now()
    session = uow.session
    row = await store.lock_assignment(session, uow.db.dialect, tenant_id, data.assignment_id, data.contractor_id, now)
    if row.status != CANCELLED:
        await store.update_assignment(
            session,
            tenant_id,
            data.assignment_id,
            {"status": CANCELLED, "cancel_reason": data.reason, "cancelled_at": data.cancelled_at, "updated_at": now},
        )
    coverage = await store.coverage_for_assignment(session, tenant_id, data.assignment_id)
    if coverage is None:
        return  # binding will skip it
    outcome = coverage.cancel(data.reason, data.cancelled_at.date())
    if isinstance(outcome, Refused):
        log.warning(
            "coverage.late_cancellation_kept", assignment_id=data.assignment_id, coverage_id=coverage.id, reason=outcome.reason
        )
        return
    if not isinstance(outcome, Cancelled):
        return  # already cancelled
    current = await _current_certificate(uow, coverage.id)
    await store.save_coverage(session, coverage, now, cancelled_at=data.cancelled_at, certificate_due=False)
    contact = await store.contact_for(session, tenant_id, coverage.policy_id, coverage.assignment_id)
    uow.emit(
        CoverageCancelledV1(
            terms=terms(coverage), reason=data.reason, contractor_email=contact.email, contractor_name=contact.name
        ),
        tenant_id=tenant_id,
        aggregate_id=coverage.id,
        aggregate_version=coverage.version,
    )
    if current:
        stamp = f"VOID: coverage cancelled on {data.cancelled_at.date().isoformat()} ({data.reason})"
        await void_certificate(ctx, uow, tenant_id, current, stamp)


async def _current_certificate(uow: UnitOfWork, coverage_id: str) -> str | None:
    q = select(coverages.c.certificate_id).where(coverages.c.id == coverage_id)
    return (await uow.session.execute(q)).scalar_one_or_none()


async def on_assignment_extended(ctx: PolicyContext, uow: UnitOfWork, envelope: Envelope[AssignmentExtendedV1]) -> None:
    """The end moved later: the coverage follows (at most one year after its start) and a new
    certificate supersedes the old one. The same end again changes nothing."""
    data = envelope.data
    tenant_id, version = envelope.tenant_id, envelope.aggregate_version
    now, today = uow.clock.now(), uow.clock.today()
    session = uow.session
    row = await _lock_for_new_dates(ctx, uow, tenant_id, data.assignment_id, data.contractor_id, now)
    if row.dates_version is not None and version < row.dates_version:
        log.info("assignment.stale_extension_ignored", assignment_id=data.assignment_id, version=version)
        return
    await store.update_assignment(
        session, tenant_id, data.assignment_id, {"end_date": data.end_date, "dates_version": version, "updated_at": now}
    )
    coverage = await store.coverage_for_assignment(session, tenant_id, data.assignment_id)
    if coverage is None:
        return
    outcome = coverage.extend(data.end_date, today)
    if isinstance(outcome, Refused):
        log.warning("coverage.extension_refused", assignment_id=data.assignment_id, reason=outcome.reason)
        return
    if not isinstance(outcome, Extended):
        return
    extra: dict[str, Any] = {"certificate_due": True, "certificate_reason": "extended", "certificate_notify": data.send_email}
    if outcome.reactivated:
        extra["expired_at"] = None
    await store.save_coverage(session, coverage, now, **extra)
    contact = await store.contact_for(session, tenant_id, coverage.policy_id, coverage.assignment_id)
    uow.emit(
        CoverageExtendedV1(
            terms=terms(coverage),
            previous_end_date=outcome.previous_end_date,
            contractor_email=contact.email,
            contractor_name=contact.name,
            send_email=data.send_email,
        ),
        tenant_id=tenant_id,
        aggregate_id=coverage.id,
        aggregate_version=coverage.version,
    )
    if outcome.reactivated:
        await _reactivate_policy(uow, tenant_id, coverage.policy_id, coverage.assignment_id, now)
    await issue_due_certificates(ctx, uow, tenant_id=tenant_id, coverage_ids=[coverage.id])


async def _reactivate_policy(uow: UnitOfWork, tenant_id: str, policy_id: str, assignment_id: str, now: datetime) -> None:
    """The coverage came back: so does its policy. A policy that had expired with it is
    reactivated (``PolicyReactivatedV1``, 1099Policy's ``policy.reactivated``), once: the UPDATE
    is conditional on the expired status."""
    reactivated = (
        await uow.session.execute(
            update(policies)
            .where(policies.c.tenant_id == tenant_id, policies.c.id == policy_id, policies.c.status == EXPIRED)
            .values(status=ACTIVE, version=policies.c.version + 1, updated_at=now)
            .returning(policies.c.policy_number, policies.c.contractor_id, policies.c.coverage_types, policies.c.version)
        )
    ).first()
    if reactivated is None:
        return  # still active (another coverage ran on): nothing came back
    uow.emit(
        PolicyReactivatedV1(
            policy_id=policy_id,
            policy_number=reactivated.policy_number,
            contractor_id=reactivated.contractor_id,
            coverage_types=list(reactivated.coverage_types),
            assignment_id=assignment_id,
            reactivated_at=now,
        ),
        tenant_id=tenant_id,
        aggregate_id=policy_id,
        aggregate_version=reactivated.version,
    )


async def on_contractor_deleted(ctx: PolicyContext, uow: UnitOfWork, envelope: Envelope[ContractorDeletedV1]) -> None:
    """The company deleted the contractor (the contractor service allows it only with no live
    assignment and no coverage): their active policy, which may still hold a quote bound without an
    assignment, is cancelled (``PolicyCancelledV1``, 1099Policy's ``policy.cancelled``). An expired
    policy stays expired. Once only: the UPDATE is conditional on the active status."""
    tenant_id, contractor_id, now = envelope.tenant_id, envelope.data.contractor_id, uow.clock.now()
    # the company's row first, as binding locks it: a policy cannot be created or widened in between
    await store.lock_company(uow.session, uow.db.dialect, tenant_id, now)
    cancelled = (
        await uow.session.execute(
            update(policies)
            .where(policies.c.tenant_id == tenant_id, policies.c.contractor_id == contractor_id, policies.c.status == ACTIVE)
            .values(status=CANCELLED, version=policies.c.version + 1, updated_at=now)
            .returning(policies.c.id, policies.c.policy_number, policies.c.coverage_types, policies.c.version)
        )
    ).first()
    if cancelled is None:
        return
    uow.emit(
        PolicyCancelledV1(
            policy_id=cancelled.id,
            policy_number=cancelled.policy_number,
            contractor_id=contractor_id,
            coverage_types=list(cancelled.coverage_types),
            reason="contractor_deleted",
            cancelled_at=now,
        ),
        tenant_id=tenant_id,
        aggregate_id=cancelled.id,
        aggregate_version=cancelled.version,
    )


# -- clock-driven -------------------------------------------------------------------------------


async def activate_due_coverages(db: Database, now: datetime) -> int:
    """scheduled -> active on the start date (``CoverageActivatedV1``), in batches."""
    return await _transition(db, now, SCHEDULED, ACTIVE, coverages.c.effective_date <= now.date(), "activated_at")


async def expire_ended_coverages(db: Database, now: datetime) -> int:
    """active -> expired the day after the end date (``CoverageExpiredV1``); a policy whose every
    coverage has ended (none scheduled or active, one expired) expires with it."""
    return await _transition(db, now, ACTIVE, EXPIRED, coverages.c.end_date < now.date(), "expired_at")


async def _transition(db: Database, now: datetime, source: str, target: str, due: Any, stamp: str) -> int:
    message = CoverageActivatedV1 if target == ACTIVE else CoverageExpiredV1
    total = 0
    while True:
        async with db.uow() as uow:
            batch = (
                select(coverages.c.id)
                .where(coverages.c.status == source, due)
                .order_by(coverages.c.id)
                .limit(JOB_BATCH)
                .with_for_update(skip_locked=True)
            )
            stmt = (
                update(coverages)
                .where(coverages.c.id.in_(batch.scalar_subquery()), coverages.c.status == source)
                .values({"status": target, "version": coverages.c.version + 1, stamp: now, "updated_at": now})
                .returning(*coverages.c)
            )
            rows = (await uow.session.execute(stmt)).all()
            for r in rows:
                uow.emit(message(terms=terms(r)), tenant_id=r.tenant_id, aggregate_id=r.id, aggregate_version=r.version)
            if target == EXPIRED and rows:
                await _expire_policies(uow, {r.policy_id for r in rows}, now)
            await uow.commit()
        total += len(rows)
        if len(rows) < JOB_BATCH:
            return total


def _running_quote(today: date) -> Any:
    """SQL: the policy has a quote bound without an assignment that has not ended by ``today``."""
    return exists().where(
        quote_bindings.c.tenant_id == policies.c.tenant_id,
        quote_bindings.c.policy_id == policies.c.id,
        quote_bindings.c.end_date >= today,
    )


async def _expire_policies(uow: UnitOfWork, policy_ids: set[str], now: datetime) -> None:
    live = exists().where(coverages.c.policy_id == policies.c.id, coverages.c.status.in_(LIVE))
    await uow.session.execute(
        update(policies)
        .where(and_(policies.c.id.in_(policy_ids), policies.c.status == ACTIVE, ~live, ~_running_quote(now.date())))
        .values(status=EXPIRED, version=policies.c.version + 1, updated_at=now)
    )


async def expire_quote_only_policies(db: Database, now: datetime) -> int:
    """A policy whose quotes bound without an assignment have all ended, and that has no coverage
    scheduled or active, expires (one conditional UPDATE: a repeated tick changes nothing)."""
    live = exists().where(coverages.c.policy_id == policies.c.id, coverages.c.status.in_(LIVE))
    bound = exists().where(quote_bindings.c.tenant_id == policies.c.tenant_id, quote_bindings.c.policy_id == policies.c.id)
    async with db.uow() as uow:
        result = await uow.session.execute(
            update(policies)
            .where(policies.c.status == ACTIVE, bound, ~live, ~_running_quote(now.date()))
            .values(status=EXPIRED, version=policies.c.version + 1, updated_at=now)
        )
        await uow.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def issue_waiting_certificates(ctx: PolicyContext, db: Database, now: datetime) -> int:
    """The safety net: certificates whose data came in without a message that issued them (or
    whose company never told us its name within ``company_wait``)."""
    total = 0
    while True:
        async with db.uow() as uow:
            issued = await issue_due_certificates(ctx, uow, limit=100)
            await uow.commit()
        total += issued
        if issued < 100:
            return total
