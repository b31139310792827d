"""Pay, premium and platform fee arithmetic (billing.domain.premium)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from billing.domain.premium import (
    hours_in_span,
    line_amounts,
    pay_for_span,
    platform_fee_cents,
    premium_cents,
    round_half_up_div,
    weekdays_in_span,
)

MON = date(2026, 11, 16)  # a Monday


@pytest.mark.parametrize(
    ("num", "den", "expected"),
    [(0, 10_000, 0), (4_999, 10_000, 0), (5_000, 10_000, 1), (5_001, 10_000, 1), (14_999, 10_000, 1), (15_000, 10_000, 2)],
)
def test_round_half_up(num: int, den: int, expected: int) -> None:
    assert round_half_up_div(num, den) == expected


def test_round_half_up_rejects_negative_input() -> None:
    with pytest.raises(ValueError):
        round_half_up_div(-1, 10)


def test_premium_is_pay_times_rate_per_100_dollars() -> None:
    # $2,500 at 65 cents per $100 = $16.25
    assert premium_cents(250_000, 65) == 1_625
    # the reference's example: $2,500 at 1.73 % = $43.25
    assert premium_cents(250_000, 173) == 4_325


def test_premium_rounds_half_up_once_on_the_final_cents() -> None:
    # $1,234.50 of pay at 65: 123450 x 65 / 10000 = 802.425 cents -> 802 (down)
    assert premium_cents(123_450, 65) == 802
    # $1,234.70 at 65: 802.555 -> 803 (up)
    assert premium_cents(123_470, 65) == 803
    # exactly half a cent: 100 x 50 / 10000 = 0.5 -> 1 (half up, not to even)
    assert premium_cents(100, 50) == 1
    assert premium_cents(300, 50) == 2  # 1.5 -> 2
    assert premium_cents(500, 50) == 3  # 2.5 -> 3 (banker's rounding would give 2)
    # just under a half -> down
    assert premium_cents(99, 50) == 0
    # 3 cents x 5000 = 1.5 -> 2
    assert premium_cents(3, 5_000) == 2


def test_platform_fee_is_basis_points_of_pay() -> None:
    assert platform_fee_cents(250_000, 150) == 3_750  # 1.5 %
    assert platform_fee_cents(250_000, 0) == 0
    assert platform_fee_cents(250_000, 10_000) == 250_000  # 100 %
    assert platform_fee_cents(333, 150) == 5  # 4.995 -> 5


def test_weekdays_in_span_counts_monday_to_friday_inclusive() -> None:
    assert weekdays_in_span(MON, MON) == 1
    assert weekdays_in_span(MON, MON + timedelta(days=4)) == 5  # Mon-Fri
    assert weekdays_in_span(MON, MON + timedelta(days=6)) == 5  # Mon-Sun
    assert weekdays_in_span(MON + timedelta(days=5), MON + timedelta(days=6)) == 0  # Sat-Sun
    assert weekdays_in_span(MON, MON + timedelta(days=13)) == 10
    assert weekdays_in_span(MON + timedelta(days=4), MON + timedelta(days=7)) == 2  # Fri-Mon
    assert weekdays_in_span(MON, MON - timedelta(days=1)) == 0


def test_weekdays_in_span_matches_a_day_by_day_count() -> None:
    start = date(2026, 1, 1)
    for length in range(40):
        for offset in range(7):
            s = start + timedelta(days=offset)
            e = s + timedelta(days=length)
            brute = sum(1 for i in range(length + 1) if (s + timedelta(days=i)).weekday() < 5)
            assert weekdays_in_span(s, e) == brute


def test_hours_are_eight_per_weekday_with_a_one_day_minimum_for_a_first_charge() -> None:
    sat, sun = MON + timedelta(days=5), MON + timedelta(days=6)
    assert hours_in_span(MON, MON + timedelta(days=4), minimum_one_day=True) == 40
    assert hours_in_span(sat, sun, minimum_one_day=True) == 8
    assert hours_in_span(sat, sun, minimum_one_day=False) == 0


def test_flat_fee_and_blended_wages_are_the_total_pay_whatever_the_span() -> None:
    assert pay_for_span(250_000, "flatfee", MON, MON) == 250_000
    assert pay_for_span(250_000, "flatfee", MON, MON + timedelta(days=90)) == 250_000
    assert pay_for_span(180_000, "blended", MON, MON + timedelta(days=30)) == 180_000


def test_unit_wage_assumes_one_unit() -> None:
    assert pay_for_span(12_345, "unit", MON, MON + timedelta(days=10)) == 12_345


def test_hourly_wage_is_paid_for_eight_hours_per_weekday() -> None:
    # $50/h, two full weeks = 10 weekdays = 80 h = $4,000
    assert pay_for_span(5_000, "hourly", MON, MON + timedelta(days=13)) == 400_000
    # a span crossing a month end is charged whole: Fri 2026-11-27 .. Tue 2026-12-01 = 3 weekdays
    assert pay_for_span(5_000, "hourly", date(2026, 11, 27), date(2026, 12, 1)) == 5_000 * 24


def test_an_extension_adds_pay_only_for_time_based_wages() -> None:
    added_from, added_to = MON + timedelta(days=7), MON + timedelta(days=11)  # Mon-Fri of next week
    assert pay_for_span(5_000, "hourly", added_from, added_to, first_charge=False) == 5_000 * 40
    assert pay_for_span(250_000, "flatfee", added_from, added_to, first_charge=False) == 0
    assert pay_for_span(250_000, "blended", added_from, added_to, first_charge=False) == 0
    assert pay_for_span(250_000, "unit", added_from, added_to, first_charge=False) == 0
    # a weekend-only extension adds nothing (no one-day minimum for extensions)
    assert pay_for_span(5_000, "hourly", MON + timedelta(days=5), MON + timedelta(days=6), first_charge=False) == 0


def test_an_unknown_wage_type_is_charged_as_a_total_never_as_zero() -> None:
    assert pay_for_span(9_900, "per_post", MON, MON + timedelta(days=3)) == 9_900


def test_line_amounts_when_the_company_pays_the_premium() -> None:
    amounts = line_amounts(250_000, 65, 150, company_pays_premium=True)
    assert (amounts.premium_full_cents, amounts.premium_cents, amounts.platform_fee_cents, amounts.amount_cents) == (
        1_625,
        1_625,
        3_750,
        5_375,
    )


def test_line_amounts_when_the_contractor_pays_the_premium() -> None:
    amounts = line_amounts(250_000, 65, 150, company_pays_premium=False)
    assert amounts.premium_full_cents == 1_625
    assert amounts.premium_cents == 0
    assert amounts.amount_cents == 3_750


def test_large_pay_stays_exact() -> None:
    # $10M flat fee at 173: no float drift
    assert premium_cents(1_000_000_000, 173) == 17_300_000
    assert pay_for_span(100_000_000, "hourly", MON, MON + timedelta(days=364)) == 100_000_000 * 8 * 261
