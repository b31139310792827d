"""The opt-in link is found and redacted in both parts of the emails that carry one, and nothing
else of an email changes."""

from __future__ import annotations

import msgspec
import notification_messages as msgs
from notification.adapters.deliveries import ClaimedDelivery
from notification.adapters.rendering import EmailRenderer
from notification.application.composing import EmailComposer
from notification.application.redaction import redact_links, redacted_bodies
from ten99_contracts.enrollment_v1 import InvitationIssuedV1, InvitationReminderDueV1

TOKEN = "Zk3pQ9vXb2Lm8Rt4Yw6Hn1Cd5Fg7Js0Ka3Ue9Oi2Bz-_q"
URL = f"https://app.example.com/opt-in/{TOKEN}"
KEPT = "https://app.example.com/opt-in/[redacted]…z-_q"

composer = EmailComposer(EmailRenderer(), dashboard_url="http://dash", missing_po_path="/po/missing")


def claimed(seq: int, text: str, html: str) -> ClaimedDelivery:
    return ClaimedDelivery(seq, f"dl_{seq}", "co_acme", "invitation", ["a@x.test"], [], "s", text, html, False, "<m>", 1, None)


def test_the_link_is_redacted_in_both_parts_of_the_emails_that_carry_one() -> None:
    assert InvitationIssuedV1.SECRET_FIELDS == InvitationReminderDueV1.SECRET_FIELDS == ("opt_in_url",)
    invitation = composer.invitation(msgspec.structs.replace(msgs.invitation(1), opt_in_url=URL), "Acme")
    reminder = composer.invitation_reminder(msgspec.structs.replace(msgs.reminder(2), opt_in_url=URL), "Acme")
    for email in (invitation, reminder):
        for body in (email.text, email.html):
            assert URL in body
            kept = redact_links(body)
            assert TOKEN not in kept and KEPT in kept
            assert kept.replace(KEPT, URL) == body  # nothing else changed


def test_only_deliveries_that_carried_a_link_get_other_bodies() -> None:
    certificate = composer.certificate(msgs.certificate(3), "Acme")
    assert redact_links(certificate.text) == certificate.text and redact_links(certificate.html) == certificate.html
    with_link = claimed(1, f"go to {URL}\n", f'<a href="{URL}">{URL}</a>')
    without = claimed(2, certificate.text, certificate.html)
    assert redacted_bodies([with_link, without]) == {1: (f"go to {KEPT}\n", f'<a href="{KEPT}">{KEPT}</a>')}
