"""What to charge and credit for an assignment, and how charges become invoices. No I/O.

Billing keeps one local row per assignment, combining what the contractor service said about
the assignment (snapshot, PO number, cancellation) and what the policy service said about its
coverage (bound, re-timed, extended, cancelled). Whenever that row changes, `plan_billing`
compares it with the lines already charged for the assignment and decides, deterministically:

- **first charge** — the coverage is bound, the snapshot is known, the assignment is not
  cancelled and it has a PO number, and nothing was charged yet: one line for the whole coverage
  span. Without a PO the assignment waits (nothing is charged) until a PO arrives.
- **extension** — hourly assignments only: the coverage now ends later than what was charged;
  one line for the added days.
- **re-timing** — hourly assignments only: the charged span no longer matches the coverage
  (dates moved before the start): the charged lines are credited and one line for the new span
  is charged. For the other wage types pay does not depend on the dates, so nothing changes.
- **cancellation** (assignment or coverage cancelled): every charged line not yet credited is
  credited (a line on a void invoice needs no credit). Nothing new is ever charged for it.
- an assignment with a line on a **void** invoice is billed no further: voiding ends billing for
  the assignments on that invoice (they are not re-invoiced automatically).

Because the plan depends only on state, repeating a message (redelivery, replay, a business
event sent twice) plans nothing new: one line per assignment per charge, ever. Each charge has a
per-assignment sequence number, unique in the database, as a guard against concurrent issuers.

Invoices: new charges are grouped by (company, PO number); one invoice per group per billing
period (the calendar month, UTC, in which the invoice is issued). If that PO already has an
invoice for the period, the new lines go on a *supplementary* invoice for the same PO and period,
which names the first one. A group is issued once it has been quiet for the settle window (no
line became ready in it for ``settle`` seconds), or after ``max_wait`` at the latest, so that
one PO set on many assignments in one action lands on one invoice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TypeVar

from .premium import is_time_based, pay_for_span

__all__ = [
    "AssignmentBilling",
    "CreditDecision",
    "ExistingLine",
    "NewCharge",
    "Plan",
    "billing_period",
    "chunked",
    "due_date",
    "group_is_due",
    "group_waited_longest",
    "invoice_number",
    "line_description",
    "plan_billing",
    "premium_payer_for",
    "recipients",
]

KIND_COVERAGE = "coverage"
KIND_EXTENSION = "extension"
KIND_RETIME = "retime"


@dataclass(frozen=True)
class AssignmentBilling:
    """Billing's local copy of one assignment and its coverage."""

    tenant_id: str
    assignment_id: str
    snapshot_known: bool = False
    cancelled: bool = False
    cancel_reason: str | None = None
    contractor_id: str | None = None
    contractor_name: str = ""
    job_name: str = ""
    entity_name: str = ""
    wage_cents: int = 0
    wage_type: str = "flatfee"
    withhold_premium: bool | None = None
    po_number: str | None = None
    po_contact_email: str | None = None
    coverage_id: str | None = None
    coverage_effective_date: date | None = None
    coverage_end_date: date | None = None
    net_rate: int = 0
    coverage_cancelled: bool = False
    coverage_cancel_reason: str | None = None

    @property
    def coverage_bound(self) -> bool:
        return bool(self.coverage_id) and self.coverage_effective_date is not None and self.coverage_end_date is not None


@dataclass(frozen=True)
class ExistingLine:
    line_id: int
    charge_seq: int
    kind: str
    span_start: date
    span_end: date
    amount_cents: int
    credited: bool
    invoice_void: bool
    invoice_seq: int
    invoice_id: str = ""
    invoice_number: str = ""


@dataclass(frozen=True)
class NewCharge:
    kind: str
    charge_seq: int
    span_start: date
    span_end: date
    pay_cents: int


@dataclass(frozen=True)
class CreditDecision:
    line: ExistingLine
    reason: str


@dataclass(frozen=True)
class Plan:
    charges: list[NewCharge] = field(default_factory=list)
    credits: list[CreditDecision] = field(default_factory=list)
    #: why nothing is charged yet (for logs): no_po, not_bound, snapshot_unknown, ...
    waiting: str | None = None


def plan_billing(assignment: AssignmentBilling, lines: Sequence[ExistingLine]) -> Plan:
    """Charges and credits that bring what was billed for ``assignment`` in line with its state."""
    if any(line.invoice_void for line in lines):
        return Plan(waiting="voided")
    live = [line for line in lines if not line.credited]
    next_seq = max((line.charge_seq for line in lines), default=0) + 1

    if assignment.cancelled or assignment.coverage_cancelled:
        reason = _why_cancelled(assignment)
        return Plan(credits=[CreditDecision(line, reason) for line in live], waiting="cancelled")
    if not assignment.snapshot_known:
        return Plan(waiting="snapshot_unknown")
    if not assignment.coverage_bound:
        return Plan(waiting="not_bound")
    if not assignment.po_number:
        return Plan(waiting="no_po")
    assert assignment.coverage_effective_date is not None and assignment.coverage_end_date is not None
    start, end = assignment.coverage_effective_date, assignment.coverage_end_date

    if not live:
        kind = KIND_COVERAGE if not lines else KIND_RETIME
        pay = pay_for_span(assignment.wage_cents, assignment.wage_type, start, end, first_charge=True)
        return Plan(charges=[NewCharge(kind, next_seq, start, end, pay)])
    if not is_time_based(assignment.wage_type):
        return Plan()  # pay does not depend on the dates: what was charged stands

    billed_start = min(line.span_start for line in live)
    billed_end = max(line.span_end for line in live)
    if (billed_start, billed_end) == (start, end):
        return Plan()
    if billed_start == start and end > billed_end:
        added_from = billed_end + timedelta(days=1)
        pay = pay_for_span(assignment.wage_cents, assignment.wage_type, added_from, end, first_charge=False)
        if pay <= 0:
            return Plan(waiting="extension_without_workdays")
        return Plan(charges=[NewCharge(KIND_EXTENSION, next_seq, added_from, end, pay)])
    pay = pay_for_span(assignment.wage_cents, assignment.wage_type, start, end, first_charge=True)
    return Plan(
        charges=[NewCharge(KIND_RETIME, next_seq, start, end, pay)],
        credits=[CreditDecision(line, f"coverage re-timed to {start.isoformat()} - {end.isoformat()}") for line in live],
    )


def _why_cancelled(assignment: AssignmentBilling) -> str:
    if assignment.cancelled:
        what, why = "assignment cancelled before its start", assignment.cancel_reason
    else:
        what, why = "coverage cancelled", assignment.coverage_cancel_reason
    return f"{what}: {why}" if why else what


def premium_payer_for(assignment: AssignmentBilling, company_default: str) -> str:
    """The job's ``withhold_premium`` wins over the company setting (1099Policy's precedence):
    True = the company remits the premium, False = the contractor pays it."""
    if assignment.withhold_premium is True:
        return "company"
    if assignment.withhold_premium is False:
        return "contractor"
    return company_default


def line_description(assignment: AssignmentBilling, charge: NewCharge, premium_payer: str) -> str:
    what = assignment.job_name or "Assignment"
    if assignment.entity_name:
        what = f"{what} for {assignment.entity_name}"
    text = f"{what}, {charge.span_start.isoformat()} to {charge.span_end.isoformat()}"
    if charge.kind == KIND_EXTENSION:
        text += " (extension)"
    elif charge.kind == KIND_RETIME:
        text += " (new dates)"
    if premium_payer == "contractor":
        text += "; premium paid by the contractor"
    return text


def billing_period(now: datetime) -> str:
    """The billing period (calendar month, UTC) an invoice issued at ``now`` belongs to."""
    return f"{now.year:04d}-{now.month:02d}"


def invoice_number(period: str, n: int) -> str:
    """``INV-2026-11-0001``: the n-th invoice of the company in the period."""
    return f"INV-{period}-{n:04d}"


def due_date(issued_at: datetime, days: int) -> date:
    return issued_at.date() + timedelta(days=days)


def recipients(contacts: Iterable[str | None], billing_email: str | None) -> tuple[str, list[str]]:
    """(to, cc) for a PO's invoice: the PO contact (the most common one among the lines, the
    first seen on a tie), with the billing email copied; the billing email alone if the PO has
    no contact."""
    seen = [c.strip() for c in contacts if c and c.strip()]
    counts = Counter(c.lower() for c in seen)
    to = ""
    if seen:
        best = max(counts.values())
        to = next(c for c in seen if counts[c.lower()] == best)
    billing = (billing_email or "").strip()
    if not to:
        return billing, []
    if billing and billing.lower() != to.lower():
        return to, [billing]
    return to, []


def group_is_due(changed: Sequence[datetime], now: datetime, settle_s: float, max_wait_s: float) -> datetime | None:
    """None if a group whose lines became ready at ``changed`` may be issued at ``now``; else
    the instant it will be due."""
    quiet_at = max(changed) + timedelta(seconds=settle_s)
    latest_at = min(changed) + timedelta(seconds=max_wait_s)
    due = min(quiet_at, latest_at)
    return None if now >= due else due


def group_waited_longest(changed: Sequence[datetime], now: datetime, max_wait_s: float) -> bool:
    """True once a group's first line became ready ``max_wait_s`` ago: it is issued with what it
    has, even if more of its inputs may still be on their way."""
    return now >= min(changed) + timedelta(seconds=max_wait_s)


T = TypeVar("T")


def chunked(items: Sequence[T], size: int) -> list[Sequence[T]]:
    if size <= 0:
        raise ValueError("chunk size must be positive")
    return [items[i : i + size] for i in range(0, len(items), size)] or [items]
