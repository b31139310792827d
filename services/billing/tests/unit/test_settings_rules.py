"""Billing settings validation (billing.domain.settings) and PO reminder recipients."""

from __future__ import annotations

import re
from typing import Any

import msgspec
import pytest
from billing.api.schemas import SettingsUpdate
from billing.application.reminders import reminder_recipients
from billing.domain.settings import BillingSettingsValues, InvalidSettings, SettingsChange, apply_change, validate_change


def parse(body: Any) -> SettingsChange:
    """A PUT body as the API reads it (its Struct), then checked by the domain's rules."""
    return validate_change(msgspec.convert(body, SettingsUpdate).change())


def errors_of(body: Any) -> dict[str, str]:
    """The fields at fault in a PUT body: its shape (the Struct) or the domain's rules."""
    try:
        parse(body)
    except msgspec.ValidationError as e:
        at = re.search(r"at `\$\.(\w+)`", str(e))
        return {at.group(1) if at else "body": str(e)}
    except InvalidSettings as e:
        return e.errors
    return {}


CURRENT = BillingSettingsValues(billing_email=None, premium_payer="company", platform_fee_bps=0, owner_email="owner@acme.test")


def test_a_valid_change_is_parsed() -> None:
    change = parse({"billing_email": " billing@acme.test ", "premium_payer": "contractor", "platform_fee_bps": 150})
    assert change == SettingsChange(
        billing_email="billing@acme.test", set_billing_email=True, premium_payer="contractor", platform_fee_bps=150
    )
    new = apply_change(CURRENT, change)
    assert new.effective_billing_email == "billing@acme.test"
    assert (new.premium_payer, new.platform_fee_bps) == ("contractor", 150)


def test_the_billing_email_defaults_to_the_owner_and_null_goes_back_to_it() -> None:
    assert CURRENT.effective_billing_email == "owner@acme.test"
    change = parse({"billing_email": None})
    assert change.set_billing_email and change.billing_email is None
    assert parse({"billing_email": "  "}) == change  # empty: the default too
    set_before = BillingSettingsValues("b@acme.test", "company", 0, "owner@acme.test")
    assert apply_change(set_before, change).effective_billing_email == "owner@acme.test"


def test_absent_fields_keep_their_value() -> None:
    change = parse({"platform_fee_bps": 0})
    current = BillingSettingsValues("b@acme.test", "contractor", 300, None)
    assert apply_change(current, change) == BillingSettingsValues("b@acme.test", "contractor", 0, None)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"billing_email": "not-an-email"}, "billing_email"),
        ({"billing_email": "a@b"}, "billing_email"),
        ({"billing_email": "two words@acme.test"}, "billing_email"),
        ({"billing_email": "billing@acme.local"}, "billing_email"),  # a special-use domain: never receives mail
        ({"billing_email": 42}, "billing_email"),
        ({"premium_payer": "platform"}, "premium_payer"),
        ({"premium_payer": None}, "premium_payer"),
        ({"platform_fee_bps": -1}, "platform_fee_bps"),
        ({"platform_fee_bps": 10_001}, "platform_fee_bps"),
        ({"platform_fee_bps": 1.5}, "platform_fee_bps"),
        ({"platform_fee_bps": "150"}, "platform_fee_bps"),
        ({"platform_fee_bps": True}, "platform_fee_bps"),
        ({}, "body"),
        ([], "body"),
    ],
)
def test_bad_input_is_reported_by_field(body: Any, field: str) -> None:
    assert field in errors_of(body)


def test_the_fee_bounds_are_inclusive() -> None:
    assert errors_of({"platform_fee_bps": 0}) == {}
    assert errors_of({"platform_fee_bps": 10_000}) == {}


def test_the_billing_email_is_stored_in_its_one_form() -> None:
    assert parse({"billing_email": "Billing@ACME.test"}).billing_email == "billing@acme.test"


def test_reminder_recipients_are_deduplicated_and_skip_empty_or_odd_values() -> None:
    assert reminder_recipients("ops@acme.test", "billing@acme.test") == ["ops@acme.test", "billing@acme.test"]
    assert reminder_recipients("OPS@acme.test", "ops@acme.test") == ["OPS@acme.test"]
    assert reminder_recipients(None, "billing@acme.test") == ["billing@acme.test"]
    assert reminder_recipients("", "  ", None) == []
    assert reminder_recipients("us_3xYz", "billing@acme.test") == ["billing@acme.test"]  # a user id, not an address
