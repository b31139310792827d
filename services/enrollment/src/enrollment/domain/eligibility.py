"""Eligibility and quoting rules, without I/O.

- The opt-in form's eligibility questions (reference §5: minimum age 18, U.S. work only, claims
  or losses in the last 3 years go to manual review, which we cannot do online) and what makes
  an answer ineligible.
- Which coverage an assignment gets: the requested types (``general``, ``workers-comp``), minus
  workers' comp where the work state is monopolistic (ND, OH, WA, WY), priced from the rate table
  (GL by home state, WC by work state).
- Date rules (1099Policy's): a start not in the past, an end on or after the start and at most
  one year after it. At opt-in time an assignment that has already started is covered from
  today (coverage is never retroactive); one that has already ended is not covered.
- The consent signature: the typed name must reasonably match the applicant's name.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from .rates import COVERAGE_TYPES, GENERAL, WORKERS_COMP, net_rate
from .states import MONOPOLISTIC_WC_STATES, US_STATES

__all__ = [
    "CONSENT_TEXT",
    "CONSENT_TEXT_VERSION",
    "QUESTIONS",
    "DateProblem",
    "NotCoverable",
    "PricedCoverage",
    "Question",
    "age_on",
    "check_new_dates",
    "evaluate_answers",
    "one_year_after",
    "phone_problem",
    "price_assignment",
    "signature_matches",
]


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    #: the answer that keeps the applicant eligible
    eligible_answer: bool
    #: shown to the applicant when they give the other answer
    ineligible_reason: str


QUESTIONS: tuple[Question, ...] = (
    Question(
        "is_adult",
        "Are you 18 years of age or older?",
        True,
        "You must be at least 18 years old to be insured.",
    ),
    Question(
        "works_in_us",
        "Will you do this work in the United States? (Travel abroad during a U.S. assignment counts as U.S. work.)",
        True,
        "Coverage is only available for work performed in the United States.",
    ),
    Question(
        "independent_contractor",
        "Are you doing this work as an independent contractor (not as an employee of the company)?",
        True,
        "This insurance is for independent contractors; employees are insured by their employer.",
    ),
    Question(
        "claims_last_3_years",
        "Have you had any insurance claims or losses related to your work in the last 3 years?",
        False,
        "Applicants with claims or losses in the last 3 years need an underwriter's review and cannot be "
        "enrolled online; the company will contact you.",
    ),
    Question(
        "coverage_declined_last_3_years",
        "Has an insurer declined, cancelled or refused to renew your business insurance in the last 3 years?",
        False,
        "Applicants whose insurance was declined, cancelled or not renewed in the last 3 years need an "
        "underwriter's review and cannot be enrolled online; the company will contact you.",
    ),
)
_QUESTION_IDS = {q.id for q in QUESTIONS}

CONSENT_TEXT_VERSION = "2026-11"
CONSENT_TEXT = (
    "I apply for general liability insurance and, where it is offered for the work state, workers' "
    "compensation insurance, for the assignments listed above and for the dates shown. I confirm that the "
    "information I gave is true and complete to the best of my knowledge, and that I will report any change "
    "to it. I understand that coverage is bound only for the assignments and dates shown, that the premium "
    "is a rate per $100 of my pay for each assignment, and that the insurer relies on my answers. I agree to "
    "sign electronically: typing my full name below has the same effect as my handwritten signature."
)


def evaluate_answers(answers: dict[str, bool | None]) -> tuple[dict[str, str], list[str]]:
    """Return (field errors, ineligibility reasons). Every question must be answered yes or no."""
    errors: dict[str, str] = {}
    reasons: list[str] = []
    for q in QUESTIONS:
        value = answers.get(q.id)
        if value is None:
            errors[f"answers.{q.id}"] = "Please answer this question."
        elif value != q.eligible_answer:
            reasons.append(q.ineligible_reason)
    for key in answers:
        if key not in _QUESTION_IDS:
            errors[f"answers.{key}"] = "Unknown question."
    return errors, reasons


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def one_year_after(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


@dataclass(frozen=True)
class DateProblem:
    error_code: str  # effective_date_invalid | end_date_invalid
    message: str


def check_new_dates(effective: date, end: date, today: date) -> DateProblem | None:
    """1099Policy's rules for new coverage: start today or later; end on or after the start,
    at most one year after it."""
    if effective < today:
        return DateProblem(
            "effective_date_invalid", f"The effective date {effective} is in the past; coverage cannot be retroactive."
        )
    return _check_span(effective, end)


def _check_span(effective: date, end: date) -> DateProblem | None:
    if end < effective:
        return DateProblem("end_date_invalid", f"The end date {end} is before the effective date {effective}.")
    if end > one_year_after(effective):
        return DateProblem("end_date_invalid", f"The end date {end} is more than one year after the effective date {effective}.")
    return None


@dataclass(frozen=True)
class PricedCoverage:
    coverage_types: list[str]
    home_state: str
    work_state: str
    effective_date: date
    end_date: date
    gl_net_rate: int
    wc_net_rate: int
    notes: list[str] = field(default_factory=list)

    @property
    def net_rate(self) -> int:
        return self.gl_net_rate + self.wc_net_rate


@dataclass(frozen=True)
class NotCoverable:
    reason: str


def price_assignment(
    *,
    category_code: str,
    requested_types: list[str],
    job_work_state: str | None,
    home_state: str | None,
    effective_date: date,
    end_date: date,
    today: date,
) -> PricedCoverage | NotCoverable:
    """What coverage an assignment gets, at which rates, and from when.

    ``home_state`` is None for someone living outside the U.S.; they are rated with the work
    state as both home and work state (reference §5). A remote job (no ``job_work_state``) is
    done in the home state.
    """
    work_state = job_work_state or home_state
    if not work_state or work_state not in US_STATES:
        return NotCoverable("Coverage is only available for work performed in a U.S. state.")
    home = home_state if home_state in US_STATES else work_state
    notes: list[str] = []
    wanted = [t for t in COVERAGE_TYPES if t in (requested_types or COVERAGE_TYPES)]
    for t in requested_types or []:
        if t not in COVERAGE_TYPES:
            notes.append(f"{t} coverage is not offered; it was left out.")
    if WORKERS_COMP in wanted and work_state in MONOPOLISTIC_WC_STATES:
        wanted.remove(WORKERS_COMP)
        notes.append(
            f"Workers' compensation is not offered for work in {US_STATES[work_state]} ({work_state}), where only "
            "the state fund sells it; this assignment is covered by general liability only."
        )
    if not wanted:
        return NotCoverable("None of the requested coverage types can be offered for this work.")
    gl = net_rate(category_code, home, GENERAL) if GENERAL in wanted else 0
    wc = net_rate(category_code, work_state, WORKERS_COMP) if WORKERS_COMP in wanted else 0
    if gl is None or wc is None:
        return NotCoverable(f"There is no rate for the job category {category_code!r}.")
    problem = _check_span(effective_date, end_date)
    if problem is not None:
        return NotCoverable(problem.message)
    if end_date < today:
        return NotCoverable(f"The assignment ended on {end_date}; past work cannot be insured.")
    start = effective_date
    if start < today:
        start = today
        notes.append(f"The assignment started on {effective_date}; coverage cannot be retroactive, so it starts today, {today}.")
    return PricedCoverage(
        coverage_types=wanted,
        home_state=home,
        work_state=work_state,
        effective_date=start,
        end_date=end_date,
        gl_net_rate=gl,
        wc_net_rate=wc,
        notes=notes,
    )


def _name_tokens(value: str) -> list[str]:
    decomposed = unicodedata.normalize("NFKD", value)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return re.findall(r"[a-z0-9]+", plain)


def signature_matches(signed_name: str, first_name: str, last_name: str) -> bool:
    """True when the typed signature is reasonably the applicant's name: the same words ignoring
    case, accents and punctuation; or first and last name with middle names or initials between;
    or a near miss (a typo) of the full name."""
    signed = _name_tokens(signed_name)
    first = _name_tokens(first_name)
    last = _name_tokens(last_name)
    if not signed or not first or not last:
        return False
    full = first + last
    if "".join(signed) == "".join(full):
        return True
    if signed[0] == first[0] and signed[-len(last) :] == last:
        return True
    return difflib.SequenceMatcher(None, " ".join(signed), " ".join(full)).ratio() >= 0.85


_PHONE_CHARS = re.compile(r"^[0-9+()\-. ]+$")


def phone_problem(phone: str) -> str | None:
    if not _PHONE_CHARS.match(phone):
        return "Use digits, spaces and + ( ) - . only."
    digits = sum(ch.isdigit() for ch in phone)
    if not 7 <= digits <= 15:
        return "A phone number has 7 to 15 digits."
    return None
