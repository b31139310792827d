"""Quotes as API objects (1099Policy's ``/quotes``): create, update, retrieve, list.

A quote prices a contractor for a job: coverage types, dates, and the rates of the seeded table
(GL by the contractor's home state, WC by the job's work state); ``net_rate = gl_net_rate +
wc_net_rate``. Enrollment knows jobs from the contractor service's ``JobUpsertedV1`` (`jobs`), so
no assignment is needed; a job only ever seen in an assignment's snapshot is known from that. A
quote for a (contractor, job) that has a live assignment is tied to it.

Dates (1099Policy's): ``effective_date`` defaults to tomorrow and may not be in the past
(``effective_date_invalid``); ``end_date`` defaults to 30 days later, may not be before the start
or more than a year after it (``end_date_invalid``); an end on the start day moves to the next day.
Workers' comp asked for work in a monopolistic state (ND, OH, WA, WY) makes the quote
``eligible: false`` with the reason: it cannot be bound (quote general liability alone instead).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import msgspec
from msgspec import UNSET, UnsetType
from sqlalchemy import select, update
from ten99kit import ApiError, Database, UnitOfWork
from ten99kit.clock import epoch
from ten99kit.db import Row
from ten99kit.pagination import ListEnvelope, PageRequest, fetch_page

from ..adapters import store
from ..adapters.db import application_sessions, assignments
from ..adapters.db import quotes as quotes_table
from ..domain.eligibility import NotCoverable, PricedCoverage, check_new_dates, price_assignment
from ..domain.rates import COVERAGE_TYPES, GENERAL, WORKERS_COMP, net_rate
from ..domain.repeat_coverage import matching_terms
from ..domain.states import MONOPOLISTIC_WC_STATES, US_STATES
from .jobs import find_job
from .quoting import home_state_of, insert_quote, priced_columns

__all__ = [
    "Quote",
    "QuoteChange",
    "QuoteRequest",
    "create_quote",
    "epoch",
    "get_quote",
    "list_quotes",
    "quote_view",
    "update_quote",
]


_NOT_OFFERED = {"professional", "media", "cyber"}


class QuoteRequest(msgspec.Struct, kw_only=True):
    contractor: str | None = None
    job: str | None = None
    #: a list; a single string is accepted too (the form before 2023)
    coverage_type: list[str] | str | None = None
    effective_date: int | None = None  # epoch seconds
    end_date: int | None = None


class QuoteChange(QuoteRequest, kw_only=True):
    """A change to an unused quote: coverage types and dates (the contractor and job cannot change)."""


def _day(value: int, field: str) -> date:
    try:
        return datetime.fromtimestamp(value, UTC).date()
    except (OverflowError, OSError, ValueError):
        raise ApiError({field: "Not a valid epoch time."}, error_code="invalid_input", status_code=400) from None


class GeneralLiabilityRates(msgspec.Struct, kw_only=True):
    net_rate: int
    stamping_fee: int | None = None
    risk_purchasing_group_fee: int | None = None


class WorkersCompRates(msgspec.Struct, kw_only=True):
    net_rate: int


class QuoteJson(msgspec.Struct, kw_only=True):
    """The rates per coverage type quoted (a type not quoted is absent)."""

    gl: GeneralLiabilityRates | UnsetType = UNSET
    wc: WorkersCompRates | UnsetType = UNSET


class Quote(msgspec.Struct, kw_only=True):
    """A quote in 1099Policy's shape (epoch seconds)."""

    id: str
    object: Literal["quote"] = "quote"
    contractor: str
    job: str
    assignment: str | None
    session: str | None
    coverage_type: list[str]
    effective_date: int
    end_date: int
    eligible: bool
    eligibility_message: str | None
    net_rate: int
    gl_net_rate: int
    wc_net_rate: int
    quote_json: QuoteJson
    category_code: str
    home_state: str
    work_state: str
    rate_table_version: str
    created: int
    updated: int


def quote_view(quote: Row) -> Quote:
    types = list(quote["coverage_types"])
    return Quote(
        id=quote["id"],
        contractor=quote["contractor_id"],
        job=quote["job_id"],
        assignment=quote["assignment_id"],
        session=quote["session_id"],
        coverage_type=types,
        effective_date=epoch(quote["effective_date"]),
        end_date=epoch(quote["end_date"]),
        eligible=quote["eligible"],
        eligibility_message=quote["eligibility_message"],
        net_rate=quote["net_rate"],
        gl_net_rate=quote["gl_net_rate"],
        wc_net_rate=quote["wc_net_rate"],
        quote_json=QuoteJson(
            gl=GeneralLiabilityRates(net_rate=quote["gl_net_rate"]) if "general" in types else UNSET,
            wc=WorkersCompRates(net_rate=quote["wc_net_rate"]) if "workers-comp" in types else UNSET,
        ),
        category_code=quote["category_code"],
        home_state=quote["home_state"],
        work_state=quote["work_state"],
        rate_table_version=quote["rate_table_version"],
        created=int(quote["created_at"].timestamp()),
        updated=int(quote["updated_at"].timestamp()),
    )


def _coverage_types(value: list[str] | str | None, default: list[str]) -> list[str]:
    if value is None:
        return [kind for kind in COVERAGE_TYPES if kind in default] or list(COVERAGE_TYPES)
    given = [value] if isinstance(value, str) else list(value)
    if not given:
        raise ApiError({"coverage_type": "Give at least one coverage type."}, error_code="invalid_input", status_code=400)
    for kind in given:
        if kind in _NOT_OFFERED:
            raise ApiError({"coverage_type": f"{kind} coverage is not offered."}, error_code="invalid_input", status_code=400)
        if kind not in COVERAGE_TYPES:
            raise ApiError(
                {"coverage_type": f"Unknown coverage type {kind!r}; use general or workers-comp."},
                error_code="invalid_input",
                status_code=400,
            )
    return [kind for kind in COVERAGE_TYPES if kind in given]


@dataclass(frozen=True)
class _Job:
    """What pricing needs of a job."""

    job_id: str
    category_code: str
    work_state: str | None
    required_coverage: list[str]


async def _job(uow: UnitOfWork, tenant_id: str, job_id: str, contractor_id: str) -> tuple[_Job, Row | None]:
    """The job as the contractor service announced it (else as last seen in an assignment's
    snapshot), and the contractor's live assignment for it."""
    a = assignments.c
    rows = (
        (
            await uow.session.execute(
                select(assignments).where(a.tenant_id == tenant_id, a.job_id == job_id).order_by(a.observed_at.desc())
            )
        )
        .mappings()
        .all()
    )
    known = await find_job(uow.session, tenant_id, job_id)
    if known is not None:
        job = _Job(job_id, known["category_code"], known["work_state"], list(known["required_coverage"] or []))
    elif rows:
        seen = rows[0]
        job = _Job(job_id, seen["category_code"], seen["job_work_state"], list(seen["required_coverage"] or []))
    else:
        raise ApiError(f"No job {job_id}", error_code="invalid_job_id", status_code=400)
    mine = next((r for r in rows if r["contractor_id"] == contractor_id and r["status"] != "cancelled"), None)
    return job, mine


@dataclass(frozen=True)
class _Priced:
    coverage: PricedCoverage
    eligible: bool


def _not_offered_here(job: _Job, home_state: str | None, types: list[str], effective: date, end: date) -> _Priced | None:
    """Workers' comp asked for work in a monopolistic state: a quote that cannot be bound, with
    the general liability rate (if asked for) and the reason."""
    work_state = job.work_state or home_state
    if WORKERS_COMP not in types or work_state not in MONOPOLISTIC_WC_STATES:
        return None
    home = home_state if home_state in US_STATES else work_state
    gl = (net_rate(job.category_code, home, GENERAL) or 0) if GENERAL in types else 0
    reason = (
        f"Workers' compensation is not offered for work in {US_STATES[work_state]} ({work_state}), where only the "
        "state fund sells it. Quote general liability alone, or buy workers' compensation from the state fund."
    )
    coverage = PricedCoverage(
        coverage_types=list(types),
        home_state=home,
        work_state=work_state,
        effective_date=effective,
        end_date=end,
        gl_net_rate=gl,
        wc_net_rate=0,
        notes=[reason],
    )
    return _Priced(coverage, eligible=False)


async def _price(
    uow: UnitOfWork, tenant_id: str, contractor: Row, job: _Job, types: list[str], effective: date, end: date
) -> _Priced:
    today = uow.clock.today()
    problem = check_new_dates(effective, end, today)
    if problem is not None:
        raise ApiError(problem.message, error_code=problem.error_code, status_code=400)
    home_state = home_state_of(contractor["address"])
    blocked = _not_offered_here(job, home_state, types, effective, end)
    if blocked is not None:
        return blocked
    priced = price_assignment(
        category_code=job.category_code,
        requested_types=types,
        job_work_state=job.work_state,
        home_state=home_state,
        effective_date=effective,
        end_date=end,
        today=today,
    )
    if isinstance(priced, NotCoverable):
        raise ApiError(priced.reason, error_code="invalid_input", status_code=400)
    confirmed = await store.confirmed_terms(uow.session, tenant_id, contractor["contractor_id"])
    if matching_terms(job.category_code, priced, confirmed) is not None:
        raise ApiError(
            "Contractor already has a matching policy on file", error_code="contractor_has_matching_policy", status_code=400
        )
    return _Priced(priced, eligible=True)


def _dates(uow: UnitOfWork, effective_at: int | None, end_at: int | None) -> tuple[date, date]:
    """The quote's days: tomorrow and 30 days on by default; an end on the start day is the next day."""
    effective = _day(effective_at, "effective_date") if effective_at is not None else uow.clock.today() + timedelta(days=1)
    end = _day(end_at, "end_date") if end_at is not None else effective + timedelta(days=30)
    if end == effective:
        end = effective + timedelta(days=1)
    return effective, end


async def _contractor(uow: UnitOfWork, tenant_id: str, contractor_id: str | None) -> Row:
    if not contractor_id:
        raise ApiError("contractor is required", error_code="missing_contractor_id", status_code=400)
    row = await store.contractor(uow.session, tenant_id, contractor_id)
    if row is None:
        raise ApiError(f"No contractor {contractor_id}", error_code="invalid_contractor_id", status_code=400)
    if row["deleted_at"] is not None:  # `deletions`: no new quote, no change to an old one
        raise ApiError(f"The contractor {contractor_id} was deleted", error_code="invalid_contractor_id", status_code=400)
    return row


async def create_quote(db: Database, tenant_id: str, data: QuoteRequest) -> Quote:
    async with db.uow() as uow:
        contractor = await _contractor(uow, tenant_id, data.contractor)
        if not data.job:
            raise ApiError("job is required", error_code="invalid_job_id", status_code=400)
        job, assignment = await _job(uow, tenant_id, data.job, contractor["contractor_id"])
        default_types = list(assignment["coverage_types"]) if assignment else (job.required_coverage or list(COVERAGE_TYPES))
        types = _coverage_types(data.coverage_type, default_types)
        effective, end = _dates(uow, data.effective_date, data.end_date)
        priced = await _price(uow, tenant_id, contractor, job, types, effective, end)
        row = await insert_quote(
            uow,
            tenant_id=tenant_id,
            contractor_id=contractor["contractor_id"],
            job_id=job.job_id,
            assignment_id=assignment["assignment_id"] if assignment else None,
            session_id=None,
            source="api",
            category_code=job.category_code,
            priced=priced.coverage,
            accepted=False,
            eligible=priced.eligible,
        )
        await uow.commit()
    return quote_view(row)


async def _load(session: Any, tenant_id: str, quote_id: str, *, lock: bool = False) -> Row:
    q = select(quotes_table).where(quotes_table.c.tenant_id == tenant_id, quotes_table.c.id == quote_id)
    if lock:
        q = q.with_for_update()
    row = (await session.execute(q)).mappings().first()
    if row is None:
        raise ApiError(f"No quote {quote_id}", error_code="invalid_quote_id", status_code=404)
    return row


async def _has_open_session(uow: UnitOfWork, quote: Row) -> bool:
    """An application is open on the quote: it will bind the quote as it is now."""
    sc = application_sessions.c
    q = select(sc.id).where(sc.tenant_id == quote["tenant_id"], sc.quote_id == quote["id"], sc.status == "open").limit(1)
    return (await uow.session.execute(q)).first() is not None


async def get_quote(db: Database, tenant_id: str, quote_id: str) -> Quote:
    async with db.reads() as s:
        return quote_view(await _load(s, tenant_id, quote_id))


async def update_quote(db: Database, tenant_id: str, quote_id: str, data: QuoteChange) -> Quote:
    """Change coverage types or dates of an unused quote (re-priced). A quote that is part of an
    application (open or complete), or a change of contractor or job, needs a new quote instead."""
    async with db.uow() as uow:
        current = await _load(uow.session, tenant_id, quote_id, lock=True)
        if current["accepted"] or current["session_id"] or current["source"] != "api" or await _has_open_session(uow, current):
            raise ApiError(
                "This quote is part of an application; create a new quote",
                error_code="cant_update_create_new_quote",
                status_code=400,
            )
        if (data.contractor and data.contractor != current["contractor_id"]) or (data.job and data.job != current["job_id"]):
            raise ApiError(
                "A quote's contractor and job cannot change; create a new quote",
                error_code="cant_update_create_new_quote",
                status_code=400,
            )
        contractor = await _contractor(uow, tenant_id, current["contractor_id"])
        job, assignment = await _job(uow, tenant_id, current["job_id"], current["contractor_id"])
        types = (
            _coverage_types(data.coverage_type, list(current["coverage_types"]))
            if data.coverage_type is not None
            else list(current["coverage_types"])
        )
        effective = _day(data.effective_date, "effective_date") if data.effective_date is not None else current["effective_date"]
        end = _day(data.end_date, "end_date") if data.end_date is not None else current["end_date"]
        if end == effective:
            end = effective + timedelta(days=1)
        priced = await _price(uow, tenant_id, contractor, job, types, effective, end)
        values = {
            **priced_columns(priced.coverage),
            "eligible": priced.eligible,
            "assignment_id": assignment["assignment_id"] if assignment else None,
            "updated_at": uow.clock.now(),
        }
        await uow.session.execute(
            update(quotes_table).where(quotes_table.c.tenant_id == tenant_id, quotes_table.c.id == quote_id).values(values)
        )
        await uow.commit()
    return quote_view({**current, **values})


async def list_quotes(
    db: Database, tenant_id: str, page_request: PageRequest, *, contractor: str | None = None, job: str | None = None
) -> ListEnvelope[Quote]:
    q = quotes_table.c
    where = [q.tenant_id == tenant_id]
    if contractor:
        where.append(q.contractor_id == contractor)
    if job:
        where.append(q.job_id == job)
    async with db.reads() as s:
        page = await fetch_page(
            s, select(quotes_table), keys=(q.created_at, q.id), id_column=q.id, where=where, request=page_request
        )
    return ListEnvelope(url="/v1/quotes", has_more=page.has_more, data=[quote_view(r) for r in page.rows])
