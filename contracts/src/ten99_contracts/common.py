"""Value shapes shared by several contexts' messages."""

from __future__ import annotations

from datetime import date

import msgspec

__all__ = [
    "Address",
    "AddressInput",
    "AssignmentQuote",
    "AssignmentRefusal",
    "ContractorSnapshot",
    "CoverageTerms",
    "EntitySnapshot",
    "JobSnapshot",
    "QuotedCoverage",
]


class Address(msgspec.Struct, frozen=True, kw_only=True):
    """1099Policy's address shape; ``region`` is the two-letter state."""

    line1: str
    line2: str | None = None
    locality: str
    region: str
    postalcode: str
    country: str = "US"


class AddressInput(msgspec.Struct, kw_only=True):
    """An address as an API client or a form sends it (1099Policy's shape, every part optional):
    the receiving service checks it and makes an ``Address`` of it."""

    line1: str | None = None
    line2: str | None = None
    locality: str | None = None
    region: str | None = None
    postalcode: str | None = None
    country: str | None = None


class ContractorSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """A contractor as the contractor service knows it. Never carries the tax id."""

    contractor_id: str
    first_name: str
    last_name: str
    email: str
    phone: str | None = None
    address: Address | None = None
    company_name: str | None = None


class EntitySnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """The end client (certificate holder) and the cover it requires."""

    entity_id: str
    name: str
    required_coverage: list[str] = []
    aggregate_limit_cents: int = 200_000_000
    occurrence_limit_cents: int = 100_000_000


class JobSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """The role an assignment is for. ``wage_cents`` is per ``wage_type`` unit."""

    job_id: str
    name: str
    description: str
    category_code: str
    wage_cents: int
    wage_type: str  # flatfee | hourly | unit | blended
    work_state: str | None = None  # None: remote, the home state applies
    entity: EntitySnapshot
    withhold_premium: bool | None = None


class AssignmentQuote(msgspec.Struct, frozen=True, kw_only=True):
    """Enrollment's priced decision for one assignment: what policy binds and billing charges.

    Rates are cents per $100 of pay (1099Policy's ``net_rate``); ``net_rate`` = gl + wc.
    """

    assignment_id: str
    quote_id: str
    job_id: str
    category_code: str
    coverage_types: list[str]
    home_state: str
    work_state: str
    effective_date: date
    end_date: date
    net_rate: int
    gl_net_rate: int = 0
    wc_net_rate: int = 0
    #: why it is eligible, as 1099Policy's assignment ``eligible.message`` says it (notes included)
    eligibility_message: str | None = None


class AssignmentRefusal(msgspec.Struct, frozen=True, kw_only=True):
    """An assignment enrollment could not cover, and why (1099Policy's ``eligible.message``)."""

    assignment_id: str
    reason: str


class QuotedCoverage(msgspec.Struct, frozen=True, kw_only=True):
    """A quote for a job and a contractor (1099Policy's ``/quotes``), bound exactly as priced when the
    contractor completes the application opened from it. ``assignment_id`` is set only when the
    contractor had a live assignment for the job when the quote was made; the assignment then also
    appears, with the same quote id and terms, among the application's assignments.

    Rates are cents per $100 of pay; ``net_rate`` = gl + wc. Dates are inclusive UTC days.
    """

    quote_id: str
    job_id: str
    assignment_id: str | None = None
    category_code: str
    coverage_types: list[str]
    home_state: str
    work_state: str
    effective_date: date
    end_date: date
    net_rate: int
    gl_net_rate: int = 0
    wc_net_rate: int = 0


class CoverageTerms(msgspec.Struct, frozen=True, kw_only=True):
    """One assignment's coverage as bound by the policy service. Dates are inclusive UTC days."""

    coverage_id: str
    policy_id: str
    assignment_id: str
    contractor_id: str
    coverage_types: list[str]
    effective_date: date
    end_date: date
    status: str  # scheduled | active | expired | cancelled
    net_rate: int
    gl_net_rate: int = 0
    wc_net_rate: int = 0
