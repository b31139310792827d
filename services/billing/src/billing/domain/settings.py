"""A company's billing settings and their rules. No I/O.

- ``billing_email``: where invoices are copied and PO reminders go. Until a company sets one,
  the company owner's email (from ``CompanyCreatedV1``) is used. Setting it to null goes back
  to that default.
- ``premium_payer``: ``company`` (the company remits the premium; its invoices carry it) or
  ``contractor`` (the contractor pays the premium; the company's invoices carry the platform
  access fee only). A job's ``withhold_premium`` overrides it per assignment.
- ``platform_fee_bps``: the platform access fee, in basis points of pay (150 = 1.5 %), 0-10000.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["PREMIUM_PAYERS", "BillingSettingsValues", "SettingsChange", "apply_change", "is_email", "validate_change"]

PREMIUM_PAYERS = ("company", "contractor")
MAX_FEE_BPS = 10_000
# one @, no spaces, a dot in the domain: what a mail server accepts in practice
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")


def is_email(value: str) -> bool:
    return len(value) <= 254 and bool(_EMAIL.match(value))


@dataclass(frozen=True)
class BillingSettingsValues:
    #: the email explicitly set, None if the company uses the default
    billing_email: str | None
    premium_payer: str
    platform_fee_bps: int
    owner_email: str | None = None

    @property
    def effective_billing_email(self) -> str | None:
        return self.billing_email or self.owner_email


@dataclass(frozen=True)
class SettingsChange:
    """Fields a PUT asked to change; absent fields keep their value."""

    billing_email: str | None = None
    set_billing_email: bool = False
    premium_payer: str | None = None
    platform_fee_bps: int | None = None


def validate_change(body: Any) -> tuple[SettingsChange | None, dict[str, str]]:
    """Parse a PUT body; returns the change, or field errors (then nothing changes)."""
    errors: dict[str, str] = {}
    if not isinstance(body, dict):
        return None, {"body": "expected a JSON object"}
    known = {"billing_email", "premium_payer", "platform_fee_bps"}
    if not known & body.keys():
        return None, {"body": f"give at least one of {', '.join(sorted(known))}"}
    change: dict[str, Any] = {}
    if "billing_email" in body:
        email = body["billing_email"]
        if email is None or (isinstance(email, str) and not email.strip()):
            change.update(billing_email=None, set_billing_email=True)
        elif not isinstance(email, str) or not is_email(email.strip()):
            errors["billing_email"] = "must be an email address like billing@example.com (or null for the default)"
        else:
            change.update(billing_email=email.strip(), set_billing_email=True)
    if "premium_payer" in body:
        payer = body["premium_payer"]
        if payer not in PREMIUM_PAYERS:
            errors["premium_payer"] = f"must be one of {', '.join(PREMIUM_PAYERS)}"
        else:
            change["premium_payer"] = payer
    if "platform_fee_bps" in body:
        bps = body["platform_fee_bps"]
        if isinstance(bps, bool) or not isinstance(bps, int) or not 0 <= bps <= MAX_FEE_BPS:
            errors["platform_fee_bps"] = f"must be an integer from 0 to {MAX_FEE_BPS} (basis points of pay: 150 = 1.5 %)"
        else:
            change["platform_fee_bps"] = bps
    if errors:
        return None, errors
    return SettingsChange(**change), {}


def apply_change(current: BillingSettingsValues, change: SettingsChange) -> BillingSettingsValues:
    return BillingSettingsValues(
        billing_email=change.billing_email if change.set_billing_email else current.billing_email,
        premium_payer=change.premium_payer or current.premium_payer,
        platform_fee_bps=current.platform_fee_bps if change.platform_fee_bps is None else change.platform_fee_bps,
        owner_email=current.owner_email,
    )
