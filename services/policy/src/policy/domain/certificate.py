"""What a Certificate of Insurance says, independent of how it is drawn. No I/O.

A `CertificateDocument` holds every value printed on the certificate; it is stored with the
PDF, so that the certificate can be drawn again (for example stamped "superseded") exactly as
it was issued.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime

import msgspec

__all__ = [
    "COVERAGE_LABELS",
    "SAMPLE_CERTIFICATE",
    "CertificateDocument",
    "certificate_filename",
    "dollars",
    "new_certificate_number",
    "new_policy_number",
]

COVERAGE_LABELS = {
    "general": "Commercial General Liability",
    "workers-comp": "Workers' Compensation and Employers' Liability",
    "professional": "Professional Liability",
}

# Crockford's base32: no I, L, O or U, so a number read aloud is not misheard.
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _code(length: int = 8) -> str:
    return "".join(secrets.choice(_CROCKFORD) for _ in range(length))


def new_policy_number(year: int) -> str:
    """``T99-2026-7KQ4M2XD``: random (40 bits), so numbering needs no shared counter."""
    return f"T99-{year}-{_code()}"


def new_certificate_number(year: int) -> str:
    """``COI-2026-9F3HW6TR``."""
    return f"COI-{year}-{_code()}"


def certificate_filename(number: str) -> str:
    return f"ten99_coi_{number}.pdf"


def dollars(cents: int) -> str:
    """``100_000_000`` -> ``$1,000,000`` (cents shown only when there are any)."""
    whole, rest = divmod(abs(cents), 100)
    sign = "-" if cents < 0 else ""
    return f"{sign}${whole:,}" + (f".{rest:02d}" if rest else "")


class CertificateDocument(msgspec.Struct, frozen=True, kw_only=True):
    certificate_number: str
    policy_number: str
    issued_at: datetime
    producer_name: str
    insurer_name: str
    insured_name: str
    insured_business: str | None = None
    insured_address: list[str] = []
    holder_name: str
    company_name: str | None = None
    job_name: str
    assignment_id: str
    work_state: str | None = None
    coverage_types: list[str]
    aggregate_limit_cents: int
    occurrence_limit_cents: int
    effective_date: date
    end_date: date
    supersedes_number: str | None = None
    #: ``<public base URL>/verify/<verification id>``: printed with its QR code; the page it opens shows
    #: the certificate's live status (None on certificates issued before verification existed)
    verification_url: str | None = None
    #: printed across the top when the certificate is no longer current
    stamp: str | None = None

    def coverage_lines(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """(coverage, [(limit name, amount)]) for each coverage type, in a fixed order."""
        lines: list[tuple[str, list[tuple[str, str]]]] = []
        for kind in ("general", "professional", "workers-comp"):
            if kind not in self.coverage_types:
                continue
            if kind == "workers-comp":
                limits = [
                    ("Per statute", f"Yes ({self.work_state})" if self.work_state else "Yes"),
                    ("E.L. each accident", dollars(self.occurrence_limit_cents)),
                ]
            else:
                limits = [
                    ("Each occurrence", dollars(self.occurrence_limit_cents)),
                    ("General aggregate", dollars(self.aggregate_limit_cents)),
                ]
            lines.append((COVERAGE_LABELS[kind], limits))
        for kind in self.coverage_types:
            if kind not in COVERAGE_LABELS:
                lines.append((kind.replace("-", " ").title(), [("Limit", dollars(self.occurrence_limit_cents))]))
        return lines


#: a filled-in certificate: what the renderer warms up on, what the tests read back and what the
#: benchmark times
SAMPLE_CERTIFICATE = CertificateDocument(
    certificate_number="COI-2026-9F3HW6TR",
    policy_number="T99-2026-7KQ4M2XD",
    issued_at=datetime(2026, 11, 2, 15, 4, 5, tzinfo=UTC),
    producer_name="ten99 Insurance Services",
    insurer_name="ten99 Program Carrier (A+ rated)",
    insured_name="Ada Lovelace",
    insured_business="Analytical Engines LLC",
    insured_address=["2211 Mission St", "Apt 4", "San Francisco, CA 94110"],
    holder_name="Nike",
    company_name="Acme Talent Agency",
    job_name="Content creator",
    assignment_id="an_6Tg1Nh7Pk3Rm9Vs2Xu5Wq8",
    work_state="CA",
    coverage_types=["general", "workers-comp"],
    aggregate_limit_cents=200_000_000,
    occurrence_limit_cents=100_000_000,
    effective_date=date(2026, 11, 10),
    end_date=date(2026, 12, 9),
    verification_url="https://ten99.example/verify/vrf_Qx7Kp2Lm9Nv4Rt8Wy3Zb6Cd1Fg5",
)
