"""Usage-based invoices (1099Policy's ``POST /invoices``): the premium due on the gross pay a
platform reports for one contractor, job and pay cycle. No I/O.

- ``gross_pay``: integer cents, 100 to 100,000,000 (else ``invalid_input``).
- The pay cycle is two epoch seconds: ``paycycle_startdate`` must be a time from 1970 up to now
  (pay is reported for work begun; ``invalid_paycycle_startdate``), ``paycycle_enddate`` on or
  after it and at most 366 days later (``invalid_paycycle_enddate``). Its days are the UTC days
  of the two instants, both inclusive.
- ``premium_due = round_half_up(gross_pay x net_rate / 10,000)`` cents (``net_rate``: cents per
  $100 earned; 250000 at 173 -> 4325), at least 100 cents (1099Policy's minimum premium).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from ten99kit import InvalidInput
from ten99kit.errors import ApiError

from .premium import premium_cents

__all__ = [
    "MAX_CYCLE_DAYS",
    "MAX_GROSS_PAY",
    "MIN_GROSS_PAY",
    "MIN_PREMIUM",
    "PayCycle",
    "check_gross_pay",
    "pay_cycle",
    "usage_premium",
]

MIN_GROSS_PAY = 100
MAX_GROSS_PAY = 100_000_000
MIN_PREMIUM = 100
MAX_CYCLE_DAYS = 366


@dataclass(frozen=True)
class PayCycle:
    start: int
    end: int

    @property
    def first_day(self) -> date:
        return datetime.fromtimestamp(self.start, UTC).date()

    @property
    def last_day(self) -> date:
        return datetime.fromtimestamp(self.end, UTC).date()


def check_gross_pay(gross_pay: int) -> int:
    if not MIN_GROSS_PAY <= gross_pay <= MAX_GROSS_PAY:
        raise InvalidInput({"gross_pay": f"must be integer cents from {MIN_GROSS_PAY} to {MAX_GROSS_PAY:,}"})
    return gross_pay


def pay_cycle(start: int, end: int, now: datetime) -> PayCycle:
    """The cycle, checked (1099Policy's codes name the date at fault)."""
    if not 0 <= start <= int(now.timestamp()):
        raise ApiError("paycycle_startdate must be epoch seconds no later than now", error_code="invalid_paycycle_startdate")
    if end < start or end - start > MAX_CYCLE_DAYS * 86_400:
        raise ApiError(
            f"paycycle_enddate must be on or after paycycle_startdate and at most {MAX_CYCLE_DAYS} days later",
            error_code="invalid_paycycle_enddate",
        )
    return PayCycle(start, end)


def usage_premium(gross_pay: int, net_rate: int) -> int:
    """Premium due in cents: half up, at least ``MIN_PREMIUM``."""
    return max(MIN_PREMIUM, premium_cents(gross_pay, net_rate))
