"""Binding: a contractor's policy and one coverage per assignment.

- `on_application_completed` (the contractor opted in): the contractor's policy, created on the
  first opt-in and reused afterwards (one policy per contractor and company), and coverage for
  every quoted assignment.
- `on_assignment_enrolled` (repeat coverage, decided by enrollment): coverage for one more
  assignment on the contractor's policy, without a new opt-in. If the opt-in itself has not
  reached us yet (the two travel on different subjects), the policy is created from the
  enrollment and completed with the insured's details when the application arrives.
- `on_contractor_updated` (the company corrected the contractor): the policy's insured takes it;
  before the policy exists, it is kept and taken by the policy when it is created.

Idempotent by business key: an assignment has at most one coverage, ever, so a repeated or
overlapping message binds nothing twice. Coverage uses the assignment's latest known dates (an
update may have overtaken the quote), never starts before the day it is bound, and an
assignment that was cancelled or has already ended is not bound. Certificates are issued in
the same transaction when everything they print is known. An assignment covered by the
contractor's own insurance (an approved uploaded certificate, `uploads`) is not bound; an
application whose assignments are all covered so creates no policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any, Protocol

import msgspec
from ten99_contracts import AssignmentQuote, Envelope, QuotedCoverage
from ten99_contracts.contractor_v1 import ContractorUpdatedV1
from ten99_contracts.enrollment_v1 import ApplicationCompletedV1, AssignmentEnrolledV1
from ten99_contracts.policy_v1 import CoverageActivatedV1, CoverageBoundV1, PolicyActivatedV1
from ten99kit import UnitOfWork, get_logger, new_id

from ..adapters import store
from ..adapters import uploads as upload_store
from ..domain.certificate import new_certificate_number, new_policy_number
from ..domain.coverage import ACTIVE, Refused, span_to_bind, status_on
from .certificates import issue_certificates
from .context import PolicyContext
from .messages import terms

__all__ = [
    "bind_priced_quote",
    "bind_quotes",
    "on_application_completed",
    "on_assignment_enrolled",
    "on_contractor_updated",
    "priced_quote_of",
]

log = get_logger(__name__)

_INSURED = (
    "insured_first_name",
    "insured_last_name",
    "insured_email",
    "insured_phone",
    "insured_address",
    "insured_as_of",
)


def _insured(data: ApplicationCompletedV1 | ContractorUpdatedV1, as_of: datetime) -> dict[str, Any]:
    """The policy's insured columns, as a message describes the contractor at ``as_of``."""
    return {
        "insured_first_name": data.first_name,
        "insured_last_name": data.last_name,
        "insured_email": data.email,
        "insured_phone": data.phone,
        "insured_address": msgspec.to_builtins(data.address) if data.address is not None else None,
        "insured_as_of": as_of,
    }


async def on_application_completed(ctx: PolicyContext, uow: UnitOfWork, envelope: Envelope[ApplicationCompletedV1]) -> None:
    """Coverage for every quoted assignment (as always) and, when the application was completed
    on a quote that names no assignment, that quote bound as priced."""
    data = envelope.data
    insured = _insured(data, envelope.occurred_at)
    facts = await _lock_facts(uow, envelope.tenant_id, data.contractor_id, data.assignments)
    to_bind = await _without_own_insurance(uow, envelope.tenant_id, data.assignments)
    priced = priced_quote_of(data)
    # a quote that ended before it could be bound names nothing on the policy
    named = priced is not None and not isinstance(
        span_to_bind(priced.effective_date, priced.end_date, uow.clock.today()), Refused
    )
    quoted: list[Quoted] = [*to_bind, *([priced] if priced is not None and named else [])]
    if not quoted and data.assignments:  # every assignment is covered by the contractor's own insurance
        return
    policy = await _policy(uow, envelope.tenant_id, data.contractor_id, data.session_id, quoted, data.address.region, insured)
    await bind_quotes(ctx, uow, envelope.tenant_id, policy, data.session_id, to_bind, facts)
    if priced is not None:
        await bind_priced_quote(uow, envelope.tenant_id, policy, data.session_id, priced)


def priced_quote_of(data: ApplicationCompletedV1) -> QuotedCoverage | None:
    """The quote the application was completed on, as priced, when it names no assignment (an
    assignment's quote travels among ``assignments`` too, and is bound as its coverage)."""
    quote = data.quote
    if quote is None or quote.assignment_id is not None:
        return None
    if any(q.quote_id == quote.quote_id for q in data.assignments):
        return None
    return quote


async def bind_priced_quote(
    uow: UnitOfWork, tenant_id: str, policy: dict[str, Any], session_id: str, quote: QuotedCoverage
) -> bool:
    """Bind a quote completed without an assignment on the contractor's policy, with its coverage
    types, dates and rates: once per quote (a repeated message binds nothing), never retroactive
    (a start in the past starts today), not at all once its end has passed. A policy that existed
    before this quote (active, or run out) is announced active again (``PolicyActivatedV1``, next
    version); one created for it was announced when created. False if nothing was bound."""
    now, today = uow.clock.now(), uow.clock.today()
    span = span_to_bind(quote.effective_date, quote.end_date, today)
    if isinstance(span, Refused):
        log.warning("quote.not_bound", quote_id=quote.quote_id, reason=span.reason)
        return False
    values = {
        "tenant_id": tenant_id,
        "quote_id": quote.quote_id,
        "policy_id": policy["id"],
        "contractor_id": policy["contractor_id"],
        "job_id": quote.job_id,
        "session_id": session_id,
        "coverage_types": sorted(quote.coverage_types),
        "effective_date": span.effective_date,
        "end_date": span.end_date,
        "net_rate": quote.net_rate,
        "gl_net_rate": quote.gl_net_rate,
        "wc_net_rate": quote.wc_net_rate,
        "bound_at": now,
    }
    if not await store.insert_quote_binding(uow.session, uow.db.dialect, values):
        log.info("quote.already_bound", quote_id=quote.quote_id)
        return False
    created_by_it = policy["version"] == 1 and policy["quote_id"] == quote.quote_id  # announced when created
    if not created_by_it:
        # a quote bound on a policy that existed (active or run out): the policy is active with it,
        # announced again as 1099Policy announces every completed application (``policy.active``)
        policy.update(status=ACTIVE, version=policy["version"] + 1, updated_at=now)
        changes = {"status": ACTIVE, "version": policy["version"], "updated_at": now}
        await store.update_policy(uow.session, tenant_id, policy["id"], changes)
        _emit_activated(uow, policy)
    return True


async def on_assignment_enrolled(ctx: PolicyContext, uow: UnitOfWork, envelope: Envelope[AssignmentEnrolledV1]) -> None:
    data = envelope.data
    facts = await _lock_facts(uow, envelope.tenant_id, data.contractor_id, [data.quote])
    if not await _without_own_insurance(uow, envelope.tenant_id, [data.quote]):
        return
    policy = await _policy(
        uow, envelope.tenant_id, data.contractor_id, data.session_id, [data.quote], data.quote.home_state, None
    )
    await bind_quotes(ctx, uow, envelope.tenant_id, policy, data.session_id, [data.quote], facts)


async def on_contractor_updated(ctx: PolicyContext, uow: UnitOfWork, envelope: Envelope[ContractorUpdatedV1]) -> None:
    """The contractor's record changed after they opted in (the company corrected a name, a new
    address): the policy's insured takes it, so that every certificate drawn from now on (an
    extension's, a re-timing's) names them as they are now. Certificates already issued stay as
    they are. An update older than what the policy holds (the application completed later, or a
    newer update came first) changes nothing, so applying it again is harmless."""
    data = envelope.data
    session, tenant_id = uow.session, envelope.tenant_id
    insured = _insured(data, envelope.occurred_at)
    if data.address is None:  # no address now: keep the one the policy has
        del insured["insured_address"]
    # the company's row first, as binding locks it: a policy cannot be created in between
    await store.lock_company(session, uow.db.dialect, tenant_id, uow.clock.now())
    if await store.update_insured_if_newer(session, tenant_id, data.contractor_id, insured, uow.clock.now()):
        log.info("policy.insured_updated", contractor_id=data.contractor_id)
    elif await store.policy_for_contractor(session, tenant_id, data.contractor_id) is None:
        # the opt-in has not reached us yet: the policy takes the correction when it is created
        await store.keep_insured_correction(session, uow.db.dialect, tenant_id, data.contractor_id, insured)


class Quoted(Protocol):
    """What a policy takes from a quote it is created or widened by."""

    @property
    def quote_id(self) -> str: ...
    @property
    def coverage_types(self) -> list[str]: ...
    @property
    def effective_date(self) -> date: ...


@dataclass(frozen=True)
class Facts:
    """What binding knows, locked: the company's name and the local copies of the assignments."""

    company_name: str | None
    assignments: dict[str, store.AssignmentFacts]


async def _lock_facts(uow: UnitOfWork, tenant_id: str, contractor_id: str, quotes: list[AssignmentQuote]) -> Facts:
    """Lock (company, then assignments: the order every handler uses, see `store.lock_company`)
    and read what binding needs to know."""
    now = uow.clock.now()
    company_name = await store.lock_company(uow.session, uow.db.dialect, tenant_id, now)
    ids = [q.assignment_id for q in quotes]
    return Facts(company_name, await store.lock_assignments(uow.session, uow.db.dialect, tenant_id, contractor_id, ids, now))


async def _without_own_insurance(uow: UnitOfWork, tenant_id: str, quotes: list[AssignmentQuote]) -> list[AssignmentQuote]:
    """The quotes whose assignment is not covered by the contractor's own insurance (an approved
    uploaded certificate, `uploads`): those are not bound, so no premium is charged for them.
    Read after the assignments are locked, as an approval locks them too."""
    covered = await upload_store.covered_assignment_ids(uow.session, tenant_id, [q.assignment_id for q in quotes])
    if covered:
        log.info("coverage.not_bound_own_insurance", assignment_ids=sorted(covered))
    return [q for q in quotes if q.assignment_id not in covered]


async def _policy(
    uow: UnitOfWork,
    tenant_id: str,
    contractor_id: str,
    session_id: str,
    quotes: Sequence[Quoted],
    home_state: str,
    insured: dict[str, Any] | None,
) -> dict[str, Any]:
    """The contractor's policy, created (``PolicyActivatedV1``) on first sight, else brought up to
    date with the latest application: the insured's confirmed details and the coverage types."""
    session = uow.session
    now, today = uow.clock.now(), uow.clock.today()
    types = sorted({t for q in quotes for t in q.coverage_types})
    row = await store.policy_for_contractor(session, tenant_id, contractor_id, lock=True)
    if row is None:
        corrected = await store.take_insured_correction(session, tenant_id, contractor_id)
        if corrected is not None and (insured is None or corrected["insured_as_of"] > insured["insured_as_of"]):
            insured = {**(insured or {}), **corrected}
        starts = [max(q.effective_date, today) for q in quotes]
        values: dict[str, Any] = {
            "id": new_id("pl"),
            "tenant_id": tenant_id,
            "contractor_id": contractor_id,
            "policy_number": new_policy_number(now.year),
            "status": ACTIVE,
            "session_id": session_id,
            "quote_id": quotes[0].quote_id if quotes else None,
            "coverage_types": types,
            "home_state": home_state,
            "effective_date": min(starts) if starts else today,
            **dict.fromkeys(_INSURED, None),
            **(insured or {}),
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        if await store.insert_policy(session, uow.db.dialect, values):
            _emit_activated(uow, values)
            return values
        # another transaction created it meanwhile: use theirs
        row = await store.policy_for_contractor(session, tenant_id, contractor_id, lock=True)
        if row is None:  # the random policy number collided: the consumer retries with a new one
            raise RuntimeError(f"policy number {values['policy_number']} is taken")
    policy = dict(row._mapping)
    changes: dict[str, Any] = {}
    if insured is not None and (policy["insured_as_of"] is None or insured["insured_as_of"] >= policy["insured_as_of"]):
        changes.update(insured, session_id=session_id, home_state=home_state)
    elif insured is not None and policy["insured_address"] is None and insured.get("insured_address") is not None:
        changes["insured_address"] = insured["insured_address"]  # a newer correction gave none
    merged = sorted(set(policy["coverage_types"]) | set(types))
    if merged != sorted(policy["coverage_types"]):
        changes["coverage_types"] = merged
    if changes:
        changes["updated_at"] = now
        await store.update_policy(session, tenant_id, policy["id"], changes)
        policy.update(changes)
    return policy


def _emit_activated(uow: UnitOfWork, policy: dict[str, Any]) -> None:
    uow.emit(
        PolicyActivatedV1(
            policy_id=policy["id"],
            policy_number=policy["policy_number"],
            contractor_id=policy["contractor_id"],
            session_id=policy["session_id"],
            coverage_types=list(policy["coverage_types"]),
            home_state=policy["home_state"] or "",
            effective_date=policy["effective_date"],
        ),
        tenant_id=policy["tenant_id"],
        aggregate_id=policy["id"],
        aggregate_version=policy["version"],
    )


async def bind_quotes(
    ctx: PolicyContext,
    uow: UnitOfWork,
    tenant_id: str,
    policy: dict[str, Any],
    session_id: str,
    quotes: list[AssignmentQuote],
    facts: Facts,
) -> list[str]:
    """Bind coverage for each quoted assignment that has none yet, and certify it at once when
    everything its certificate prints is known (else it stays due: see `certificates`).
    Returns the coverage ids bound."""
    session = uow.session
    now, today = uow.clock.now(), uow.clock.today()
    unique = list({q.assignment_id: q for q in quotes}.values())
    rows: list[dict[str, Any]] = []
    numbers: dict[str, tuple[str, str]] = {}  # coverage id -> certificate id and number, if it can be certified now
    for q in unique:
        fact = facts.assignments.get(q.assignment_id)
        if fact is not None and fact.cancelled:
            log.info("coverage.not_bound_cancelled", assignment_id=q.assignment_id)
            continue
        effective = (fact.effective_date if fact else None) or q.effective_date
        end = (fact.end_date if fact else None) or q.end_date
        span = span_to_bind(effective, end, today)
        if isinstance(span, Refused):
            log.warning("coverage.not_bound", assignment_id=q.assignment_id, reason=span.reason)
            continue
        status = status_on(span.effective_date, span.end_date, today)
        row = _row(tenant_id, policy, session_id, q, span.effective_date, span.end_date, status, now)
        if fact is not None and fact.has_snapshot and facts.company_name is not None:
            numbers[row["id"]] = (new_id("coi"), new_certificate_number(now.year))
            row.update(certificate_id=numbers[row["id"]][0], certificate_due=False)
        rows.append(row)
    # one coverage per assignment, ever: an assignment that has one already keeps it
    inserted = await store.insert_coverages(session, uow.db.dialect, rows)
    bound = [r for r in rows if r["id"] in inserted]
    if len(bound) < len(rows):
        log.info("coverage.already_bound", assignment_ids=[r["assignment_id"] for r in rows if r["id"] not in inserted])
    for r in bound:
        coverage = SimpleNamespace(**r)
        if r["status"] == ACTIVE:  # starts today: bound and active at once, announced as both
            uow.emit(CoverageBoundV1(terms=terms(coverage)), tenant_id=tenant_id, aggregate_id=r["id"], aggregate_version=1)
            uow.emit(CoverageActivatedV1(terms=terms(coverage)), tenant_id=tenant_id, aggregate_id=r["id"], aggregate_version=2)
        else:
            uow.emit(CoverageBoundV1(terms=terms(coverage)), tenant_id=tenant_id, aggregate_id=r["id"], aggregate_version=1)
    if bound and policy["status"] != ACTIVE:  # coverage again on a policy that had run out
        policy.update(status=ACTIVE, version=policy["version"] + 1, updated_at=now)
        await store.update_policy(
            session, tenant_id, policy["id"], {"status": ACTIVE, "version": policy["version"], "updated_at": now}
        )
        _emit_activated(uow, policy)
    # certificates in the same transaction, from what is in hand (no second look at the rows)
    holder = SimpleNamespace(**policy)
    await issue_certificates(
        ctx,
        uow,
        [
            (
                store.CertificateInputs(
                    coverage=SimpleNamespace(**r),
                    policy=holder,
                    assignment=facts.assignments[r["assignment_id"]].row,
                    company_name=facts.company_name,
                    previous_number=None,
                ),
                *numbers[r["id"]],
            )
            for r in bound
            if r["id"] in numbers
        ],
    )
    return [r["id"] for r in bound]


def _row(
    tenant_id: str,
    policy: dict[str, Any],
    session_id: str,
    q: AssignmentQuote,
    effective: date,
    end: date,
    status: str,
    now: datetime,
) -> dict[str, Any]:
    active = status == ACTIVE
    return {
        "id": new_id("cv"),
        "tenant_id": tenant_id,
        "policy_id": policy["id"],
        "assignment_id": q.assignment_id,
        "contractor_id": policy["contractor_id"],
        "quote_id": q.quote_id,
        "session_id": session_id,
        "category_code": q.category_code,
        "coverage_types": list(q.coverage_types),
        "home_state": q.home_state,
        "work_state": q.work_state,
        "effective_date": effective,
        "end_date": end,
        "status": status,
        "net_rate": q.net_rate,
        "gl_net_rate": q.gl_net_rate,
        "wc_net_rate": q.wc_net_rate,
        "version": 2 if active else 1,
        "certificate_due": True,
        "certificate_reason": "bound",
        "certificate_notify": True,
        "certificate_id": None,
        "cancel_reason": None,
        "bound_at": now,
        "activated_at": now if active else None,
        "expired_at": None,
        "cancelled_at": None,
        "updated_at": now,
    }
