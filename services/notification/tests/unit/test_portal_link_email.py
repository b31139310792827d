"""The portal sign-in email (issue 15): to the address that asked, with the link and its expiry;
the delivery log keeps the link redacted once the email is finished."""

from __future__ import annotations

from datetime import UTC, datetime

from notification.adapters.rendering import EmailRenderer
from notification.application.composing import EmailComposer
from notification.application.redaction import redact_links
from ten99_contracts.enrollment_v1 import PortalLinkRequestedV1

URL = "http://127.0.0.1:8000/portal/sign-in/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdE"


def test_the_portal_link_email_carries_the_link_and_its_expiry() -> None:
    composer = EmailComposer(EmailRenderer(), dashboard_url="http://127.0.0.1:8000", missing_po_path="/po")
    m = PortalLinkRequestedV1(
        link_id="pl_0000000000000000000001",
        email="ada@example.com",
        first_name="<Ada>",
        sign_in_url=URL,
        expires_at=datetime(2026, 12, 7, 5, 15, tzinfo=UTC),
    )
    email = composer.portal_link(m)
    assert email.to == ["ada@example.com"] and email.dedupe_key == "portal_link:pl_0000000000000000000001"
    assert email.subject == "Your ten99 sign-in link"
    for body in (email.text, email.html):
        assert URL in body and "December 7, 2026, 05:15 UTC" in body and "once" in body
    assert "&lt;Ada&gt;" in email.html and "<Ada>" not in email.html


def test_the_delivery_log_redacts_portal_links() -> None:
    redacted = redact_links(f"Open {URL} now")
    assert "AbCdEfGhIjKlMnOpQrStUvWxYz" not in redacted and "/portal/sign-in/" in redacted
