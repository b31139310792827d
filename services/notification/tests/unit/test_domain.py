"""Retry rules and address hygiene."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from notification.domain import RetryPolicy, clean_addresses, one_line


def test_backoff_doubles_up_to_the_cap_and_stops_after_the_last_attempt() -> None:
    policy = RetryPolicy(max_attempts=5, backoff_base_s=30, backoff_max_s=100)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert [policy.delay_after(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 100, 100]
    assert policy.next_attempt(1, now) == now + timedelta(seconds=30)
    assert policy.next_attempt(4, now) == now + timedelta(seconds=100)
    assert policy.next_attempt(5, now) is None


def test_addresses_are_trimmed_deduplicated_and_header_safe() -> None:
    assert clean_addresses([" a@x.com ", "A@X.com", ""], ["b@y.com\r\nBcc: c@z.com"], exclude=["skip@x.com"]) == [
        "a@x.com",
        "b@y.com Bcc: c@z.com",
    ]
    assert clean_addresses(["skip@x.com"], exclude=["SKIP@x.com"]) == []
    assert one_line("a\n b\tc", 4) == "a b…"
