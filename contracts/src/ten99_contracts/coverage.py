"""Which coverage types a state gets: the one rule every context applies (issue 15: a WA
contractor's profile listed workers' comp, which the opt-in form then did not offer).

Workers' compensation is sold only by the state fund in the monopolistic states (ND, OH, WA, WY),
so work there gets general liability only. The vocabulary is the messages' (``coverage_types``).
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["COVERAGE_TYPES", "GENERAL", "MONOPOLISTIC_WC_STATES", "WORKERS_COMP", "coverage_offered", "offers"]

GENERAL = "general"
WORKERS_COMP = "workers-comp"
COVERAGE_TYPES: tuple[str, ...] = (GENERAL, WORKERS_COMP)
MONOPOLISTIC_WC_STATES: frozenset[str] = frozenset({"ND", "OH", "WA", "WY"})


def offers(work_state: str | None, coverage_type: str) -> bool:
    """Whether work in ``work_state`` can get ``coverage_type`` (None: the state is not known yet)."""
    return not (coverage_type == WORKERS_COMP and (work_state or "").upper() in MONOPOLISTIC_WC_STATES)


def coverage_offered(requested: Iterable[str], work_state: str | None) -> list[str]:
    """Of the ``requested`` types, those work in ``work_state`` gets, in their order."""
    return [t for t in requested if offers(work_state, t)]
