"""Review of a certificate of insurance a contractor brings (an uploaded PDF): what it says, read
from its text, checked rule by rule against what each assignment requires. No I/O.

A certificate is read as labelled lines (an ACORD 25 has them): ``Insured: <name>``,
``Certificate Holder: <name>``, the coverage names (``Commercial General Liability``,
``Professional Liability``, ``Workers Compensation``), ``Each Occurrence: $1,000,000``,
``General Aggregate: $2,000,000``, ``Policy Effective: 2026-01-01`` and ``Policy Expiration:
12/31/2026`` (ISO or US dates).

Each rule is a small pure function of the certificate and the requirement. A rule is *hard*
(failing it denies the upload: nothing a person could accept) or *soft* (failing it flags the
upload for a person to approve or deny in the dashboard); docs/uploaded-certificates.md says why
each is which. Outcome: ``approved`` (every rule passed), ``flagged`` (only soft rules failed),
``denied`` (a hard rule failed); ``error`` is the PDF whose text could not be read at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

__all__ = [
    "APPROVED",
    "DENIED",
    "ERROR",
    "FLAGGED",
    "RULES",
    "ExtractedPdf",
    "ReadCertificate",
    "Requirement",
    "RuleResult",
    "is_pdf",
    "outcome",
    "read_certificate",
    "review",
]

APPROVED, FLAGGED, DENIED, ERROR = "approved", "flagged", "denied", "error"

#: what a coverage is called on a certificate -> ten99's coverage type
_COVERAGE_NAMES = (
    (re.compile(r"general\s+liability", re.I), "general"),
    (re.compile(r"professional\s+liability|errors\s+(?:and|&)\s+omissions", re.I), "professional"),
    (re.compile(r"workers['’]?\s*comp(?:ensation)?", re.I), "workers-comp"),
)
_MONEY = r"\$?\s*([0-9][0-9,]*(?:\.[0-9]{2})?)"


@dataclass(frozen=True)
class ExtractedPdf:
    """What reading the PDF gave: whether it opened, and its text (None: not extractable)."""

    opened: bool
    text: str | None


def is_pdf(content: bytes) -> bool:
    """The magic bytes of a PDF (``%PDF-`` within the first 1 KiB, as readers accept)."""
    return b"%PDF-" in content[:1024]


@dataclass(frozen=True)
class ReadCertificate:
    """What the certificate's text says (None: not found in it)."""

    text: str
    insured: str | None = None
    holder: str | None = None
    coverage_types: frozenset[str] = frozenset()
    occurrence_limit_cents: int | None = None
    aggregate_limit_cents: int | None = None
    effective_date: date | None = None
    expiration_date: date | None = None


@dataclass(frozen=True)
class Requirement:
    """What one assignment requires of the certificate (from policy's copy of the assignment)."""

    assignment_id: str
    contractor_name: str
    holder_name: str
    coverage_types: tuple[str, ...]
    occurrence_limit_cents: int
    aggregate_limit_cents: int
    effective_date: date
    end_date: date


@dataclass(frozen=True)
class RuleResult:
    rule: str
    passed: bool
    hard: bool
    message: str
    assignment_id: str | None = None


def _labelled(text: str, *labels: str) -> str | None:
    for label in labels:
        match = re.search(rf"^\s*{label}\s*[:\-]\s*(.+?)\s*$", text, re.I | re.M)
        if match:
            return match.group(1)
    return None


def _cents(value: str | None) -> int | None:
    if value is None:
        return None
    match = re.match(_MONEY, value)
    if not match:
        return None
    return round(float(match.group(1).replace(",", "")) * 100)


def _date(value: str | None) -> date | None:
    if value is None:
        return None
    for pattern in ("%Y-%m-%d", "%m/%d/%Y"):
        try:
            return datetime.strptime(value.split()[0], pattern).date()
        except (ValueError, IndexError):
            continue
    return None


def read_certificate(text: str) -> ReadCertificate:
    """The fields the rules read, from the certificate's extracted text."""
    types = frozenset(kind for pattern, kind in _COVERAGE_NAMES if pattern.search(text))
    return ReadCertificate(
        text=text,
        insured=_labelled(text, "named insured", "insured"),
        holder=_labelled(text, "certificate holder"),
        coverage_types=types,
        occurrence_limit_cents=_cents(_labelled(text, "each occurrence")),
        aggregate_limit_cents=_cents(_labelled(text, "general aggregate", "aggregate")),
        effective_date=_date(_labelled(text, "policy effective", "effective date")),
        expiration_date=_date(_labelled(text, "policy expiration", "expiration date")),
    )


def _same_name(said: str | None, wanted: str) -> bool:
    """Names compared case- and punctuation-blind; the certificate may add to it (``LLC``)."""

    def words(value: str) -> list[str]:
        return re.findall(r"[a-z0-9]+", value.lower())

    return said is not None and bool(words(wanted)) and " ".join(words(wanted)) in " ".join(words(said))


# ------------------------------------------------------------------ the rules (pure)


def rule_readable(cert: ReadCertificate, req: Requirement, today: date) -> RuleResult:
    readable = bool(cert.text.strip())
    return RuleResult("readable_text", readable, True, "The certificate has text" if readable else "No text in the PDF (a scan?)")


def rule_not_expired(cert: ReadCertificate, req: Requirement, today: date) -> RuleResult:
    if cert.expiration_date is None:
        return RuleResult("not_expired", False, True, "No policy expiration date found")
    ok = cert.expiration_date >= today
    return RuleResult("not_expired", ok, True, f"Expires {cert.expiration_date.isoformat()}")


def rule_coverage_types(cert: ReadCertificate, req: Requirement, today: date) -> RuleResult:
    missing = sorted(set(req.coverage_types) - cert.coverage_types)
    message = "Every required coverage is listed" if not missing else f"Missing coverage: {', '.join(missing)}"
    return RuleResult("coverage_types", not missing, True, message, req.assignment_id)


def rule_named_insured(cert: ReadCertificate, req: Requirement, today: date) -> RuleResult:
    ok = _same_name(cert.insured, req.contractor_name)
    message = f"Insured {cert.insured!r}" + ("" if ok else f" is not {req.contractor_name!r}")
    return RuleResult("named_insured", ok, False, message, req.assignment_id)


def rule_limits(cert: ReadCertificate, req: Requirement, today: date) -> RuleResult:
    if "general" not in req.coverage_types:
        return RuleResult("limits", True, False, "No general liability limit required", req.assignment_id)
    short = []
    if (cert.occurrence_limit_cents or 0) < req.occurrence_limit_cents:
        short.append(f"each occurrence below ${req.occurrence_limit_cents // 100:,}")
    if (cert.aggregate_limit_cents or 0) < req.aggregate_limit_cents:
        short.append(f"aggregate below ${req.aggregate_limit_cents // 100:,}")
    return RuleResult("limits", not short, False, "; ".join(short) or "Limits meet the requirement", req.assignment_id)


def rule_dates_cover(cert: ReadCertificate, req: Requirement, today: date) -> RuleResult:
    starts, ends = cert.effective_date, cert.expiration_date
    ok = starts is not None and ends is not None and starts <= req.effective_date and ends >= req.end_date
    span = f"{req.effective_date.isoformat()} to {req.end_date.isoformat()}"
    message = f"Covers the assignment ({span})" if ok else f"Does not cover the whole assignment ({span})"
    return RuleResult("dates_cover_assignment", ok, False, message, req.assignment_id)


def rule_holder(cert: ReadCertificate, req: Requirement, today: date) -> RuleResult:
    ok = _same_name(cert.holder, req.holder_name)
    message = f"Certificate holder {cert.holder!r}" + ("" if ok else f" is not {req.holder_name!r}")
    return RuleResult("certificate_holder", ok, False, message, req.assignment_id)


Rule = Callable[[ReadCertificate, Requirement, date], RuleResult]

#: once per certificate (the first requirement stands for all)
_PER_CERTIFICATE: tuple[Rule, ...] = (rule_readable, rule_not_expired)
#: once per assignment reviewed
_PER_ASSIGNMENT: tuple[Rule, ...] = (rule_coverage_types, rule_named_insured, rule_limits, rule_dates_cover, rule_holder)
RULES = tuple(r.__name__.removeprefix("rule_") for r in (*_PER_CERTIFICATE, *_PER_ASSIGNMENT))


@dataclass(frozen=True)
class Review:
    status: str
    results: list[RuleResult] = field(default_factory=list)

    @property
    def failed(self) -> list[RuleResult]:
        return [r for r in self.results if not r.passed]


def outcome(results: Sequence[RuleResult]) -> str:
    failed = [r for r in results if not r.passed]
    if any(r.hard for r in failed):
        return DENIED
    return FLAGGED if failed else APPROVED


def review(text: str | None, requirements: Sequence[Requirement], today: date) -> Review:
    """The review of a certificate's text (None: it could not be extracted) against each
    assignment's requirement. A certificate with no text stops at the first rule."""
    if text is None:
        return Review(ERROR, [RuleResult("readable_text", False, True, "The PDF's text could not be extracted")])
    cert = read_certificate(text)
    first = requirements[0]
    results = [rule(cert, first, today) for rule in _PER_CERTIFICATE]
    if not results[0].passed:
        return Review(DENIED, results[:1])
    results += [rule(cert, req, today) for req in requirements for rule in _PER_ASSIGNMENT]
    return Review(outcome(results), results)
