"""The usage invoice's rules: premium rounding and minimum, gross pay range, pay cycle checks."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from billing.domain.usage import check_gross_pay, pay_cycle, usage_premium
from ten99kit import ApiError, InvalidInput

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DAY = 86_400


@pytest.mark.parametrize(
    ("gross", "rate", "premium"),
    [
        (250_000, 173, 4325),  # the reference's example
        (12_345, 173, 214),  # 213.57
        (1_000_100, 50, 5001),  # 5000.5: half up
        (1_000_099, 50, 5000),  # 5000.495
        (100, 173, 100),  # 1.73: the minimum premium
        (100_000_000, 173, 1_730_000),
    ],
)
def test_premium_is_gross_times_rate_over_ten_thousand_half_up_at_least_100(gross: int, rate: int, premium: int) -> None:
    assert usage_premium(gross, rate) == premium


@pytest.mark.parametrize("gross", [99, 0, -1, 100_000_001])
def test_gross_pay_out_of_range_is_invalid_input(gross: int) -> None:
    with pytest.raises(InvalidInput):
        check_gross_pay(gross)


def test_pay_cycle_checks_name_the_date_at_fault() -> None:
    start = int(datetime(2026, 11, 23, tzinfo=UTC).timestamp())
    cycle = pay_cycle(start, start + 7 * DAY - 1, NOW)
    assert (cycle.first_day, cycle.last_day) == (date(2026, 11, 23), date(2026, 11, 29))
    assert pay_cycle(start, start, NOW).last_day == date(2026, 11, 23)  # a one-instant cycle
    for bad_start in (-1, int(NOW.timestamp()) + 1):
        with pytest.raises(ApiError) as refused:
            pay_cycle(bad_start, bad_start + DAY, NOW)
        assert refused.value.error_code == "invalid_paycycle_startdate"
    for bad_end in (start - 1, start + 367 * DAY):
        with pytest.raises(ApiError) as refused:
            pay_cycle(start, bad_end, NOW)
        assert refused.value.error_code == "invalid_paycycle_enddate"
