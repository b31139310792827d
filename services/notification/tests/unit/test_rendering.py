"""Rendering: every kind renders text and HTML; user-provided text is escaped in HTML and kept
plain in text; subjects are single header-safe lines; links are http(s) only."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import notification_messages as msgs
import pytest
from notification.adapters.rendering import EmailRenderer
from notification.application.composing import EmailComposer


@pytest.fixture
def composer() -> EmailComposer:
    return EmailComposer(EmailRenderer(), dashboard_url="http://dash.test/", missing_po_path="po/missing", po_reminder_max_rows=3)


def test_user_provided_names_are_escaped_in_html_and_plain_in_text(composer: EmailComposer) -> None:
    evil = "<script>alert('x')</script>"
    email = composer.invitation(msgspec.structs.replace(msgs.invitation(), first_name=evil), "Acme & <Sons>")
    assert evil not in email.html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in email.html
    assert "Acme &amp; &lt;Sons&gt;" in email.html
    assert f"Hi {evil}," in email.text  # text is not HTML: shown as typed
    assert "Acme & <Sons> uses ten99" in email.text
    assert email.subject == "Acme & <Sons> invites you to get insured with ten99"


def test_certificate_holder_and_contractor_names_are_escaped(composer: EmailComposer) -> None:
    m = msgspec.structs.replace(
        msgs.certificate(), holder_name='Nike "<b>Bold</b>"', contractor_name="<img src=x onerror=alert(1)>"
    )
    email = composer.certificate(m, None)
    assert "<img" not in email.html and "<b>Bold" not in email.html
    assert "&lt;img src=x onerror=alert(1)&gt;" in email.html
    assert "Nike &#34;&lt;b&gt;Bold&lt;/b&gt;&#34;" in email.html


def test_subject_is_one_header_safe_line(composer: EmailComposer) -> None:
    email = composer.invitation(msgs.invitation(), "Acme\r\nBcc: victim@example.com")
    assert "\n" not in email.subject and "\r" not in email.subject
    assert email.subject == "Acme Bcc: victim@example.com invites you to get insured with ten99"


def test_links_must_be_http(composer: EmailComposer) -> None:
    email = composer.invitation(msgspec.structs.replace(msgs.invitation(), opt_in_url="javascript:alert(1)"), None)
    assert "javascript:" not in email.html and "javascript:" not in email.text
    assert 'href="#"' in email.html


def test_unknown_company_gets_neutral_wording(composer: EmailComposer) -> None:
    email = composer.invitation(msgs.invitation(), None)
    assert email.subject == "You're invited to get insured with ten99"
    assert "A company you work with uses ten99" in email.text
    assert "None" not in email.text and "None" not in email.html
    reissued = composer.invitation(msgs.invitation(reissue=True), "Acme")
    assert reissued.subject.startswith("Your new link: Acme invites you")
    assert "no longer works" in reissued.text


def test_invitation_names_company_link_and_expiry(composer: EmailComposer) -> None:
    email = composer.invitation(msgs.invitation(7), "Acme Talent")
    assert email.to == ["contractor7@example.com"]
    for body in (email.text, email.html):
        assert "Acme Talent" in body
        assert "http://127.0.0.1:8000/opt-in/token7" in body
        assert "December 2, 2026" in body
        assert "insure" in body  # says what ten99 is
    assert email.dedupe_key == "invitation:inv_0000000000000000000007:first"
    assert composer.invitation(msgs.invitation(7, reissue=True), None).dedupe_key.endswith(":reissue")


def test_every_kind_renders_with_its_key_recipients_and_attachments(composer: EmailComposer) -> None:
    rem = composer.invitation_reminder(msgs.reminder(2, number=2), "Acme")
    assert rem.dedupe_key == "invitation_reminder:inv_0000000000000000000002:2" and rem.subject.startswith("Reminder:")

    cert = composer.certificate(msgs.certificate(3), "Acme")
    assert cert.dedupe_key == "certificate:coi_0000000000000000000003"
    assert [a.filename for a in cert.attachments] == ["ten99_coi_COI-2026-000003.pdf"]
    assert cert.attachments[0].content_type == "application/pdf"
    for body in (cert.text, cert.html):
        assert "COI-2026-000003" in body and "Nike" in body
        assert "November 10, 2026" in body and "December 9, 2026" in body
        assert "coi_0000000000000000000003.pdf?token=signed" in body

    can = composer.coverage_cancelled(msgs.cancelled(4), None)
    assert can.dedupe_key == "coverage_cancelled:cv_0000000000000000000004" and "client_request" in can.text

    ext = composer.coverage_extended(msgs.extended(5), None)
    assert ext.dedupe_key == "coverage_extended:cv_0000000000000000000005:2027-01-09"
    assert "January 9, 2027" in ext.subject

    inv = composer.invoice(msgs.invoice(6), "Acme")
    assert inv.to == ["ap@nike.test"] and inv.cc == ["billing@acme.test"]
    assert inv.dedupe_key == "invoice:in_0000000000000000000006"
    assert "$53.75" in inv.subject and "December 2, 2026" in inv.subject
    assert "$16.25" in inv.text and "$37.50" in inv.text


def test_invoice_without_po_contact_goes_to_the_billing_email(composer: EmailComposer) -> None:
    email = composer.invoice(
        msgspec.structs.replace(msgs.invoice(), to_email="", cc_emails=["billing@acme.test", "BILLING@acme.test"]), None
    )
    assert email.to == ["billing@acme.test"] and email.cc == []


def test_po_reminder_lists_assignments_caps_the_list_and_links_the_dashboard(composer: EmailComposer) -> None:
    email = composer.po_reminder(msgs.po_reminder(count=5), "Acme")
    assert email.to == ["ops@acme.test", "billing@acme.test"]
    assert email.subject == "5 assignments from spring.csv still need a PO number"
    for body in (email.text, email.html):
        assert "Contractor 1" in body and "Contractor 3" in body
        assert "Contractor 4" not in body
        assert "2 more" in body
        assert "http://dash.test/po/missing" in body
    one = composer.po_reminder(msgs.po_reminder(count=1), None)
    assert one.subject == "1 assignment from spring.csv still needs a PO number"


def test_dates_render_in_long_form() -> None:
    r = EmailRenderer()
    out = r.render(
        "invitation",
        {
            "company_name": None,
            "first_name": "A",
            "last_name": "B",
            "opt_in_url": "https://x",
            "expires_at": datetime(2027, 1, 5, tzinfo=UTC),
            "reissue": False,
        },
    )
    assert "January 5, 2027" in out.text


def test_a_po_number_that_already_says_po_is_not_prefixed_again(composer: EmailComposer) -> None:
    # issue 15: "PO PO-5555" in the subject and body of an invoice email
    said = composer.invoice(msgspec.structs.replace(msgs.invoice(6), po_number="PO-5555"), "Acme")
    for text in (said.subject, said.text, said.html):
        assert "PO-5555" in text and "PO PO" not in text and "PO <strong>PO" not in text
    bare = composer.invoice(msgspec.structs.replace(msgs.invoice(6), po_number="5555"), "Acme")
    assert "for PO 5555" in bare.subject and "PO 5555" in bare.text
    # a number that merely begins with the letters keeps its prefix
    polar = composer.invoice(msgspec.structs.replace(msgs.invoice(6), po_number="POLAR-7"), "Acme")
    assert "for PO POLAR-7" in polar.subject
