"""The seeded rate table: premium rates by job category, state and coverage type.

Rates are integer **cents per $100 of pay** (1099Policy's ``net_rate``): a rate of 65 means
$0.65 for every $100 the contractor earns, so ``premium_cents = pay_cents * net_rate / 10000``
(billing owns the rounding of premiums).

How a rate is found
-------------------
Each job category (the catalogue codes shared with the contractor service) has a base rate per
coverage type, and each state may have a factor, in percent, per coverage type (100 where none
is listed). The rate of a (category, state, coverage type) is::

    net_rate = (base_rate * state_factor_percent + 50) // 100      # rounded half up, integers only

General liability (``general``) is rated by the contractor's **home** state, workers' comp
(``workers-comp``) by the **work** state. An assignment's ``net_rate`` is ``gl_net_rate +
wc_net_rate`` for the coverage types it gets. Workers' comp has no rate in the monopolistic
states ND, OH, WA and WY (only the state fund sells it there), so such work is quoted with
general liability only.

Base rates (cents per $100 of pay)::

    category                 general  workers-comp
    jc_creator                    20        45
    jc_photographer               25        55
    jc_videographer               25        60
    jc_model                      18        40
    jc_brand_ambassador           22        50
    jc_event_staff                30        85
    jc_field_technician           40       120
    jc_delivery_driver            45       130
    jc_software_developer         12        20
    jc_designer                   12        22
    jc_writer                     10        18
    jc_consultant                 15        25
    jc_merchandiser               28        75
    jc_tutor                      15        30

State factors (percent; every other state is 100): see `STATE_FACTORS`. For example a delivery
driver working in California: WC = (130 * 130 + 50) // 100 = 169; living in Texas: GL =
(45 * 100 + 50) // 100 = 45; net rate 214, about 2.1% of pay.

``GET /v1/rates`` serves the resolved table (one row per category, state and coverage type
offered), the base rates and factors, and `RATE_TABLE_VERSION`; a quote keeps the rates it was
priced with, so a new table version never changes an existing quote.
"""

from __future__ import annotations

from dataclasses import dataclass

from .states import MONOPOLISTIC_WC_STATES, US_STATES

__all__ = [
    "BASE_RATES",
    "CATEGORY_CODES",
    "COVERAGE_TYPES",
    "GENERAL",
    "RATE_TABLE_VERSION",
    "STATE_FACTORS",
    "WORKERS_COMP",
    "RateRow",
    "coverage_offered",
    "net_rate",
    "rate_rows",
]

RATE_TABLE_VERSION = "2026-11"

GENERAL = "general"
WORKERS_COMP = "workers-comp"
#: the coverage types ten99 offers, in display order
COVERAGE_TYPES: tuple[str, ...] = (GENERAL, WORKERS_COMP)

#: category code -> {coverage type: base rate in cents per $100 of pay}
BASE_RATES: dict[str, dict[str, int]] = {
    "jc_creator": {GENERAL: 20, WORKERS_COMP: 45},
    "jc_photographer": {GENERAL: 25, WORKERS_COMP: 55},
    "jc_videographer": {GENERAL: 25, WORKERS_COMP: 60},
    "jc_model": {GENERAL: 18, WORKERS_COMP: 40},
    "jc_brand_ambassador": {GENERAL: 22, WORKERS_COMP: 50},
    "jc_event_staff": {GENERAL: 30, WORKERS_COMP: 85},
    "jc_field_technician": {GENERAL: 40, WORKERS_COMP: 120},
    "jc_delivery_driver": {GENERAL: 45, WORKERS_COMP: 130},
    "jc_software_developer": {GENERAL: 12, WORKERS_COMP: 20},
    "jc_designer": {GENERAL: 12, WORKERS_COMP: 22},
    "jc_writer": {GENERAL: 10, WORKERS_COMP: 18},
    "jc_consultant": {GENERAL: 15, WORKERS_COMP: 25},
    "jc_merchandiser": {GENERAL: 28, WORKERS_COMP: 75},
    "jc_tutor": {GENERAL: 15, WORKERS_COMP: 30},
}
CATEGORY_CODES: frozenset[str] = frozenset(BASE_RATES)

#: coverage type -> {state: factor in percent}; states not listed are 100
STATE_FACTORS: dict[str, dict[str, int]] = {
    GENERAL: {
        "CA": 115,
        "NY": 120,
        "NJ": 110,
        "FL": 115,
        "IL": 105,
        "MA": 105,
        "DC": 110,
        "LA": 110,
        "NV": 105,
        "ID": 90,
        "IA": 90,
        "ND": 90,
        "SD": 90,
        "VT": 90,
        "WY": 90,
    },
    WORKERS_COMP: {
        "CA": 130,
        "NY": 125,
        "NJ": 120,
        "IL": 115,
        "CT": 115,
        "MA": 110,
        "PA": 110,
        "AK": 120,
        "MT": 115,
        "FL": 105,
        "TX": 90,
        "AZ": 85,
        "IN": 80,
        "AR": 80,
        "UT": 85,
        "VA": 85,
        "NC": 90,
    },
}


@dataclass(frozen=True)
class RateRow:
    category_code: str
    state: str
    coverage_type: str
    net_rate: int


def coverage_offered(coverage_type: str, state: str) -> bool:
    """Whether ``coverage_type`` can be sold for work (WC) or a home (GL) in ``state``."""
    if state not in US_STATES or coverage_type not in COVERAGE_TYPES:
        return False
    return not (coverage_type == WORKERS_COMP and state in MONOPOLISTIC_WC_STATES)


def net_rate(category_code: str, state: str, coverage_type: str) -> int | None:
    """Cents per $100 of pay, or None when the combination is not offered (or unknown)."""
    base = BASE_RATES.get(category_code, {}).get(coverage_type)
    if base is None or not coverage_offered(coverage_type, state):
        return None
    factor = STATE_FACTORS[coverage_type].get(state, 100)
    return (base * factor + 50) // 100


def rate_rows(category_code: str | None = None, state: str | None = None, coverage_type: str | None = None) -> list[RateRow]:
    """The resolved table, optionally filtered: every (category, state, coverage type) offered."""
    rows: list[RateRow] = []
    for code in sorted(BASE_RATES):
        if category_code and code != category_code:
            continue
        for st in sorted(US_STATES):
            if state and st != state:
                continue
            for ct in COVERAGE_TYPES:
                if coverage_type and ct != coverage_type:
                    continue
                rate = net_rate(code, st, ct)
                if rate is not None:
                    rows.append(RateRow(code, st, ct, rate))
    return rows
