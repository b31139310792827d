"""Live certificates: the verification id printed (as a URL and a QR code) on every certificate,
and the status its public page shows on a given day. No I/O.

The id is the only key to the public page, so it is a secret of 160 random bits
(``secrets.token_urlsafe(20)``), unrelated to the certificate's id or number: it cannot be guessed
or counted through. Whoever holds the paper (or the PDF) can check it; nobody else can find it.
"""

from __future__ import annotations

import re
import secrets
from datetime import date

__all__ = [
    "ACTIVE",
    "CANCELLED",
    "EXPIRED",
    "SCHEDULED",
    "SUPERSEDED",
    "VERIFICATION_ID",
    "is_verification_id",
    "live_status",
    "new_verification_id",
]

#: ``vrf_`` and 27 base64url characters (20 random bytes)
VERIFICATION_ID = re.compile(r"vrf_[A-Za-z0-9_-]{27}")

SCHEDULED = "scheduled"
ACTIVE = "active"
EXPIRED = "expired"
CANCELLED = "cancelled"
SUPERSEDED = "superseded"


def new_verification_id() -> str:
    """``vrf_`` and 160 random bits, URL-safe."""
    return "vrf_" + secrets.token_urlsafe(20)


def is_verification_id(value: object) -> bool:
    return isinstance(value, str) and VERIFICATION_ID.fullmatch(value) is not None


def live_status(
    *,
    certificate_status: str,
    coverage_status: str,
    policy_status: str,
    effective_date: date,
    end_date: date,
    today: date,
) -> str:
    """What the certificate proves today, the first that applies:

    - ``superseded``: a newer certificate for the same coverage exists (new dates); the page links to it;
    - ``cancelled``: the coverage was cancelled (its certificate voided) or the policy was
      (a deleted contractor's), whatever the dates say;
    - ``scheduled`` before the first covered day, ``expired`` after the last (dates inclusive, UTC),
      ``active`` in between. The dates decide, not the coverage's stored status, so the page is
      right on the day even before the clock-driven job has moved the row.
    """
    if certificate_status == "superseded":
        return SUPERSEDED
    if certificate_status == "void" or coverage_status == CANCELLED or policy_status == CANCELLED:
        return CANCELLED
    if today < effective_date:
        return SCHEDULED
    if today > end_date:
        return EXPIRED
    return ACTIVE
