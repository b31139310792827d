"""Settings of the billing service (env prefix ``BILLING_``, nested with ``__``).

- ``BILLING_INVOICING__SETTLE_S`` (1.0): a PO's new lines are invoiced once no line became ready
  for that PO for this long, so that one PO set on many assignments lands on one invoice.
- ``BILLING_INVOICING__MAX_WAIT_S`` (10.0): ... but never later than this after the first one.
- ``BILLING_INVOICING__POLL_INTERVAL_S`` (0.5): how often the worker looks for ready lines
  (it is also woken right after a consumer commit).
- ``BILLING_INVOICING__DUE_DAYS`` (30): invoices are due this many days after issue.
- ``BILLING_INVOICING__MAX_LINES`` (1000): lines per invoice; a larger group is split into
  several invoices for the same PO and period (keeps each message well under NATS's 1 MB).
- ``BILLING_INVOICING__ISSUER_NAME`` ("ten99"): who the invoice PDF says it is from.
- ``BILLING_DEFAULTS__PREMIUM_PAYER`` ("company"), ``BILLING_DEFAULTS__PLATFORM_FEE_BPS`` (0):
  a company's settings until it changes them.
- ``BILLING_PO_REMINDER__DELAY_HOURS`` (72): PO reminder this long after an upload.
- ``BILLING_PO_REMINDER__MAX_LISTED`` (500): assignments listed in one reminder (the count is
  always complete).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, Field
from ten99kit.settings import ServiceSettings, service_settings_config

__all__ = ["BillingDefaults", "BillingSettings", "InvoicingSettings", "PoReminderSettings"]


class InvoicingSettings(BaseModel):
    #: a PO's new lines are invoiced once no line became ready for that PO for this long, so that
    #: one PO set on many assignments lands on one invoice
    settle_s: float = 1.0
    #: ... but at the latest this long after the first of those lines became ready
    max_wait_s: float = 10.0
    #: how often the worker looks for ready lines (it is also woken right after a consumer commit)
    poll_interval_s: float = 0.5
    #: invoices are due this many days after issue
    due_days: int = Field(default=30, ge=0)
    #: lines per invoice; a larger group is split into several invoices for the same PO and period
    #: (keeps each message well under NATS's 1 MB)
    max_lines: int = Field(default=1000, ge=1, le=2000)
    #: who the invoice PDF says it is from
    issuer_name: str = "ten99"


class BillingDefaults(BaseModel):
    #: who pays the premium for a company that has not chosen yet
    premium_payer: Literal["company", "contractor"] = "company"
    #: the platform fee, in basis points, for a company that has not set one
    platform_fee_bps: int = Field(default=0, ge=0, le=10_000)


class PoReminderSettings(BaseModel):
    #: the PO reminder goes out this long after an upload
    delay_hours: float = 72.0
    #: assignments listed in one reminder (the count is always complete)
    max_listed: int = Field(default=500, ge=1, le=2000)


class BillingSettings(ServiceSettings):
    model_config = service_settings_config("BILLING_")

    service_name: ClassVar[str] = "billing"
    default_port: ClassVar[int] = 8004

    invoicing: InvoicingSettings = Field(default_factory=InvoicingSettings)
    defaults: BillingDefaults = Field(default_factory=BillingDefaults)
    po_reminder: PoReminderSettings = Field(default_factory=PoReminderSettings)
