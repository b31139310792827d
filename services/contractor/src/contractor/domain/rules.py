"""Assignment rules (1099Policy's, as ARCHITECTURE.md fixes them): inclusive UTC days, start today
or later, end on or after the start and at most one year after it; cancel only before the start;
extend only later and within the year; the coverage an assignment asks for; pay too high to be
meant (a Wage column in cents read as dollars)."""

from __future__ import annotations

from datetime import date, timedelta

from ten99kit import ApiError

from .values import DEFAULT_COVERAGE

__all__ = [
    "check_cancellable",
    "check_extension",
    "check_new_dates",
    "coverage_status",
    "coverage_types_for",
    "default_dates",
    "implausible_wage",
    "latest_end",
]

DEFAULT_LENGTH = timedelta(days=30)


def latest_end(effective: date) -> date:
    """One year after the start (28 February for a 29 February start)."""
    try:
        return effective.replace(year=effective.year + 1)
    except ValueError:
        return effective.replace(year=effective.year + 1, day=28)


def default_dates(today: date, effective: date | None, end: date | None) -> tuple[date, date]:
    """1099Policy's defaults: start tomorrow, end 30 days after the start."""
    start = effective or today + timedelta(days=1)
    return start, end or start + DEFAULT_LENGTH


def end_date_problem(effective: date, end: date) -> str | None:
    if end < effective:
        return "end date is before the start date"
    if end > latest_end(effective):
        return "end date is more than one year after the start date"
    return None


def check_new_dates(effective: date, end: date, today: date) -> None:
    if effective < today:
        raise ApiError(
            f"effective date {effective.isoformat()} is in the past: coverage cannot start before today ({today.isoformat()})",
            error_code="effective_date_invalid",
        )
    problem = end_date_problem(effective, end)
    if problem:
        raise ApiError(problem, error_code="end_date_invalid")


def check_cancellable(effective: date, today: date) -> None:
    if today >= effective:
        raise ApiError("an assignment can only be cancelled before its start date", error_code="invalid_input", status_code=400)


def check_extension(effective: date, current_end: date, new_end: date, today: date) -> None:
    if today > current_end:
        raise ApiError("the assignment has expired and cannot be extended", error_code="invalid_input")
    if new_end < current_end:
        raise ApiError("an extension cannot shorten the assignment", error_code="end_date_invalid")
    if new_end > latest_end(effective):
        raise ApiError("end date is more than one year after the start date", error_code="end_date_invalid")


def coverage_types_for(required_coverage: list[str] | None) -> list[str]:
    """The entity's required coverage if it sets one, else general liability and workers' comp."""
    return list(required_coverage) if required_coverage else list(DEFAULT_COVERAGE)


def coverage_status(*, cancelled: bool, bound: bool, effective: date, end: date, today: date) -> str:
    """``not_bound`` until the policy service bound it, then scheduled/active/expired by the clock."""
    if cancelled:
        return "cancelled"
    if not bound:
        return "not_bound"
    if today < effective:
        return "scheduled"
    if today <= end:
        return "active"
    return "expired"


#: The most pay that looks meant, per wage type (cents): above it, a row is imported only once the
#: user confirms it (issue 15: "4500" meant $45.00 an hour and became $4,500 an hour). Unit and
#: blended pay have no such bound.
PLAUSIBLE_MAX_CENTS = {"hourly": 100_000, "flatfee": 100_000_000}


def implausible_wage(wage_cents: int, wage_type: str) -> str | None:
    """Why ``wage_cents`` of ``wage_type`` pay looks like a mistake, or None if it looks meant."""
    most = PLAUSIBLE_MAX_CENTS.get(wage_type)
    if most is None or wage_cents <= most:
        return None
    what = "an hourly rate" if wage_type == "hourly" else "a flat fee"
    return (
        f"{what} of {_dollars(wage_cents)} is above {_dollars(most, with_cents=False)}: wages are read as dollars "
        f"(2500.00 is $2,500.00); if the column holds cents, fix the file, or confirm the row as written"
    )


def _dollars(amount_cents: int, *, with_cents: bool = True) -> str:
    whole, part = divmod(amount_cents, 100)
    return f"${whole:,}.{part:02d}" if with_cents else f"${whole:,}"
