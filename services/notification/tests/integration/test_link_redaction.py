"""An email carrying an opt-in link goes out with the working link; once it is sent (or given up)
the delivery log keeps its bodies with the link redacted. While it waits for a retry it keeps the
body whole, so that the retry sends what was accepted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import notification_messages as msgs
import pytest
from notification_harness import delivery_rows, emails, html_of, notification, publish, text_of, wait_until
from ten99_testing import SmtpSink
from ten99kit import SettableClock

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
#: the shape enrollment gives a link: 43 characters of base64url
TOKEN = "Zk3pQ9vXb2Lm8Rt4Yw6Hn1Cd5Fg7Js0Ka3Ue9Oi2Bzxq"
URL = f"http://127.0.0.1:8000/opt-in/{TOKEN}"
KEPT = "http://127.0.0.1:8000/opt-in/[redacted]…Bzxq"


def with_link(message: Any) -> Any:
    return msgspec.structs.replace(message, opt_in_url=URL)


async def _row(svc: Any, template: str, status: str, attempts: int | None = None) -> dict[str, Any] | None:
    rows = await delivery_rows(svc, template=template)
    found = [r for r in rows if r["status"] == status and attempts in (None, r["attempts"])]
    return found[0] if found else None


async def test_a_sent_email_keeps_its_link_redacted_and_a_retried_one_keeps_it_whole(
    database_url: str, jetstream_url: str, smtp_sink: SmtpSink
) -> None:
    clock = SettableClock(T0)
    smtp_sink.reject_next = 1  # the reminder's first attempt is refused for now
    async with notification(
        database_url, jetstream_url, smtp_sink, clock=clock, delivery={"backoff_base_s": 60, "poll_interval_s": 0.05}
    ) as svc:
        await publish(jetstream_url, msgs.envelope(with_link(msgs.reminder(2))))
        waiting = await wait_until(lambda: _row(svc, "invitation_reminder", "queued", attempts=1))
        assert URL in waiting["text_body"] and URL in waiting["html_body"]

        await publish(jetstream_url, msgs.envelope(with_link(msgs.invitation(1))))
        [invitation] = await emails(smtp_sink, 1)
        sent = await wait_until(lambda: _row(svc, "invitation", "sent"))
        # the contractor received the working link, in both parts
        assert URL in text_of(invitation) and URL in html_of(invitation)
        # the log keeps where it pointed, never the token
        for body in (sent["text_body"], sent["html_body"]):
            assert TOKEN not in body and KEPT in body
        assert "Ada" in sent["text_body"] and sent["subject"] == invitation["Subject"]
        shown = (await svc.client.get(f"/v1/deliveries/{sent['id']}", headers={"x-tenant-id": "co_acme"})).json()
        assert TOKEN not in shown["text"] + shown["html"] and KEPT in shown["text"]

        # the reminder, retried, goes out with the link it was accepted with; then it is redacted too
        assert URL in (await _row(svc, "invitation_reminder", "queued") or {})["text_body"]
        clock.advance(timedelta(seconds=60))
        [_, reminder] = await emails(smtp_sink, 2)
        assert URL in text_of(reminder) and URL in html_of(reminder)
        resent = await wait_until(lambda: _row(svc, "invitation_reminder", "sent"))
        assert resent["attempts"] == 2 and TOKEN not in resent["text_body"] + resent["html_body"]


async def test_an_email_given_up_keeps_its_link_redacted(database_url: str, jetstream_url: str, smtp_sink: SmtpSink) -> None:
    smtp_sink.reject_next = 1000
    async with notification(database_url, jetstream_url, smtp_sink, delivery={"max_attempts": 2, "backoff_base_s": 0.02}) as svc:
        await publish(jetstream_url, msgs.envelope(with_link(msgs.invitation(3))))
        failed = await wait_until(lambda: _row(svc, "invitation", "failed"))
        assert failed["attempts"] == 2 and TOKEN not in failed["text_body"] + failed["html_body"] and KEPT in failed["html_body"]
