"""One golden example per message. `python -m ten99_contracts.generate` writes them, with the
JSON schemas, under ``contracts/examples`` and ``contracts/schemas``; a test keeps them in step."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from . import billing_v1 as b
from . import contractor_v1 as c
from . import enrollment_v1 as e
from . import gateway_v1 as g
from . import notification_v1 as n
from . import policy_v1 as p
from .base import Message
from .common import (
    Address,
    AssignmentQuote,
    AssignmentRefusal,
    ContractorSnapshot,
    CoverageTerms,
    EntitySnapshot,
    JobSnapshot,
    QuotedCoverage,
)

__all__ = ["EXAMPLES"]

_AT = datetime(2026, 11, 2, 15, 4, 5, tzinfo=UTC)
_ADDR = Address(line1="2211 Mission St", locality="San Francisco", region="CA", postalcode="94110")
_CONTRACTOR = ContractorSnapshot(
    contractor_id="cn_4kXv9Qm2Lr8TtB1cYw7Za3",
    first_name="Ada",
    last_name="Lovelace",
    email="ada@example.com",
    phone="+14155550100",
    address=_ADDR,
    company_name="Analytical Engines LLC",
)
_JOB = JobSnapshot(
    job_id="jb_8Hc2Vn5Rq1Xe7Ku3Wd9Pa0",
    name="Content creator",
    description="Produces and publishes two sponsored short videos for the Spring campaign.",
    category_code="jc_creator",
    wage_cents=250_000,
    wage_type="flatfee",
    work_state="CA",
    entity=EntitySnapshot(entity_id="en_2Ff6Jk0Lp4Qs8Uw1Yb5Dc7", name="Nike", required_coverage=["general"]),
)
_QUOTE = AssignmentQuote(
    assignment_id="an_6Tg1Nh7Pk3Rm9Vs2Xu5Wq8",
    quote_id="qt_0Zb4Cd8Ef2Gh6Ij1Kl5Mn9",
    job_id=_JOB.job_id,
    category_code="jc_creator",
    coverage_types=["general", "workers-comp"],
    home_state="CA",
    work_state="CA",
    effective_date=date(2026, 11, 10),
    end_date=date(2026, 12, 9),
    net_rate=65,
    gl_net_rate=20,
    wc_net_rate=45,
    eligibility_message="Contractor is eligible for coverage.",
)
_JOB_QUOTE = QuotedCoverage(
    quote_id="qt_5Rr6Ss7Tt8Uu9Vv0Ww1Xx2",
    job_id=_JOB.job_id,
    category_code="jc_creator",
    coverage_types=["general", "workers-comp"],
    home_state="CA",
    work_state="CA",
    effective_date=date(2026, 11, 10),
    end_date=date(2026, 12, 9),
    net_rate=82,
    gl_net_rate=23,
    wc_net_rate=59,
)
_TERMS = CoverageTerms(
    coverage_id="cv_1Aa2Bb3Cc4Dd5Ee6Ff7Gg8",
    policy_id="pl_9Hh8Ii7Jj6Kk5Ll4Mm3Nn2",
    assignment_id=_QUOTE.assignment_id,
    contractor_id=_CONTRACTOR.contractor_id,
    coverage_types=["general", "workers-comp"],
    effective_date=date(2026, 11, 10),
    end_date=date(2026, 12, 9),
    status="scheduled",
    net_rate=65,
    gl_net_rate=20,
    wc_net_rate=45,
)
_PDF = b"%PDF-1.3\n%example\n"
_ASSIGNMENT_STATE: dict[str, Any] = dict(
    assignment_id=_QUOTE.assignment_id,
    contractor=_CONTRACTOR,
    job=_JOB,
    effective_date=date(2026, 11, 10),
    end_date=date(2026, 12, 9),
    coverage_types=["general", "workers-comp"],
    po_number=None,
    po_contact_email=None,
    campaign="Spring 2027",
    import_batch_id="ib_3Qq4Rr5Ss6Tt7Uu8Vv9Ww0",
    source="csv",
)
_CONTRACTOR_STATE: dict[str, Any] = dict(
    contractor_id=_CONTRACTOR.contractor_id,
    first_name="Ada",
    last_name="Lovelace",
    email="ada@example.com",
    phone="+14155550100",
    address=_ADDR,
    company_name="Analytical Engines LLC",
    custom_metadata={"worksuite_id": "ws-1234"},
)
_LINE = b.InvoiceLine(
    assignment_id=_QUOTE.assignment_id,
    contractor_name="Ada Lovelace",
    description="Content creator for Nike, 2026-11-10 to 2026-12-09",
    pay_cents=250_000,
    net_rate=65,
    premium_cents=1_625,
    platform_fee_cents=3_750,
    amount_cents=5_375,
)

EXAMPLES: list[Message] = [
    g.CompanyCreatedV1(company_id="co_5Xx6Yy7Zz8Aa9Bb0Cc1Dd2", name="Acme Talent", owner_email="ops@acme.test"),
    g.UserAddedV1(user_id="us_6Yy7Zz8Aa9Bb0Cc1Dd2Ee3", email="ops@acme.test", role="owner"),
    g.ApiKeyCreatedV1(
        key_id="ak_7Zz8Aa9Bb0Cc1Dd2Ee3Ff4", name="Payroll sync", display="t9sk_test_…Xy12", created_by="ops@acme.test"
    ),
    g.ApiKeyRevokedV1(key_id="ak_7Zz8Aa9Bb0Cc1Dd2Ee3Ff4"),
    g.FacilityLinkCreatedV1(
        link_id="fl_8Aa9Bb0Cc1Dd2Ee3Ff4Gg5", entity_id="en_2Ff6Jk0Lp4Qs8Uw1Yb5Dc7", expires_at=_AT, created_by="ops@acme.test"
    ),
    g.FacilityLinkRevokedV1(link_id="fl_8Aa9Bb0Cc1Dd2Ee3Ff4Gg5", entity_id="en_2Ff6Jk0Lp4Qs8Uw1Yb5Dc7", revoked_at=_AT),
    c.ContractorRegisteredV1(**_CONTRACTOR_STATE),
    c.ContractorUpdatedV1(**_CONTRACTOR_STATE),
    c.ContractorDeletedV1(contractor_id=_CONTRACTOR.contractor_id, email="ada@example.com"),
    c.JobUpsertedV1(
        job_id=_JOB.job_id,
        name=_JOB.name,
        description=_JOB.description,
        entity=_JOB.entity,
        category_code="jc_creator",
        work_state="CA",
        address=_ADDR,
        wage_cents=250_000,
        wage_type="flatfee",
        custom_metadata={"campaign": "Spring 2027", "purchase_order_number": "PO-2026-0042"},
        purchase_order_number="PO-2026-0042",
        created=True,
    ),
    c.JobDeletedV1(job_id=_JOB.job_id),
    c.AssignmentCreatedV1(**_ASSIGNMENT_STATE),
    c.AssignmentUpdatedV1(**_ASSIGNMENT_STATE),
    c.AssignmentCancelledV1(
        assignment_id=_QUOTE.assignment_id, contractor_id=_CONTRACTOR.contractor_id, reason="client_request", cancelled_at=_AT
    ),
    c.AssignmentExtendedV1(
        assignment_id=_QUOTE.assignment_id,
        contractor_id=_CONTRACTOR.contractor_id,
        previous_end_date=date(2026, 12, 9),
        end_date=date(2027, 1, 9),
    ),
    c.PoNumberSetV1(
        assignment_id=_QUOTE.assignment_id,
        contractor_id=_CONTRACTOR.contractor_id,
        po_number="PO-2026-0042",
        po_contact_email="ap@nike.test",
        campaign="Spring 2027",
        set_by="ops@acme.test",
    ),
    c.CoverageGapAlertDueV1(
        day=date(2026, 11, 8),
        within_days=3,
        gaps=[
            c.CoverageGap(
                assignment_id=_QUOTE.assignment_id,
                contractor_id=_CONTRACTOR.contractor_id,
                contractor_name="Ada Lovelace",
                contractor_email="ada@example.com",
                job_name="Content creator",
                effective_date=date(2026, 11, 10),
                status="invited",
            )
        ],
        gap_count=1,
    ),
    c.ImportCompletedV1(
        import_batch_id="ib_3Qq4Rr5Ss6Tt7Uu8Vv9Ww0",
        filename="spring.csv",
        rows_total=12,
        rows_imported=11,
        rows_failed=1,
        contractors_created=10,
        assignments_created=11,
        assignments_missing_po=11,
        uploaded_by="ops@acme.test",
    ),
    c.IntegrationSecretRotatedV1(provider="worksuite", hint="whsec_…Qx7w", first=False, rotated_at=_AT),
    e.InvitationIssuedV1(
        invitation_id="inv_7Ee8Ff9Gg0Hh1Ii2Jj3Kk4",
        contractor_id=_CONTRACTOR.contractor_id,
        email="ada@example.com",
        first_name="Ada",
        last_name="Lovelace",
        opt_in_url="http://localhost:8000/opt-in/Zk3...",
        expires_at=_AT,
        assignment_ids=[_QUOTE.assignment_id],
    ),
    e.InvitationReminderDueV1(
        invitation_id="inv_7Ee8Ff9Gg0Hh1Ii2Jj3Kk4",
        contractor_id=_CONTRACTOR.contractor_id,
        email="ada@example.com",
        first_name="Ada",
        last_name="Lovelace",
        opt_in_url="http://localhost:8000/opt-in/Zk3...",
        expires_at=_AT,
        reminder_number=1,
    ),
    e.InvitationRevokedV1(
        invitation_id="inv_7Ee8Ff9Gg0Hh1Ii2Jj3Kk4",
        contractor_id=_CONTRACTOR.contractor_id,
        replaced_by="inv_8Ff9Gg0Hh1Ii2Jj3Kk4Ll5",
    ),
    e.InvitationExpiredV1(invitation_id="inv_7Ee8Ff9Gg0Hh1Ii2Jj3Kk4", contractor_id=_CONTRACTOR.contractor_id),
    e.PortalLinkRequestedV1(
        link_id="pl_9Gg0Hh1Ii2Jj3Kk4Ll5Mm6",
        email="ada@example.com",
        first_name="Ada",
        sign_in_url="http://localhost:8000/portal/sign-in/Zk3...",
        expires_at=_AT,
    ),
    e.ContractorDetailsCorrectedV1(
        correction_id="dc_0Hh1Ii2Jj3Kk4Ll5Mm6Nn7",
        contractor_id=_CONTRACTOR.contractor_id,
        first_name="Ada",
        last_name="King",
        phone="+14155550100",
        address=_ADDR,
        corrected_at=_AT,
    ),
    e.ApplicationStartedV1(
        session_id="ias_01JC3ZQ7W8X9Y0Z1A2B3C4D5E6",
        contractor_id=_CONTRACTOR.contractor_id,
        invitation_id="inv_7Ee8Ff9Gg0Hh1Ii2Jj3Kk4",
    ),
    e.ApplicationCompletedV1(
        session_id="ias_01JC3ZQ7W8X9Y0Z1A2B3C4D5E6",
        contractor_id=_CONTRACTOR.contractor_id,
        invitation_id="inv_7Ee8Ff9Gg0Hh1Ii2Jj3Kk4",
        first_name="Ada",
        last_name="Lovelace",
        email="ada@example.com",
        phone="+14155550100",
        address=_ADDR,
        consent=e.Consent(signed_name="Ada Lovelace", signed_at=_AT, text_version="2026-11", ip_address="203.0.113.7"),
        assignments=[_QUOTE],
        quote=_JOB_QUOTE,
        not_covered=[AssignmentRefusal(assignment_id="an_7Uu8Vv9Ww0Xx1Yy2Zz3Aa4", reason="The assignment ended on 2026-10-31.")],
    ),
    e.ApplicationIneligibleV1(
        session_id="ias_01JC3ZQ7W8X9Y0Z1A2B3C4D5E6",
        contractor_id=_CONTRACTOR.contractor_id,
        reasons=["Contractor must be at least 18 years old."],
        assignment_ids=[_QUOTE.assignment_id],
    ),
    e.ApplicationDeclinedV1(
        contractor_id=_CONTRACTOR.contractor_id,
        invitation_id="inv_7Ee8Ff9Gg0Hh1Ii2Jj3Kk4",
        reason="has_own_insurance",
        note="Covered through my own business policy.",
        declined_at=_AT,
        assignment_ids=[_QUOTE.assignment_id],
    ),
    e.AssignmentEnrolledV1(session_id="ias_01JC3ZQ7W8X9Y0Z1A2B3C4D5E6", contractor_id=_CONTRACTOR.contractor_id, quote=_QUOTE),
    p.PolicyActivatedV1(
        policy_id=_TERMS.policy_id,
        policy_number="T99-GL-2026-000123",
        contractor_id=_CONTRACTOR.contractor_id,
        session_id="ias_01JC3ZQ7W8X9Y0Z1A2B3C4D5E6",
        coverage_types=["general", "workers-comp"],
        home_state="CA",
        effective_date=date(2026, 11, 10),
    ),
    p.PolicyCancelledV1(
        policy_id=_TERMS.policy_id,
        policy_number="T99-GL-2026-000123",
        contractor_id=_CONTRACTOR.contractor_id,
        coverage_types=["general", "workers-comp"],
        reason="contractor_deleted",
        cancelled_at=datetime(2026, 12, 2, 9, 30, tzinfo=UTC),
    ),
    p.PolicyReactivatedV1(
        policy_id=_TERMS.policy_id,
        policy_number="T99-GL-2026-000123",
        contractor_id=_CONTRACTOR.contractor_id,
        coverage_types=["general", "workers-comp"],
        assignment_id=_TERMS.assignment_id,
        reactivated_at=datetime(2026, 12, 2, 9, 30, tzinfo=UTC),
    ),
    p.CoverageBoundV1(terms=_TERMS),
    p.CoverageActivatedV1(terms=_TERMS),
    p.CoverageRetimedV1(terms=_TERMS, previous_effective_date=date(2026, 11, 9), previous_end_date=date(2026, 12, 1)),
    p.CoverageExtendedV1(
        terms=_TERMS, previous_end_date=date(2026, 12, 1), contractor_email="ada@example.com", contractor_name="Ada Lovelace"
    ),
    p.CoverageCancelledV1(
        terms=_TERMS, reason="client_request", contractor_email="ada@example.com", contractor_name="Ada Lovelace"
    ),
    p.CoverageExpiredV1(terms=_TERMS),
    p.CertificateIssuedV1(
        certificate_id="coi_4Oo5Pp6Qq7Rr8Ss9Tt0Uu1",
        certificate_number="COI-2026-000456",
        coverage_id=_TERMS.coverage_id,
        assignment_id=_QUOTE.assignment_id,
        contractor_id=_CONTRACTOR.contractor_id,
        policy_id=_TERMS.policy_id,
        policy_number="T99-GL-2026-000123",
        contractor_email="ada@example.com",
        contractor_name="Ada Lovelace",
        holder_name="Nike",
        coverage_types=["general", "workers-comp"],
        effective_date=date(2026, 11, 10),
        end_date=date(2026, 12, 9),
        issued_at=_AT,
        download_url="http://localhost:8000/certificates/coi_4Oo5Pp6Qq7Rr8Ss9Tt0Uu1.pdf?sig=...",
        filename="ten99_coi_COI-2026-000456.pdf",
        pdf=_PDF,
        reason="bound",
        send_email=True,
    ),
    p.UploadedCertificateReviewedV1(
        upload_id="ci_7Ab8Cd9Ef0Gh1Ij2Kl3Mn4",
        contractor_id=_CONTRACTOR.contractor_id,
        assignment_id=_QUOTE.assignment_id,
        status="flagged",
        assignment_ids=[_QUOTE.assignment_id],
        filename="own_coi.pdf",
        sha256="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        failures=[
            p.UploadedCertificateFailure(
                rule="limits",
                hard=False,
                message="each occurrence below $1,000,000",
                assignment_id=_QUOTE.assignment_id,
            )
        ],
        reviewed_at=_AT,
    ),
    b.BillingSettingsUpdatedV1(billing_email="billing@acme.test", premium_payer="company", platform_fee_bps=150),
    b.InvoiceIssuedV1(
        invoice_id="in_2Vv3Ww4Xx5Yy6Zz7Aa8Bb9",
        invoice_number="INV-2026-11-0001",
        po_number="PO-2026-0042",
        period="2026-11",
        to_email="ap@nike.test",
        cc_emails=["billing@acme.test"],
        issued_at=_AT,
        due_date=date(2026, 12, 2),
        premium_cents=1_625,
        platform_fee_cents=3_750,
        total_cents=5_375,
        lines=[_LINE],
        filename="ten99_invoice_INV-2026-11-0001.pdf",
        pdf=_PDF,
    ),
    b.InvoicePaidV1(invoice_id="in_2Vv3Ww4Xx5Yy6Zz7Aa8Bb9", invoice_number="INV-2026-11-0001", paid_at=_AT, amount_cents=5_375),
    b.InvoiceVoidedV1(invoice_id="in_2Vv3Ww4Xx5Yy6Zz7Aa8Bb9", invoice_number="INV-2026-11-0001", reason="issued in error"),
    b.InvoiceCreditedV1(
        credit_id="cr_6Cc7Dd8Ee9Ff0Gg1Hh2Ii3",
        invoice_id="in_2Vv3Ww4Xx5Yy6Zz7Aa8Bb9",
        invoice_number="INV-2026-11-0001",
        assignment_id=_QUOTE.assignment_id,
        amount_cents=5_375,
        reason="assignment cancelled before its start",
    ),
    b.PoReminderDueV1(
        import_batch_id="ib_3Qq4Rr5Ss6Tt7Uu8Vv9Ww0",
        filename="spring.csv",
        uploaded_at=_AT,
        to_emails=["ops@acme.test", "billing@acme.test"],
        assignments=[
            b.MissingPoAssignment(
                assignment_id=_QUOTE.assignment_id,
                contractor_name="Ada Lovelace",
                contractor_email="ada@example.com",
                job_name="Content creator",
                effective_date=date(2026, 11, 10),
                end_date=date(2026, 12, 9),
            )
        ],
        missing_count=1,
    ),
    n.EmailDeliveredV1(
        delivery_id="dl_1Jj2Kk3Ll4Mm5Nn6Oo7Pp8",
        template="invitation",
        to=["ada@example.com"],
        related_id="inv_7Ee8Ff9Gg0Hh1Ii2Jj3Kk4",
    ),
    n.EmailFailedV1(
        delivery_id="dl_1Jj2Kk3Ll4Mm5Nn6Oo7Pp8",
        template="invitation",
        to=["ada@example.com"],
        error="550 mailbox unavailable",
        attempts=5,
    ),
    n.WebhookEndpointChangedV1(
        endpoint_id="whe_9Bb0Cc1Dd2Ee3Ff4Gg5Hh6",
        change="updated",
        url="https://hooks.acme.test/ten99",
        events=["policy.active", "invoice.issued"],
        description="Payroll sync",
        enabled=True,
    ),
]
