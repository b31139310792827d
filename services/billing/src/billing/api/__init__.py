"""The billing service's internal HTTP API (the gateway calls it with ``X-Tenant-Id``).

- ``GET|PUT /v1/settings`` ``{billing_email, premium_payer, platform_fee_bps}``
- ``GET /v1/invoices`` (``?status=open|paid|void``, ``?po_number=``, ``limit``, ``starting_after``,
  ``ending_before``), ``GET /v1/invoices/{id}`` (with lines and credits), ``GET /v1/invoices/{id}/pdf``,
  ``POST /v1/invoices/{id}/mark-paid``, ``POST /v1/invoices/{id}/void {reason}``

Invoices are returned in 1099Policy's style: prefixed ``id``, ``object``, times and dates as Unix
epoch seconds (dates at 00:00 UTC), money in integer cents.
"""

from .routes import route_handlers

__all__ = ["route_handlers"]
