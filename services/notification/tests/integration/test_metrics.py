"""Email delivery metrics, from a real SMTP server's answers: each attempt counted once by its
outcome (sent, deferred, failed after the last attempt, bounced) and each hand-over timed."""

from __future__ import annotations

from typing import Any

import msgspec
import notification_messages as msgs
import pytest
from aiosmtpd.controller import Controller
from notification_harness import delivery_rows, notification, publish, sender_idle, wait_until
from prometheus_client import REGISTRY
from ten99_testing import SmtpSink, free_port

pytestmark = pytest.mark.integration


def attempts(template: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("ten99_email_attempts_total", {"template": template, "outcome": outcome}) or 0.0


def sends() -> float:
    return REGISTRY.get_sample_value("ten99_email_send_seconds_count", {}) or 0.0


def counts(template: str) -> dict[str, float]:
    return {o: attempts(template, o) for o in ("sent", "deferred", "failed", "bounced")}


def delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: after[k] - before[k] for k in after}


async def _finished(svc: Any, count: int) -> list[dict[str, Any]] | None:
    rows = await delivery_rows(svc)
    done = [r for r in rows if r["status"] in ("sent", "failed")]
    return done if len(done) == count else None


async def test_sent_deferred_and_failed_attempts_are_counted_once_each(
    database_url: str, jetstream_url: str, smtp_sink: SmtpSink
) -> None:
    before, sends_before = counts("invitation"), sends()
    smtp_sink.reject_next = 1  # one temporary refusal, then accepted
    async with notification(database_url, jetstream_url, smtp_sink, delivery={"max_attempts": 2, "backoff_base_s": 0.02}) as svc:
        await publish(jetstream_url, msgs.envelope(msgs.invitation(1)))
        [row] = await wait_until(lambda: _finished(svc, 1))
        assert row["template"] == "invitation" and row["status"] == "sent"
        assert delta(counts("invitation"), before) == {"sent": 1, "deferred": 1, "failed": 0, "bounced": 0}

        smtp_sink.reject_next = 1000  # refused every time: the second attempt is the last
        before = counts("invitation")
        await publish(jetstream_url, msgs.envelope(msgs.invitation(2)))
        await wait_until(lambda: _finished(svc, 2))
        await sender_idle(svc)
        assert delta(counts("invitation"), before) == {"sent": 0, "deferred": 1, "failed": 1, "bounced": 0}
    assert sends() - sends_before == 4  # every hand-over to the server was timed


class _Refusing:
    """Refuses every recipient with a permanent 550."""

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        return "550 5.1.1 no such user"


async def test_a_permanent_refusal_is_counted_as_a_bounce(database_url: str, jetstream_url: str) -> None:
    before = counts("certificate")
    port = free_port()
    controller = Controller(_Refusing(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        async with notification(database_url, jetstream_url, None, smtp={"host": "127.0.0.1", "port": port}) as svc:
            cert = msgspec.structs.replace(msgs.certificate(1), contractor_email="nobody@example.com")
            await publish(jetstream_url, msgs.envelope(cert))
            [row] = await wait_until(lambda: _finished(svc, 1))
            assert (row["template"], row["status"]) == ("certificate", "failed")
            await sender_idle(svc)
            assert delta(counts("certificate"), before) == {"sent": 0, "deferred": 0, "failed": 0, "bounced": 1}
    finally:
        controller.stop()
