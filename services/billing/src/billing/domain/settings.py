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

from dataclasses import dataclass
from typing import Literal

from ten99kit.emails import InvalidEmail, parse_email

__all__ = [
    "FIELD_RULES",
    "MAX_FEE_BPS",
    "PREMIUM_PAYERS",
    "BillingSettingsValues",
    "InvalidSettings",
    "SettingsChange",
    "apply_change",
    "validate_change",
]

PremiumPayer = Literal["company", "contractor"]
PREMIUM_PAYERS: tuple[PremiumPayer, ...] = ("company", "contractor")
MAX_FEE_BPS = 10_000
#: what each field must be, as a change that breaks the rule is told
FIELD_RULES = {
    "billing_email": "must be an email address like billing@example.com (or null for the default)",
    "premium_payer": f"must be one of {', '.join(PREMIUM_PAYERS)}",
    "platform_fee_bps": f"must be an integer from 0 to {MAX_FEE_BPS} (basis points of pay: 150 = 1.5 %)",
}


class InvalidSettings(ValueError):
    """A change that breaks the rules: ``errors`` says what is wrong with which field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.errors = errors


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


def validate_change(change: SettingsChange) -> SettingsChange:
    """The change with its billing email in its one stored form (an empty one goes back to the
    default), or ``InvalidSettings`` naming every field at fault (then nothing changes)."""
    if not change.set_billing_email and change.premium_payer is None and change.platform_fee_bps is None:
        raise InvalidSettings({"body": f"give at least one of {', '.join(sorted(FIELD_RULES))}"})
    errors: dict[str, str] = {}
    email = (change.billing_email or "").strip() or None
    if change.set_billing_email and email is not None:
        try:
            email = parse_email(email)
        except InvalidEmail:
            errors["billing_email"] = FIELD_RULES["billing_email"]
    if change.premium_payer is not None and change.premium_payer not in PREMIUM_PAYERS:
        errors["premium_payer"] = FIELD_RULES["premium_payer"]
    bps = change.platform_fee_bps
    if bps is not None and (isinstance(bps, bool) or not isinstance(bps, int) or not 0 <= bps <= MAX_FEE_BPS):
        errors["platform_fee_bps"] = FIELD_RULES["platform_fee_bps"]
    if errors:
        raise InvalidSettings(errors)
    return SettingsChange(
        billing_email=email if change.set_billing_email else None,
        set_billing_email=change.set_billing_email,
        premium_payer=change.premium_payer,
        platform_fee_bps=bps,
    )


def apply_change(current: BillingSettingsValues, change: SettingsChange) -> BillingSettingsValues:
    return BillingSettingsValues(
        billing_email=change.billing_email if change.set_billing_email else current.billing_email,
        premium_payer=change.premium_payer or current.premium_payer,
        platform_fee_bps=current.platform_fee_bps if change.platform_fee_bps is None else change.platform_fee_bps,
        owner_email=current.owner_email,
    )
