"""Coverage of one assignment and the rules of its lifecycle. No I/O.

Dates are inclusive UTC days: ``effective_date`` is the first covered day, ``end_date`` the last.
By the clock's ``today`` a coverage is ``scheduled`` (today < effective), ``active``
(effective <= today <= end) or ``expired`` (today > end); ``cancelled`` is terminal and only
reachable before the start.

    scheduled --(start date)--> active --(day after the end)--> expired
        \\--(cancelled before the start)--> cancelled

Coverage is never retroactive: a span that starts before the day it is bound starts that day.
Its end is at most one year after its start (1099Policy's rule, also for extensions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

__all__ = [
    "ACTIVE",
    "CANCELLED",
    "EXPIRED",
    "LIVE",
    "SCHEDULED",
    "Activated",
    "Cancelled",
    "Coverage",
    "Extended",
    "Refused",
    "Retimed",
    "Span",
    "latest_end",
    "span_to_bind",
    "status_on",
]

SCHEDULED = "scheduled"
ACTIVE = "active"
EXPIRED = "expired"
CANCELLED = "cancelled"
#: states in which the contractor is (or will be) covered
LIVE = (SCHEDULED, ACTIVE)


def status_on(effective: date, end: date, today: date) -> str:
    """The status by the calendar (cancellation aside)."""
    if today < effective:
        return SCHEDULED
    if today <= end:
        return ACTIVE
    return EXPIRED


def latest_end(effective: date) -> date:
    """The last day a span starting on ``effective`` may cover: one year later (Feb 29 -> Feb 28)."""
    try:
        return effective.replace(year=effective.year + 1)
    except ValueError:
        return effective.replace(year=effective.year + 1, day=28)


@dataclass(frozen=True)
class Span:
    effective_date: date
    end_date: date


@dataclass(frozen=True)
class Refused:
    """A requested change that the rules do not allow; the coverage is left as it was."""

    reason: str


def span_to_bind(effective: date, end: date, today: date) -> Span | Refused:
    """The span coverage is bound for, from the assignment's latest known dates."""
    start = max(effective, today)  # never retroactive
    if end < start:
        return Refused(f"the assignment ended on {end.isoformat()}, before coverage could start")
    if end > latest_end(start):
        return Refused(f"the span {start.isoformat()}..{end.isoformat()} is longer than one year")
    return Span(start, end)


@dataclass(frozen=True)
class Activated:
    pass


@dataclass(frozen=True)
class Retimed:
    previous_effective_date: date
    previous_end_date: date
    #: the new span started already (today or earlier): the coverage became active too
    activated: bool


@dataclass(frozen=True)
class Extended:
    previous_end_date: date
    #: an expired coverage came back to life (the extension was made before the end, seen late)
    reactivated: bool


@dataclass(frozen=True)
class Cancelled:
    reason: str
    cancelled_on: date


@dataclass
class Coverage:
    """One assignment's coverage on a contractor's policy. Methods apply a rule and say what
    happened (a domain event), ``None`` when nothing changes, or `Refused`."""

    id: str
    tenant_id: str
    policy_id: str
    assignment_id: str
    contractor_id: str
    coverage_types: list[str]
    effective_date: date
    end_date: date
    status: str
    net_rate: int
    gl_net_rate: int = 0
    wc_net_rate: int = 0
    #: bumped by every change; each published message carries the version it produced
    version: int = 1
    cancel_reason: str | None = None
    events: list[object] = field(default_factory=list)

    def _record(self, event: object) -> None:
        self.version += 1
        self.events.append(event)

    def retime(self, effective: date, end: date, today: date) -> Retimed | Refused | None:
        """The assignment's dates changed. Only a coverage that has not started moves with them."""
        if (effective, end) == (self.effective_date, self.end_date):
            return None
        if self.status != SCHEDULED:
            return Refused(f"coverage is {self.status}: its dates no longer follow the assignment (extend instead)")
        span = span_to_bind(effective, end, today)
        if isinstance(span, Refused):
            return span
        if (span.effective_date, span.end_date) == (self.effective_date, self.end_date):
            return None
        event = Retimed(self.effective_date, self.end_date, activated=span.effective_date <= today)
        self.effective_date, self.end_date = span.effective_date, span.end_date
        self._record(event)
        if event.activated:
            self.status = ACTIVE
            self._record(Activated())
        return event

    def extend(self, new_end: date, today: date) -> Extended | Refused | None:
        """The end moved later (within a year of the start). Re-sending the same end is a no-op."""
        if self.status == CANCELLED:
            return Refused("coverage was cancelled")
        if new_end <= self.end_date:
            return None
        if new_end > latest_end(self.effective_date):
            return Refused(f"{new_end.isoformat()} is more than one year after the start {self.effective_date.isoformat()}")
        reactivated = False
        if self.status == EXPIRED:
            if new_end < today:
                return Refused("coverage expired and the new end date has passed too")
            self.status = ACTIVE
            reactivated = True
        event = Extended(self.end_date, reactivated)
        self.end_date = new_end
        self._record(event)
        return event

    def cancel(self, reason: str, cancelled_on: date) -> Cancelled | Refused | None:
        """Cancelled by the company; only before the start (judged by when it was cancelled, so a
        cancellation that reaches us after midnight still counts)."""
        if self.status == CANCELLED:
            return None
        if cancelled_on >= self.effective_date:
            return Refused(f"cancelled on {cancelled_on.isoformat()}, on or after the start {self.effective_date.isoformat()}")
        self.status = CANCELLED
        self.cancel_reason = reason
        event = Cancelled(reason, cancelled_on)
        self._record(event)
        return event
