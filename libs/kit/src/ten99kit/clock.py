"""Time as the application sees it. Time-driven work asks a `Clock`, never `datetime.now()`,
so tests (and demos, through ``PUT /_ops/clock``) can move it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Protocol, overload

__all__ = ["Clock", "SettableClock", "SystemClock", "epoch", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Clock(Protocol):
    def now(self) -> datetime: ...

    def today(self) -> date: ...


class SystemClock:
    def now(self) -> datetime:
        return utcnow()

    def today(self) -> date:
        return self.now().date()


class SettableClock:
    """Real time shifted by an offset, or frozen at an instant. Always UTC-aware."""

    def __init__(self, frozen_at: datetime | None = None) -> None:
        self._offset = timedelta(0)
        self._frozen: datetime | None = None
        if frozen_at is not None:
            self.freeze(frozen_at)

    def now(self) -> datetime:
        return self._frozen if self._frozen is not None else utcnow() + self._offset

    def today(self) -> date:
        return self.now().date()

    def set(self, instant: datetime) -> None:
        """Jump to ``instant`` and keep running from there."""
        self._frozen = None
        self._offset = _aware(instant) - utcnow()

    def freeze(self, instant: datetime) -> None:
        self._frozen = _aware(instant)

    def advance(self, delta: timedelta) -> None:
        if self._frozen is not None:
            self._frozen += delta
        else:
            self._offset += delta

    def reset(self) -> None:
        self._frozen = None
        self._offset = timedelta(0)


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("times are UTC and timezone-aware")
    return instant.astimezone(UTC)


@overload
def epoch(value: date | datetime) -> int: ...
@overload
def epoch(value: None) -> None: ...
@overload
def epoch(value: date | datetime | None) -> int | None: ...
def epoch(value: date | datetime | None) -> int | None:
    """A time as 1099Policy sends it: Unix seconds; a day is its midnight, UTC."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return int(value.timestamp())
    return int(datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp())
