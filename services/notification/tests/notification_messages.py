"""Messages of other contexts as the notification service receives them, built for tests.
Imported by the tests as ``notification_messages`` (the tests folder is put on ``sys.path``)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from fpdf import FPDF
from ten99_contracts import CoverageTerms, Envelope
from ten99_contracts.billing_v1 import InvoiceIssuedV1, InvoiceLine, MissingPoAssignment, PoReminderDueV1
from ten99_contracts.enrollment_v1 import InvitationIssuedV1, InvitationReminderDueV1
from ten99_contracts.gateway_v1 import CompanyCreatedV1
from ten99_contracts.policy_v1 import CertificateIssuedV1, CoverageCancelledV1, CoverageExtendedV1

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
