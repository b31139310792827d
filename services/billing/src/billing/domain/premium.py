"""How an assignment's wage becomes pay, and pay becomes premium and platform access fee.

All amounts are integer cents; no floating point is used anywhere.

Pay for a span of days (dates are inclusive UTC days, like coverage dates):

- ``flatfee`` and ``blended``: the wage *is* the total pay for the whole assignment, whatever its
  length. A later extension adds no pay.
- ``unit``: wage x units. The messages carry no unit count, so one unit is assumed: pay = wage.
  A later extension adds no pay.
- ``hourly`` (the only time-based wage type): wage x hours, where hours = 8 for every weekday
  (Monday to Friday) in the span. The first charge of an assignment is at least one working day
  (8 hours), so that a weekend-only job is still charged for a day. An extension adds pay for
  the added days only (8 hours per added weekday, no minimum).
- An unknown wage type is treated like ``flatfee`` (the wage is the total), never as zero.

A span that crosses a month is charged in full, in advance, on the invoice of the month in which
it became billable (the assignment is covered for the whole span from the day it is bound); it is
never split between months.

Premium and fee, each computed once per invoice line from that line's exact integer pay, with
one rounding of the final cents, half up:

- premium_cents = round_half_up(pay_cents x net_rate / 10000)   (net_rate: cents per $100 of pay)
- platform_fee_cents = round_half_up(pay_cents x fee_bps / 10000) (fee_bps: basis points of pay)

If the contractor pays the premium, the company's invoice line carries the platform fee only;
its premium column is 0 and the line says the premium is paid by the contractor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

__all__ = [
    "HOURS_PER_WORKDAY",
    "TIME_BASED_WAGE_TYPES",
    "WAGE_TYPES",
    "LineAmounts",
    "hours_in_span",
    "is_time_based",
    "line_amounts",
    "pay_for_span",
    "platform_fee_cents",
    "premium_cents",
    "round_half_up_div",
    "weekdays_in_span",
]

WAGE_TYPES = ("flatfee", "hourly", "unit", "blended")
TIME_BASED_WAGE_TYPES = frozenset({"hourly"})
HOURS_PER_WORKDAY = 8
#: units assumed for the ``unit`` wage type (no unit count travels with an assignment)
UNITS_ASSUMED = 1


def round_half_up_div(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded to the nearest integer, halves up (both >= 0)."""
    if numerator < 0 or denominator <= 0:
        raise ValueError("round_half_up_div takes a non-negative numerator and a positive denominator")
    return (2 * numerator + denominator) // (2 * denominator)


def weekdays_in_span(start: date, end: date) -> int:
    """Monday-to-Friday days from ``start`` to ``end``, both inclusive (0 if end < start)."""
    if end < start:
        return 0
    days = (end - start).days + 1
    full_weeks, rest = divmod(days, 7)
    count = full_weeks * 5
    first = start + timedelta(days=full_weeks * 7)
    for i in range(rest):
        if (first + timedelta(days=i)).weekday() < 5:
            count += 1
    return count


def hours_in_span(start: date, end: date, *, minimum_one_day: bool) -> int:
    days = weekdays_in_span(start, end)
    if minimum_one_day and end >= start:
        days = max(days, 1)
    return days * HOURS_PER_WORKDAY


def is_time_based(wage_type: str) -> bool:
    return wage_type in TIME_BASED_WAGE_TYPES


def pay_for_span(wage_cents: int, wage_type: str, start: date, end: date, *, first_charge: bool = True) -> int:
    """Pay in cents for the inclusive span. ``first_charge`` False prices an extension."""
    if wage_cents < 0:
        raise ValueError("wage cannot be negative")
    if is_time_based(wage_type):
        return wage_cents * hours_in_span(start, end, minimum_one_day=first_charge)
    if not first_charge:
        return 0  # the total was charged already
    if wage_type == "unit":
        return wage_cents * UNITS_ASSUMED
    return wage_cents  # flatfee, blended (and anything unknown): the wage is the total


def premium_cents(pay_cents: int, net_rate: int) -> int:
    """Premium for ``pay_cents`` at ``net_rate`` cents per $100 of pay."""
    return round_half_up_div(pay_cents * net_rate, 10_000)


def platform_fee_cents(pay_cents: int, fee_bps: int) -> int:
    """Platform access fee for ``pay_cents`` at ``fee_bps`` basis points."""
    return round_half_up_div(pay_cents * fee_bps, 10_000)


@dataclass(frozen=True)
class LineAmounts:
    pay_cents: int
    #: the premium for this pay, whoever pays it
    premium_full_cents: int
    #: the premium on the company's invoice (0 when the contractor pays it)
    premium_cents: int
    platform_fee_cents: int
    amount_cents: int


def line_amounts(pay_cents: int, net_rate: int, fee_bps: int, *, company_pays_premium: bool) -> LineAmounts:
    full = premium_cents(pay_cents, net_rate)
    charged = full if company_pays_premium else 0
    fee = platform_fee_cents(pay_cents, fee_bps)
    return LineAmounts(pay_cents, full, charged, fee, charged + fee)
