"""The opt-in form as the gateway posts it, and its check: merged with what the company entered
(omitted details keep the prefill; the email cannot change), then validated field by field.

A form with problems is one 400 ``invalid_input`` whose message maps each form field path
(``address.region``, ``answers.is_adult``, ``consent.signed_name``) to what is wrong, so the page
can show them all at once. Answers that make the contractor ineligible are not input errors:
they become the reasons of an ineligible application.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import msgspec
from ten99_contracts.common import AddressInput
from ten99kit import InvalidInput
from ten99kit.db import Row

from ..domain.eligibility import age_on, evaluate_answers, phone_problem, signature_matches
from ..domain.states import US_STATES

__all__ = [
    "ClientInfo",
    "ConfirmedDetails",
    "ConsentInput",
    "ContactDetails",
    "DetailsInput",
    "OptInSubmission",
    "check_details",
    "check_submission",
]

#: the most characters a first or last name may have
MAX_NAME = 100
ADDRESS_FIELDS = ("line1", "line2", "locality", "region", "postalcode", "country")


class ConsentInput(msgspec.Struct, kw_only=True):
    agreed: bool | str | None = None
    signed_name: str | None = None


class DetailsInput(msgspec.Struct, kw_only=True):
    """The details a contractor may correct, on the opt-in form and in the portal. Omitted
    details keep what the company entered."""

    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    address: AddressInput | None = None


class OptInSubmission(DetailsInput, kw_only=True):
    """The form as the gateway posts it."""

    date_of_birth: date | None = None
    #: booleans, or "yes"/"no" strings (form posts)
    answers: dict[str, bool | str | None] = {}
    consent: ConsentInput | None = None
    #: the contractor's browser, as the gateway saw it (else taken from forwarding headers)
    ip_address: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True)
class ClientInfo:
    """The contractor's browser, recorded with the consent."""

    ip_address: str | None
    user_agent: str | None


@dataclass(frozen=True)
class ContactDetails:
    """The details a contractor corrected, merged with the prefill and checked."""

    first_name: str
    last_name: str
    phone: str | None
    address: dict[str, str | None]


@dataclass(frozen=True)
class ConfirmedDetails:
    """What the contractor confirmed: the form merged with the prefill, checked."""

    first_name: str
    last_name: str
    phone: str | None
    address: dict[str, str | None]
    date_of_birth: date | None
    answers: dict[str, bool]
    signed_name: str


_ZIP = re.compile(r"^\d{5}(-\d{4})?$")
_YES = {"yes", "true", "y", "1", "on"}
_NO = {"no", "false", "n", "0", "off"}

#: form field path -> what is wrong with it
Problems = dict[str, str]


def _as_bool(value: bool | str | None) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    word = value.strip().lower()
    return True if word in _YES else False if word in _NO else None


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    return value or None


def check_submission(form: OptInSubmission, contractor: Row, today: date) -> tuple[ConfirmedDetails, list[str]]:
    """Merge the form with the prefill and check it: the confirmed details and the reasons the
    contractor is ineligible (none: eligible). Raises 400 with every field's problem."""
    errors: Problems = {}
    first, last, phone, address = _details(form, contractor, errors)
    reasons = _age_reasons(form.date_of_birth, today, errors)
    answers = _answers(form.answers, errors, reasons)
    signed = _signature(form.consent or ConsentInput(), first, last, errors)
    if errors:
        raise InvalidInput(errors)
    assert first and last and signed
    details = ConfirmedDetails(
        first_name=first,
        last_name=last,
        phone=phone,
        address=address,
        date_of_birth=form.date_of_birth,
        answers=answers,
        signed_name=signed,
    )
    return details, reasons


def check_details(form: DetailsInput, contractor: Row) -> ContactDetails:
    """The corrected details merged with the prefill and checked (the portal's correction, the
    opt-in form's check of the same fields). Raises 400 with every field's problem."""
    errors: Problems = {}
    first, last, phone, address = _details(form, contractor, errors)
    if errors:
        raise InvalidInput(errors)
    assert first and last
    return ContactDetails(first_name=first, last_name=last, phone=phone, address=address)


def _details(
    form: DetailsInput, contractor: Row, errors: Problems
) -> tuple[str | None, str | None, str | None, dict[str, str | None]]:
    first = _name(form.first_name, contractor["first_name"], "first_name", errors)
    last = _name(form.last_name, contractor["last_name"], "last_name", errors)
    phone = _clean(form.phone) if form.phone is not None else contractor["phone"]
    if phone and (problem := phone_problem(phone)):
        errors["phone"] = problem
    address = _address(form.address, contractor["address"], errors)
    return first, last, phone, {k: address.get(k) for k in ADDRESS_FIELDS}


def _name(given: str | None, prefilled: str | None, key: str, errors: Problems) -> str | None:
    value = _clean(given) if given is not None else prefilled
    if not value:
        errors[key] = "Required."
    elif len(value) > MAX_NAME:
        errors[key] = f"At most {MAX_NAME} characters."
    return value


def _address(given: AddressInput | None, prefilled: dict[str, Any] | None, errors: Problems) -> dict[str, Any]:
    """The mailing address, its country and U.S. state upper-cased."""
    address = {k: _clean(v) for k, v in msgspec.structs.asdict(given).items()} if given is not None else dict(prefilled or {})
    country = (address.get("country") or "US").upper()
    address["country"] = country
    for key in ("line1", "locality", "postalcode"):
        if not address.get(key):
            errors[f"address.{key}"] = "Required."
    if country == "US":
        region = (address.get("region") or "").upper()
        address["region"] = region
        if region not in US_STATES:
            errors["address.region"] = "Choose a U.S. state (two letters, e.g. CA)."
        postalcode = address.get("postalcode")
        if postalcode and not _ZIP.match(postalcode):
            errors["address.postalcode"] = "A ZIP code has 5 digits (or 5+4)."
    elif len(country) != 2 or not country.isalpha():
        errors["address.country"] = "A two-letter country code, e.g. US."
    if not address.get("region"):
        errors.setdefault("address.region", "Required.")
    return address


def _age_reasons(date_of_birth: date | None, today: date, errors: Problems) -> list[str]:
    """The date of birth is optional; given, it must be plausible, and under 18 is ineligible."""
    if date_of_birth is None:
        return []
    if date_of_birth >= today:
        errors["date_of_birth"] = "A date of birth is in the past."
    elif age_on(date_of_birth, today) > 120:
        errors["date_of_birth"] = "Please check the year."
    elif age_on(date_of_birth, today) < 18:
        return ["You must be at least 18 years old to be insured."]
    return []


def _answers(given: dict[str, bool | str | None], errors: Problems, reasons: list[str]) -> dict[str, bool]:
    """The eligibility answers as booleans; the reasons they give are added to ``reasons``."""
    parsed: dict[str, bool | None] = {}
    for key, value in given.items():
        answer = _as_bool(value)
        if value is not None and answer is None:
            errors[f"answers.{key}"] = "Answer yes or no."
        parsed[key] = answer
    answer_errors, answer_reasons = evaluate_answers(parsed)
    for key, message in answer_errors.items():
        errors.setdefault(key, message)
    reasons.extend(r for r in answer_reasons if r not in reasons)
    return {k: bool(v) for k, v in parsed.items()}


def _signature(consent: ConsentInput, first: str | None, last: str | None, errors: Problems) -> str | None:
    if _as_bool(consent.agreed) is not True:
        errors["consent.agreed"] = "You must agree to the terms to opt in."
    signed = _clean(consent.signed_name)
    if not signed:
        errors["consent.signed_name"] = "Type your full name to sign."
    elif first and last and not signature_matches(signed, first, last):
        errors["consent.signed_name"] = f"The signature must be your name as entered above ({first} {last})."
    return signed
