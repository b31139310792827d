"""Pricing assignments and recording quotes, shared by the opt-in, repeat coverage and the API."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from ten99_contracts import AssignmentQuote, QuotedCoverage
from ten99kit import UnitOfWork, new_id
from ten99kit.db import Row

from ..adapters.db import quotes
from ..domain.eligibility import NotCoverable, PricedCoverage, price_assignment
from ..domain.rates import RATE_TABLE_VERSION

__all__ = [
    "accepted_quote",
    "assignment_quote",
    "home_state_of",
    "insert_quote",
    "price_row",
    "priced_columns",
    "quote_row",
    "quoted_coverage",
]


def home_state_of(address: Mapping[str, Any] | None) -> str | None:
    """The home state from a mailing address; None outside the U.S. (or when unknown)."""
    if not address:
        return None
    if (address.get("country") or "US").upper() != "US":
        return None
    region = address.get("region")
    return str(region).upper() if region else None


def price_row(assignment: Row, home_state: str | None, today: date) -> PricedCoverage | NotCoverable:
    """Price a stored assignment with its latest known dates."""
    return price_assignment(
        category_code=assignment["category_code"],
        requested_types=list(assignment["coverage_types"] or []),
        job_work_state=assignment["job_work_state"],
        home_state=home_state,
        effective_date=assignment["effective_date"],
        end_date=assignment["end_date"],
        today=today,
    )


def priced_columns(priced: PricedCoverage) -> dict[str, Any]:
    """A quote's columns that its pricing sets."""
    return {
        "coverage_types": list(priced.coverage_types),
        "home_state": priced.home_state,
        "work_state": priced.work_state,
        "effective_date": priced.effective_date,
        "end_date": priced.end_date,
        "eligibility_message": " ".join(priced.notes) or "Contractor is eligible for coverage.",
        "net_rate": priced.net_rate,
        "gl_net_rate": priced.gl_net_rate,
        "wc_net_rate": priced.wc_net_rate,
        "rate_table_version": RATE_TABLE_VERSION,
    }


def quote_row(
    now: datetime,
    *,
    tenant_id: str,
    contractor_id: str,
    job_id: str,
    assignment_id: str | None,
    session_id: str | None,
    source: str,
    category_code: str,
    priced: PricedCoverage,
    accepted: bool,
    eligible: bool = True,
) -> Row:
    """A new quote, as written to ``quotes``; an ineligible one (``eligible`` false) says why in
    its eligibility message and cannot be bound."""
    return {
        "id": new_id("qt"),
        "tenant_id": tenant_id,
        "contractor_id": contractor_id,
        "job_id": job_id,
        "assignment_id": assignment_id,
        "session_id": session_id,
        "source": source,
        "category_code": category_code,
        **priced_columns(priced),
        "eligible": eligible,
        "accepted": accepted,
        "created_at": now,
        "updated_at": now,
    }


def accepted_quote(
    now: datetime, assignment: Row, priced: PricedCoverage, *, contractor_id: str, session_id: str, source: str
) -> Row:
    """The quote a contractor accepts for a stored assignment: in an application they complete,
    or (``repeat``) as a repeat of the terms they accepted in one."""
    return quote_row(
        now,
        tenant_id=assignment["tenant_id"],
        contractor_id=contractor_id,
        job_id=assignment["job_id"],
        assignment_id=assignment["assignment_id"],
        session_id=session_id,
        source=source,
        category_code=assignment["category_code"],
        priced=priced,
        accepted=True,
    )


async def insert_quote(uow: UnitOfWork, **fields: Any) -> Row:
    row = quote_row(uow.clock.now(), **fields)
    await uow.session.execute(quotes.insert().values(row))
    return row


def assignment_quote(quote: Row) -> AssignmentQuote:
    return AssignmentQuote(
        assignment_id=quote["assignment_id"],
        quote_id=quote["id"],
        job_id=quote["job_id"],
        category_code=quote["category_code"],
        coverage_types=list(quote["coverage_types"]),
        home_state=quote["home_state"],
        work_state=quote["work_state"],
        effective_date=quote["effective_date"],
        end_date=quote["end_date"],
        net_rate=quote["net_rate"],
        gl_net_rate=quote["gl_net_rate"],
        wc_net_rate=quote["wc_net_rate"],
        eligibility_message=quote["eligibility_message"],
    )


def quoted_coverage(quote: Row) -> QuotedCoverage:
    """A quote bound as priced, for ``ApplicationCompletedV1.quote``."""
    return QuotedCoverage(
        quote_id=quote["id"],
        job_id=quote["job_id"],
        assignment_id=quote["assignment_id"],
        category_code=quote["category_code"],
        coverage_types=list(quote["coverage_types"]),
        home_state=quote["home_state"],
        work_state=quote["work_state"],
        effective_date=quote["effective_date"],
        end_date=quote["end_date"],
        net_rate=quote["net_rate"],
        gl_net_rate=quote["gl_net_rate"],
        wc_net_rate=quote["wc_net_rate"],
    )
