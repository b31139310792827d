"""The coverage lifecycle rules (no I/O)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from policy.domain.coverage import (
    ACTIVE,
    CANCELLED,
    EXPIRED,
    SCHEDULED,
    Activated,
    Cancelled,
    Coverage,
    Extended,
    Refused,
    Retimed,
    Span,
    latest_end,
    span_to_bind,
    status_on,
)

TODAY = date(2026, 11, 2)


def coverage(start: date, end: date, status: str = SCHEDULED) -> Coverage:
    return Coverage(
        id="cv_1",
        tenant_id="co_1",
        policy_id="pl_1",
        assignment_id="an_1",
        contractor_id="cn_1",
        coverage_types=["general"],
        effective_date=start,
        end_date=end,
        status=status,
        net_rate=65,
    )


def d(n: int) -> date:
    return TODAY + timedelta(days=n)


@pytest.mark.parametrize(
    ("start", "end", "status"),
    [(d(1), d(5), SCHEDULED), (d(0), d(5), ACTIVE), (d(-3), d(0), ACTIVE), (d(-3), d(-1), EXPIRED)],
)
def test_status_follows_the_calendar_with_inclusive_days(start: date, end: date, status: str) -> None:
    assert status_on(start, end, TODAY) == status


def test_one_year_later_and_the_leap_day() -> None:
    assert latest_end(date(2026, 3, 1)) == date(2027, 3, 1)
    assert latest_end(date(2028, 2, 29)) == date(2029, 2, 28)


def test_binding_is_never_retroactive_and_refuses_ended_or_overlong_spans() -> None:
    assert span_to_bind(d(3), d(10), TODAY) == Span(d(3), d(10))
    assert span_to_bind(d(-2), d(10), TODAY) == Span(TODAY, d(10))  # opted in after the start: covered from today
    assert isinstance(span_to_bind(d(-10), d(-1), TODAY), Refused)
    assert isinstance(span_to_bind(d(1), latest_end(d(1)) + timedelta(days=1), TODAY), Refused)
    assert span_to_bind(d(1), latest_end(d(1)), TODAY) == Span(d(1), latest_end(d(1)))


def test_a_scheduled_coverage_moves_with_its_assignment() -> None:
    c = coverage(d(5), d(30))
    event = c.retime(d(7), d(40), TODAY)
    assert event == Retimed(d(5), d(30), activated=False)
    assert (c.effective_date, c.end_date, c.status, c.version) == (d(7), d(40), SCHEDULED, 2)
    assert c.retime(d(7), d(40), TODAY) is None  # same dates: nothing happens
    assert c.version == 2


def test_a_retime_to_today_activates_and_counts_two_changes() -> None:
    c = coverage(d(5), d(30))
    event = c.retime(TODAY, d(30), TODAY)
    assert isinstance(event, Retimed) and event.activated
    assert c.status == ACTIVE and c.version == 3
    assert [type(e) for e in c.events] == [Retimed, Activated]


def test_a_started_coverage_does_not_follow_new_dates() -> None:
    c = coverage(d(-1), d(30), ACTIVE)
    assert isinstance(c.retime(d(2), d(40), TODAY), Refused)
    assert (c.effective_date, c.end_date, c.version) == (d(-1), d(30), 1)


def test_a_retime_into_an_invalid_span_is_refused() -> None:
    c = coverage(d(5), d(30))
    assert isinstance(c.retime(d(5), d(5) + timedelta(days=400), TODAY), Refused)
    assert isinstance(c.retime(d(-5), d(-2), TODAY), Refused)
    assert c.version == 1


def test_an_extension_only_lengthens_within_a_year_of_the_start() -> None:
    c = coverage(d(1), d(30))
    assert c.extend(d(30), TODAY) is None and c.extend(d(20), TODAY) is None
    assert isinstance(c.extend(latest_end(d(1)) + timedelta(days=1), TODAY), Refused)
    assert c.extend(d(60), TODAY) == Extended(d(30), reactivated=False)
    assert (c.end_date, c.version, c.status) == (d(60), 2, SCHEDULED)


def test_an_extension_seen_after_the_expiry_brings_the_coverage_back() -> None:
    c = coverage(d(-30), d(-1), EXPIRED)
    assert c.extend(d(10), TODAY) == Extended(d(-1), reactivated=True)
    assert c.status == ACTIVE
    late = coverage(d(-30), d(-5), EXPIRED)
    assert isinstance(late.extend(d(-2), TODAY), Refused)


def test_a_cancelled_coverage_cannot_be_extended() -> None:
    c = coverage(d(5), d(30), CANCELLED)
    assert isinstance(c.extend(d(60), TODAY), Refused)


def test_cancellation_only_before_the_start_judged_by_when_it_was_made() -> None:
    c = coverage(d(5), d(30))
    assert c.cancel("client_request", TODAY) == Cancelled("client_request", TODAY)
    assert (c.status, c.cancel_reason, c.version) == (CANCELLED, "client_request", 2)
    assert c.cancel("client_request", TODAY) is None  # once
    # made the day before the start but seen after the activation: still a cancellation before the start
    started = coverage(d(0), d(30), ACTIVE)
    assert isinstance(started.cancel("x", d(-1)), Cancelled)
    # made on the start date: too late, the coverage stays
    on_start = coverage(d(0), d(30), ACTIVE)
    assert isinstance(on_start.cancel("x", TODAY), Refused) and on_start.status == ACTIVE
