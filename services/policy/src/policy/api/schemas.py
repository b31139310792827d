"""What the policy API answers, as msgspec Structs (so the OpenAPI documents each body). Every
key is always present, null when there is no value, as the gateway and the SDK expect."""

from __future__ import annotations

from datetime import date
from typing import Literal

import msgspec

__all__ = ["Certificate", "CertificateUrls", "Coverage", "CoverageCertificate", "InForce", "Policy"]


class CertificateUrls(msgspec.Struct, frozen=True, kw_only=True):
    """The signed download links of a policy's newest current certificates, per coverage."""

    gl_coi_pdf_url: str | None
    wc_coi_pdf_url: str | None


class Policy(msgspec.Struct, frozen=True, kw_only=True):
    """1099Policy's policy shape. Dates are Unix seconds (a day is its midnight, UTC)."""

    id: str
    object: Literal["policy"] = "policy"
    contractor: str
    policy_number: str
    quote: str | None
    status: str
    coverage_type: list[str]
    home_state: str | None
    effective_date: int | None
    #: the end of the newest coverage not cancelled; null before any coverage
    expiration_date: int | None
    assignments: int
    pdf_url: str | None = None
    certificates: CertificateUrls
    created: int | None


class CoverageCertificate(msgspec.Struct, frozen=True, kw_only=True):
    """A coverage's current certificate: the company's download and the contractor's signed link."""

    certificate_id: str
    number: str | None
    issued_at: str | None
    pdf_url: str
    download_url: str


class Coverage(msgspec.Struct, frozen=True, kw_only=True):
    """One assignment's coverage. Days and instants are ISO 8601."""

    coverage_id: str
    assignment_id: str
    contractor_id: str
    policy_id: str
    policy_number: str
    status: str
    effective_date: date
    end_date: date
    coverage_types: list[str]
    net_rate: int
    bound_at: str
    cancel_reason: str | None
    certificate: CoverageCertificate | None


class InForce(msgspec.Struct, frozen=True, kw_only=True):
    """Whether a contractor is covered for a job during some days."""

    in_force: bool


class Certificate(msgspec.Struct, frozen=True, kw_only=True):
    """A Certificate of Insurance issued, current or not. Days and instants are ISO 8601."""

    certificate_id: str
    number: str
    status: str
    reason: str
    coverage_id: str
    assignment_id: str
    contractor_id: str
    policy_number: str
    holder_name: str
    coverage_types: list[str]
    effective_date: date
    end_date: date
    issued_at: str
    supersedes: str | None
    superseded_by: str | None
    pdf_url: str
