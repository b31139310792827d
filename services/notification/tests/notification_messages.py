"""Messages of other contexts as the notification service receives them, built for tests.
Imported by the tests as ``notification_messages`` (the tests folder is put on ``sys.path``)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from fpdf import FPDF
from ten99_contracts import Address, AssignmentQuote, CoverageTerms, Envelope
from ten99_contracts.billing_v1 import (
    InvoiceIssuedV1,
    InvoiceLine,
    InvoicePaidV1,
    InvoiceVoidedV1,
    MissingPoAssignment,
    PoReminderDueV1,
)
from ten99_contracts.contractor_v1 import AssignmentCancelledV1, ContractorRegisteredV1, ContractorUpdatedV1
from ten99_contracts.enrollment_v1 import (
    ApplicationCompletedV1,
    ApplicationIneligibleV1,
    ApplicationStartedV1,
    Consent,
    InvitationExpiredV1,
    InvitationIssuedV1,
    InvitationReminderDueV1,
)
from ten99_contracts.gateway_v1 import CompanyCreatedV1
from ten99_contracts.policy_v1 import (
    CertificateIssuedV1,
    CoverageActivatedV1,
    CoverageCancelledV1,
    CoverageExtendedV1,
    PolicyActivatedV1,
    PolicyCancelledV1,
    PolicyReactivatedV1,
    UploadedCertificateFailure,
    UploadedCertificateReviewedV1,
)

AT = datetime(2026, 11, 2, 15, 4, 5, tzinfo=UTC)


def pdf_bytes(title: str) -> bytes:
    doc = FPDF()
    doc.set_creation_date(AT)  # the same bytes every time
    doc.add_page()
    doc.set_font("helvetica", size=14)
    doc.cell(text=title)
    return bytes(doc.output())


def company(company_id: str = "co_acme", name: str = "Acme Talent") -> CompanyCreatedV1:
    return CompanyCreatedV1(company_id=company_id, name=name, owner_email="ops@acme.test")


def invitation(n: int = 1, *, email: str | None = None, reissue: bool = False, first_name: str = "Ada") -> InvitationIssuedV1:
    return InvitationIssuedV1(
        invitation_id=f"inv_{n:022d}",
        contractor_id=f"cn_{n:022d}",
        email=email or f"contractor{n}@example.com",
        first_name=first_name,
        last_name="Lovelace",
        opt_in_url=f"http://127.0.0.1:8000/opt-in/token{n}",
        expires_at=datetime(2026, 12, 2, tzinfo=UTC),
        assignment_ids=[f"an_{n:022d}"],
        reissue=reissue,
    )


def reminder(n: int = 1, number: int = 1) -> InvitationReminderDueV1:
    i = invitation(n)
    return InvitationReminderDueV1(
        invitation_id=i.invitation_id,
        contractor_id=i.contractor_id,
        email=i.email,
        first_name=i.first_name,
        last_name=i.last_name,
        opt_in_url=i.opt_in_url,
        expires_at=i.expires_at,
        reminder_number=number,
    )


def terms(n: int = 1, end: date = date(2026, 12, 9)) -> CoverageTerms:
    return CoverageTerms(
        coverage_id=f"cv_{n:022d}",
        policy_id=f"pl_{n:022d}",
        assignment_id=f"an_{n:022d}",
        contractor_id=f"cn_{n:022d}",
        coverage_types=["general", "workers-comp"],
        effective_date=date(2026, 11, 10),
        end_date=end,
        status="scheduled",
        net_rate=65,
        gl_net_rate=20,
        wc_net_rate=45,
    )


def certificate(n: int = 1, *, holder: str = "Nike") -> CertificateIssuedV1:
    return CertificateIssuedV1(
        certificate_id=f"coi_{n:022d}",
        certificate_number=f"COI-2026-{n:06d}",
        coverage_id=f"cv_{n:022d}",
        assignment_id=f"an_{n:022d}",
        contractor_id=f"cn_{n:022d}",
        policy_id=f"pl_{n:022d}",
        policy_number="T99-GL-2026-000123",
        contractor_email=f"contractor{n}@example.com",
        contractor_name="Ada Lovelace",
        holder_name=holder,
        coverage_types=["general", "workers-comp"],
        effective_date=date(2026, 11, 10),
        end_date=date(2026, 12, 9),
        issued_at=AT,
        download_url=f"http://127.0.0.1:8000/certificates/coi_{n:022d}.pdf?token=signed",
        filename=f"ten99_coi_COI-2026-{n:06d}.pdf",
        pdf=pdf_bytes(f"Certificate {n}"),
    )


def uploaded_certificate(n: int = 1, *, status: str = "flagged") -> UploadedCertificateReviewedV1:
    failures = [] if status == "approved" else [UploadedCertificateFailure(rule="limits", hard=False, message="too low")]
    return UploadedCertificateReviewedV1(
        upload_id=f"ci_{n:022d}",
        contractor_id=f"cn_{n:022d}",
        status=status,
        assignment_ids=[f"an_{n:022d}"],
        covered_assignment_ids=[f"an_{n:022d}"] if status == "approved" else [],
        filename="own_coi.pdf",
        sha256="0" * 64,
        failures=failures,
        reviewed_at=AT,
    )


def cancelled(n: int = 1) -> CoverageCancelledV1:
    return CoverageCancelledV1(
        terms=terms(n), reason="client_request", contractor_email=f"contractor{n}@example.com", contractor_name="Ada Lovelace"
    )


def extended(n: int = 1, *, send_email: bool = True, end: date = date(2027, 1, 9)) -> CoverageExtendedV1:
    return CoverageExtendedV1(
        terms=terms(n, end=end),
        previous_end_date=date(2026, 12, 9),
        contractor_email=f"contractor{n}@example.com",
        contractor_name="Ada Lovelace",
        send_email=send_email,
    )


def po_reminder(batch: str = "ib_0000000000000000000001", count: int = 2) -> PoReminderDueV1:
    return PoReminderDueV1(
        import_batch_id=batch,
        filename="spring.csv",
        uploaded_at=AT,
        to_emails=["ops@acme.test", "billing@acme.test"],
        assignments=[
            MissingPoAssignment(
                assignment_id=f"an_{i:022d}",
                contractor_name=f"Contractor {i}",
                contractor_email=f"contractor{i}@example.com",
                job_name="Content creator",
                effective_date=date(2026, 11, 10),
                end_date=date(2026, 12, 9),
            )
            for i in range(1, count + 1)
        ],
    )


def invoice(n: int = 1) -> InvoiceIssuedV1:
    line = InvoiceLine(
        assignment_id="an_0000000000000000000001",
        contractor_name="Ada Lovelace",
        description="Content creator for Nike, 2026-11-10 to 2026-12-09",
        pay_cents=250_000,
        net_rate=65,
        premium_cents=1_625,
        platform_fee_cents=3_750,
        amount_cents=5_375,
    )
    return InvoiceIssuedV1(
        invoice_id=f"in_{n:022d}",
        invoice_number=f"INV-2026-11-{n:04d}",
        po_number="PO-2026-0042",
        period="2026-11",
        to_email="ap@nike.test",
        cc_emails=["billing@acme.test"],
        issued_at=AT,
        due_date=date(2026, 12, 2),
        premium_cents=1_625,
        platform_fee_cents=3_750,
        total_cents=5_375,
        lines=[line],
        filename=f"ten99_invoice_INV-2026-11-{n:04d}.pdf",
        pdf=pdf_bytes(f"Invoice {n}"),
    )


def envelope(message: Any, tenant_id: str = "co_acme", envelope_id: str | None = None) -> Envelope[Any]:
    return Envelope(
        id=envelope_id or str(uuid.uuid4()),
        subject=message.SUBJECT,
        occurred_at=AT,
        tenant_id=tenant_id,
        aggregate_id="agg",
        data=message,
    )


# -- messages that become public events ------------------------------------------------------------

ADDRESS = Address(line1="1 Main St", locality="Oakland", region="CA", postalcode="94607")


def contractor_registered(n: int = 1, *, updated: bool = False) -> ContractorRegisteredV1 | ContractorUpdatedV1:
    kind = ContractorUpdatedV1 if updated else ContractorRegisteredV1
    return kind(
        contractor_id=f"cn_{n:022d}",
        first_name="Ada",
        last_name="Lovelace" if not updated else "King",
        email=f"contractor{n}@example.com",
        phone="+15555550100",
        address=ADDRESS,
        custom_metadata={"campaign": "spring"},
    )


def invitation_expired(n: int = 1) -> InvitationExpiredV1:
    return InvitationExpiredV1(invitation_id=f"inv_{n:022d}", contractor_id=f"cn_{n:022d}")


def application_started(n: int = 1) -> ApplicationStartedV1:
    return ApplicationStartedV1(session_id=f"ias_{n:026d}", contractor_id=f"cn_{n:022d}", invitation_id=f"inv_{n:022d}")


def application_completed(n: int = 1) -> ApplicationCompletedV1:
    quote = AssignmentQuote(
        assignment_id=f"an_{n:022d}",
        quote_id=f"qt_{n:022d}",
        job_id=f"jb_{n:022d}",
        category_code="jc_0000000000000000000001",
        coverage_types=["general", "workers-comp"],
        home_state="CA",
        work_state="CA",
        effective_date=date(2026, 11, 10),
        end_date=date(2026, 12, 9),
        net_rate=65,
        gl_net_rate=20,
        wc_net_rate=45,
    )
    return ApplicationCompletedV1(
        session_id=f"ias_{n:026d}",
        contractor_id=f"cn_{n:022d}",
        first_name="Ada",
        last_name="Lovelace",
        email=f"contractor{n}@example.com",
        address=ADDRESS,
        date_of_birth=date(1990, 1, 1),
        consent=Consent(signed_name="Ada Lovelace", signed_at=AT, text_version="v1", ip_address="203.0.113.9"),
        assignments=[quote],
    )


def application_ineligible(n: int = 1) -> ApplicationIneligibleV1:
    return ApplicationIneligibleV1(session_id=f"ias_{n:026d}", contractor_id=f"cn_{n:022d}", reasons=["under 18"])


def policy_activated(n: int = 1) -> PolicyActivatedV1:
    return PolicyActivatedV1(
        policy_id=f"pl_{n:022d}",
        policy_number="T99-GL-2026-000123",
        contractor_id=f"cn_{n:022d}",
        session_id=f"ias_{n:026d}",
        coverage_types=["general"],
        home_state="CA",
        effective_date=date(2026, 11, 10),
    )


def policy_cancelled(n: int = 1) -> PolicyCancelledV1:
    return PolicyCancelledV1(
        policy_id=f"pl_{n:022d}",
        policy_number="T99-GL-2026-000123",
        contractor_id=f"cn_{n:022d}",
        coverage_types=["general"],
        reason="contractor_deleted",
        cancelled_at=AT,
    )


def policy_reactivated(n: int = 1) -> PolicyReactivatedV1:
    return PolicyReactivatedV1(
        policy_id=f"pl_{n:022d}",
        policy_number="T99-GL-2026-000123",
        contractor_id=f"cn_{n:022d}",
        coverage_types=["general"],
        assignment_id=f"an_{n:022d}",
        reactivated_at=AT,
    )


def coverage_activated(n: int = 1) -> CoverageActivatedV1:
    return CoverageActivatedV1(terms=terms(n))


def assignment_cancelled(n: int = 1) -> AssignmentCancelledV1:
    return AssignmentCancelledV1(
        assignment_id=f"an_{n:022d}", contractor_id=f"cn_{n:022d}", reason="client_request", cancelled_at=AT
    )


def invoice_paid(n: int = 1) -> InvoicePaidV1:
    return InvoicePaidV1(invoice_id=f"in_{n:022d}", invoice_number=f"INV-2026-11-{n:04d}", paid_at=AT, amount_cents=5_375)


def invoice_voided(n: int = 1) -> InvoiceVoidedV1:
    return InvoiceVoidedV1(invoice_id=f"in_{n:022d}", invoice_number=f"INV-2026-11-{n:04d}", reason="duplicate")
