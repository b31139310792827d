"""Value rules shared by the API, the CSV import and the integrations: states, emails, money,
dates, addresses, wage types and coverage types. Pure functions; a bad value raises `Invalid`
with a reason a person can act on."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ten99_contracts.coverage import MONOPOLISTIC_WC_STATES
from ten99kit.emails import MAX_EMAIL_LENGTH, InvalidEmail
from ten99kit.emails import parse_email as kit_parse_email

__all__ = [
    "COVERAGE_TYPES",
    "DEFAULT_COVERAGE",
    "MONOPOLISTIC_STATES",
    "US_STATES",
    "WAGE_MAX_CENTS",
    "WAGE_MIN_CENTS",
    "WAGE_TYPES",
    "Invalid",
    "date_to_epoch",
    "email_key",
    "name_key",
    "optional_email",
    "parse_address",
    "parse_coverage_types",
    "parse_date",
    "parse_email",
    "parse_money_cents",
    "parse_postal_code",
    "parse_state",
    "parse_tax_id",
    "parse_wage_type",
    "text",
]


class Invalid(ValueError):
    """A value that breaks a rule; ``str(e)`` says why."""


US_STATES: dict[str, str] = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia",
    "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana",
    "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland",
    "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri",
    "MT": "Montana", "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey",
    "NM": "New Mexico", "NY": "New York", "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio",
    "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina",
    "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont",
    "VA": "Virginia", "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
}  # fmt: skip
_STATE_BY_NAME = {name.lower(): code for code, name in US_STATES.items()}
#: workers' comp is sold only by the state fund there: enrollment quotes general liability only
#: where only the state fund sells workers' comp: the contracts' one rule (`ten99_contracts.coverage`)
MONOPOLISTIC_STATES = MONOPOLISTIC_WC_STATES

COVERAGE_TYPES = ("general", "workers-comp")
DEFAULT_COVERAGE = ["general", "workers-comp"]
WAGE_TYPES = ("flatfee", "hourly", "unit", "blended")
WAGE_MIN_CENTS = 100
WAGE_MAX_CENTS = 1_000_000_000  # $10M, the larger of the two maxima the reference reports

_WAGE_TYPES = {
    "flatfee": "flatfee", "flat": "flatfee", "fixed": "flatfee", "flatrate": "flatfee", "fixedfee": "flatfee",
    "fee": "flatfee", "lumpsum": "flatfee", "perproject": "flatfee", "project": "flatfee",
    "hourly": "hourly", "hour": "hourly", "perhour": "hourly", "hr": "hourly", "hourlyrate": "hourly",
    "unit": "unit", "perunit": "unit", "piece": "unit", "perpiece": "unit", "peritem": "unit", "perpost": "unit",
    "blended": "blended", "mixed": "blended",
}  # fmt: skip


def text(value: Any, *, max_length: int = 200, required: bool = True, what: str = "a value") -> str | None:
    """A trimmed string; empty is None (or `Invalid` when required)."""
    if value is None:
        given = ""
    elif isinstance(value, str):
        given = value.strip()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        given = str(value)
    else:
        raise Invalid(f"{what} must be text")
    if not given:
        if required:
            raise Invalid(f"{what} is required")
        return None
    if len(given) > max_length:
        raise Invalid(f"{what} is longer than {max_length} characters")
    return given


def name_key(name: str) -> str:
    """How names are compared (entity matching): case, spacing and punctuation do not count."""
    return re.sub(r"[^0-9a-z]+", " ", name.casefold()).strip()


def email_key(email: str) -> str:
    return email.strip().casefold()


def parse_email(value: Any, *, what: str = "email") -> str:
    """An address in its one stored form (the kit's rules: lower-cased, ``.test`` accepted)."""
    s = text(value, max_length=MAX_EMAIL_LENGTH, what=what)
    assert s is not None
    try:
        return kit_parse_email(s)
    except InvalidEmail:
        raise Invalid(f"{s!r} is not a valid email address") from None


def optional_email(value: Any, *, what: str) -> str | None:
    """An optional address (a PO contact): empty is None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return parse_email(value, what=what)


def parse_state(value: Any, *, what: str = "state") -> str:
    """A two-letter US state (or DC); full names are accepted (``California`` -> ``CA``)."""
    s = text(value, max_length=40, what=what)
    assert s is not None
    code = s.upper() if len(s) == 2 else _STATE_BY_NAME.get(re.sub(r"\s+", " ", s.lower()))
    if code not in US_STATES:
        raise Invalid(f"{s!r} is not a US state (use the two-letter code, e.g. CA)")
    return code


def parse_postal_code(value: Any) -> str:
    """A US ZIP code: 12345 or 12345-6789. Three or four digits get their leading zeros back
    (spreadsheets drop them: 2134 -> 02134)."""
    s = text(value, max_length=12, what="postal code")
    assert s is not None
    if re.fullmatch(r"\d{3,4}", s):
        s = s.zfill(5)
    if not re.fullmatch(r"\d{5}(-\d{4})?", s):
        raise Invalid(f"{s!r} is not a US ZIP code (12345 or 12345-6789)")
    return s


def parse_address(value: Any, *, what: str = "address") -> dict[str, Any]:
    """1099Policy's address shape: line1, line2?, locality, region, postalcode, country (US)."""
    if not isinstance(value, dict):
        raise Invalid(f"{what} must be an object with line1, locality, region and postalcode")
    problems: list[str] = []
    out: dict[str, Any] = {}
    for key, fn in (
        ("line1", lambda v: text(v, what="line1")),
        ("line2", lambda v: text(v, required=False, what="line2")),
        ("locality", lambda v: text(v, max_length=100, what="locality")),
        ("region", lambda v: parse_state(v, what="region")),
        ("postalcode", parse_postal_code),
    ):
        try:
            out[key] = fn(value.get(key))
        except Invalid as e:
            problems.append(f"{what}.{key}: {e}")
    country = (text(value.get("country"), max_length=2, required=False, what="country") or "US").upper()
    if country != "US":
        problems.append(f"{what}.country: only US addresses are covered")
    out["country"] = "US"
    if problems:
        raise Invalid("; ".join(problems))
    return out


_MONEY = re.compile(r"^\d{1,3}(,\d{3})+(\.\d{1,2})?$|^\d+(\.\d{1,2})?$|^\.\d{1,2}$")


def parse_money_cents(value: Any, *, what: str = "wage") -> int:
    """Dollars as people write them (``$2,500.00``, ``2500``, ``USD 2500.5``) in integer cents.
    An int from JSON is already cents (1099Policy's ``wage``)."""
    if isinstance(value, bool):
        raise Invalid(f"{what} must be an amount")
    if isinstance(value, int):
        return value
    given = text(value, max_length=40, what=what)
    assert given is not None
    cleaned = re.sub(r"^(usd|us\$|\$)\s*|\s*(usd)$", "", given.strip().lower()).replace("$", "").replace(" ", "")
    if cleaned.startswith(("-", "(")):
        raise Invalid(f"{what} cannot be negative")
    if not _MONEY.match(cleaned):
        raise Invalid(f"{given!r} is not an amount in dollars (e.g. 2500 or $2,500.00)")
    try:
        cents = int((Decimal(cleaned.replace(",", "")) * 100).to_integral_exact())
    except (InvalidOperation, ArithmeticError):
        raise Invalid(f"{given!r} is not an amount in dollars") from None
    return cents


def parse_wage_type(value: Any) -> str:
    s = text(value, max_length=40, what="wage type")
    assert s is not None
    key = re.sub(r"[^a-z]", "", s.lower())
    if key not in _WAGE_TYPES:
        raise Invalid(f"{s!r} is not a wage type (flatfee, hourly, unit or blended)")
    return _WAGE_TYPES[key]


_US_DATE = re.compile(r"^(\d{1,2})[/-](\d{1,2})[/-](\d{2}|\d{4})$")
_SLASH_ISO = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$")


def parse_date(value: Any, *, what: str = "date") -> date:
    """A calendar day (UTC) from epoch seconds (1099Policy), an ISO date or date-time, or a US
    date (MM/DD/YYYY, M/D/YY). Day-first dates are not accepted: 03/04/2027 is March 4."""
    if isinstance(value, bool):
        raise Invalid(f"{what} must be a date")
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, UTC).date()
        except (OverflowError, OSError, ValueError):
            raise Invalid(f"{value!r} is not a valid epoch timestamp") from None
    if isinstance(value, date | datetime):
        return value.date() if isinstance(value, datetime) else value
    given = text(value, max_length=40, what=what)
    assert given is not None
    try:
        if given.isdigit() and len(given) >= 9:  # epoch seconds sent as a string
            return datetime.fromtimestamp(int(given), UTC).date()
        m = _US_DATE.match(given)
        if m:
            month, day, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
            if year < 100:
                year += 2000
            return date(year, month, day)
        m = _SLASH_ISO.match(given)
        if m:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if "T" in given or " " in given:
            parsed = datetime.fromisoformat(given.replace("Z", "+00:00"))
            return (parsed.astimezone(UTC) if parsed.tzinfo else parsed).date()
        return date.fromisoformat(given)
    except (ValueError, OverflowError, OSError):
        raise Invalid(f"{given!r} is not a date (use YYYY-MM-DD or MM/DD/YYYY)") from None


def date_to_epoch(day: date | None) -> int | None:
    """1099Policy's dates: epoch seconds of the day's start (UTC)."""
    if day is None:
        return None
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def parse_coverage_types(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise Invalid("coverage types must be a non-empty list of 'general' and 'workers-comp'")
    out: list[str] = []
    for item in value:
        if item not in COVERAGE_TYPES:
            raise Invalid(f"{item!r} is not a coverage type offered (general, workers-comp)")
        if item not in out:
            out.append(item)
    return [c for c in COVERAGE_TYPES if c in out]  # canonical order


def parse_tax_id(value: Any) -> str | None:
    """An SSN or EIN: nine digits, with or without dashes. Kept as entered (normalised)."""
    s = text(value, max_length=20, required=False, what="tax identification")
    if s is None:
        return None
    digits = re.sub(r"[\s-]", "", s)
    if not re.fullmatch(r"\d{9}", digits):
        raise Invalid("tax identification must be an SSN or EIN of nine digits")
    return f"{digits[:2]}-{digits[2:]}" if "-" in s and s.index("-") == 2 else f"{digits[:3]}-{digits[3:5]}-{digits[5:]}"
