"""Repeat coverage (reference §5): a later assignment of a contractor who already opted in is
covered without a new application only if the coverage types, the work state (when workers'
comp is part of it), the home state (when general liability is), the job category and the labor
platform (the company, i.e. the tenant) are all what the contractor was quoted and confirmed
before. Otherwise the contractor gets a new opt-in link.
"""

from __future__ import annotations

from dataclasses import dataclass

from .eligibility import PricedCoverage
from .rates import GENERAL, WORKERS_COMP

__all__ = ["ConfirmedTerms", "matching_terms"]


@dataclass(frozen=True)
class ConfirmedTerms:
    """What a contractor was quoted in an application they completed (or a repeat enrollment)."""

    session_id: str
    quote_id: str
    category_code: str
    coverage_types: tuple[str, ...]
    home_state: str
    work_state: str


def matching_terms(category_code: str, candidate: PricedCoverage, confirmed: list[ConfirmedTerms]) -> ConfirmedTerms | None:
    """The first confirmed terms (callers pass newest first) the candidate repeats, if any.
    Tenants never mix: callers only pass the same company's terms."""
    wanted = set(candidate.coverage_types)
    for terms in confirmed:
        if terms.category_code != category_code or set(terms.coverage_types) != wanted:
            continue
        if GENERAL in wanted and terms.home_state != candidate.home_state:
            continue
        if WORKERS_COMP in wanted and terms.work_state != candidate.work_state:
            continue
        return terms
    return None
