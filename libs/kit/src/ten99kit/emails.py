"""Email addresses, parsed one way everywhere (``email-validator``, no DNS lookups).

The rules: the syntax of RFC 5321/5322 as mail servers accept it (one ``@``, a dot in the domain,
no spaces, at most 254 characters; internationalised addresses allowed); the domain lower-cased
by IDNA and, as a product choice, the local part too, so that ``Ana@Example.com`` and
``ana@example.com`` are one contractor and one login. Special-use domains that can never receive
mail (``.local``, ``.localhost``, ``.invalid``, ``.onion``, ``.arpa``) are refused; ``.test``
(RFC 6761, reserved for testing) is accepted, so demos and tests use it and a mail to it never
reaches a stranger."""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email

__all__ = ["MAX_EMAIL_LENGTH", "InvalidEmail", "is_email", "parse_email"]

MAX_EMAIL_LENGTH = 254


#: email-validator costs some 50-100 µs an address, and a 100,000-row import checks one per row.
#: An address of this plain ASCII shape (a dot-atom local part of at most 64 characters; domain
#: labels without a double hyphen, under a common top-level domain) is one email-validator accepts
#: as it is, lower-cased, so it skips the full parse; every other address gets the full parse,
#: which alone decides what is refused. The kit's tests check that the two agree.
_PLAIN = re.compile(
    r"(?=[^@]{1,64}@)[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*@(?:(?!-)(?!.*--)[a-z0-9-]{1,63}(?<!-)\.)+"
    r"(?:com|org|net|edu|gov|us|io|co|biz|info|test)",
    re.ASCII,
)


class InvalidEmail(ValueError):
    """Not an address ten99 can send to; the message says why, for the user."""


def parse_email(value: str) -> str:
    """The address in its one stored form, or ``InvalidEmail``."""
    text = (value or "").strip()
    if not text:
        raise InvalidEmail("An email address is required")
    if len(text) > MAX_EMAIL_LENGTH:
        raise InvalidEmail(f"An email address has at most {MAX_EMAIL_LENGTH} characters")
    lowered = text.lower()
    if _PLAIN.fullmatch(lowered):
        return lowered
    try:
        parsed = validate_email(text, check_deliverability=False, test_environment=True)
    except EmailNotValidError as e:
        raise InvalidEmail(f"{text!r} is not a valid email address: {e}") from None
    return parsed.normalized.lower()


def is_email(value: str) -> bool:
    try:
        parse_email(value)
    except InvalidEmail:
        return False
    return True
