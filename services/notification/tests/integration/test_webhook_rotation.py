"""Rotating a webhook endpoint's secret, and the clock's health check, against real receivers:
for a day after a rotation each delivery is signed with the new and the old secret (Standard
Webhooks' ``webhook-signature: v1,<new> v1,<old>``), so a receiver holding either verifies it;
after the day only the new one signs. An endpoint failing for 5 days is disabled by the clock,
with the email to the company, even when no new event comes to fail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import notification_messages as msgs
import pytest
from notification_harness import emails, notification, publish, published, wait_until
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from ten99_contracts.notification_v1 import WebhookEndpointChangedV1
from ten99_testing import SmtpSink
from webhook_receiver import receiver

pytestmark = pytest.mark.integration

A = {"x-tenant-id": "co_a"}
#: the deliverer polls only when woken: a test that moves the clock runs the due attempts itself
QUIET = {"poll_interval_s": 3600}


async def _create(svc: Any, url: str) -> dict[str, Any]:
    r = await svc.client.post("/v1/webhook_endpoints", json={"url": url}, headers=A)
    assert r.status_code == 200, r.text
    return r.json()


async def _attempts(svc: Any, endpoint_id: str) -> list[dict[str, Any]]:
    r = await svc.client.get(f"/v1/webhook_endpoints/{endpoint_id}/deliveries", params={"limit": 100}, headers=A)
    return r.json()["data"]


def _deliverer(svc: Any) -> Any:
    return svc.runtime.parts.dependencies["deliverer"]


def _verifies(secret: str, got: Any) -> bool:
    try:
        Webhook(secret).verify(got.body, got.headers)
    except WebhookVerificationError:
        return False
    return True


async def test_after_a_rotation_both_secrets_sign_for_a_day_then_only_the_new_one(
    database_url: str, jetstream_url: str, smtp_sink: SmtpSink
) -> None:
    async with notification(database_url, jetstream_url, smtp_sink, webhooks=QUIET) as svc, receiver() as hook:
        t0 = datetime(2026, 12, 1, 12, tzinfo=UTC)
        svc.clock.freeze(t0)
        endpoint = await _create(svc, hook.url())
        old = endpoint["secret"]
        r = await svc.client.post(f"/v1/webhook_endpoints/{endpoint['id']}/secret", headers=A)
        assert r.status_code == 200, r.text
        rotated = r.json()
        new = rotated["secret"]
        assert new.startswith("whsec_") and new != old
        assert rotated["previous_secret_expires"] == int((t0 + timedelta(hours=24)).timestamp())
        shown = (await svc.client.get(f"/v1/webhook_endpoints/{endpoint['id']}", headers=A)).json()
        assert "secret" not in shown and shown["previous_secret_expires"] == rotated["previous_secret_expires"]

        await publish(jetstream_url, msgs.envelope(msgs.contractor_registered(1), tenant_id="co_a"))
        await wait_until(lambda: len(hook.requests) == 1, what="the delivery within the day")
        [got] = hook.requests
        assert len(got.headers["webhook-signature"].split(" ")) == 2
        assert _verifies(new, got) and _verifies(old, got)  # a receiver with either secret
        assert not _verifies("whsec_" + "A" * 43, got)

        # a day later only the new secret signs (a receiver still on the old one fails, as it should)
        svc.clock.freeze(t0 + timedelta(hours=24, seconds=1))
        await publish(jetstream_url, msgs.envelope(msgs.contractor_registered(2), tenant_id="co_a"))
        await wait_until(lambda: len(hook.requests) == 2, what="the delivery after the day")
        later = hook.requests[1]
        assert len(later.headers["webhook-signature"].split(" ")) == 1
        assert _verifies(new, later) and not _verifies(old, later)

        # another company cannot rotate it
        r = await svc.client.post(f"/v1/webhook_endpoints/{endpoint['id']}/secret", headers={"x-tenant-id": "co_b"})
        assert (r.status_code, r.json()["error_code"]) == (404, "invalid_webhook_endpoint_id")


async def test_an_endpoint_failing_5_days_is_disabled_by_the_clock_without_a_new_event(
    database_url: str, jetstream_url: str, smtp_sink: SmtpSink
) -> None:
    async with notification(database_url, jetstream_url, smtp_sink, webhooks=QUIET) as svc, receiver(status=503) as hook:
        t0 = datetime(2026, 12, 1, 12, tzinfo=UTC)
        svc.clock.freeze(t0)
        await publish(jetstream_url, msgs.envelope(msgs.company("co_a", "Acme Talent"), tenant_id="co_a"))
        endpoint = await _create(svc, hook.url())
        await publish(jetstream_url, msgs.envelope(msgs.contractor_registered(1), tenant_id="co_a"))
        await wait_until(lambda: _attempts(svc, endpoint["id"]), satisfies=lambda f: len(f) == 1)
        scheduler = svc.runtime.scheduler

        # retried for 3 days, then given up; the clock's check leaves it enabled until day 5
        while svc.clock.now() < t0 + timedelta(days=3, hours=4):
            svc.clock.advance(timedelta(hours=3))
            await _deliverer(svc).drain()
        assert (await _attempts(svc, endpoint["id"]))[0]["delivery_status"] == "failed"
        svc.clock.freeze(t0 + timedelta(days=4, hours=23))
        assert (await scheduler.run_due())["webhook_endpoint_health"] == 0
        assert (await svc.client.get(f"/v1/webhook_endpoints/{endpoint['id']}", headers=A)).json()["status"] == "enabled"

        sent = len(hook.requests)
        svc.clock.freeze(t0 + timedelta(days=5, seconds=1))
        assert (await scheduler.run_due())["webhook_endpoint_health"] == 1
        assert (await scheduler.run_due())["webhook_endpoint_health"] == 0  # once
        shown = (await svc.client.get(f"/v1/webhook_endpoints/{endpoint['id']}", headers=A)).json()
        assert shown["status"] == "disabled" and shown["disabled_reason"] == "every attempt failed for 5 days"
        # and the audit ledger hears of it, from the clock (changes: created, then this)
        changes = await wait_until(
            lambda: published(jetstream_url, WebhookEndpointChangedV1.SUBJECT), satisfies=lambda m: len(m) == 2, what="2"
        )
        assert [(m["data"]["change"], m["actor"]) for m in changes] == [("created", None), ("disabled", "system")]
        assert changes[-1]["data"]["disabled_reason"] == "every attempt failed for 5 days"
        [mail] = await emails(smtp_sink, 1, predicate=lambda m: "webhook" in str(m["Subject"]))
        assert mail["To"] == "ops@acme.test" and "disabled" in str(mail["Subject"])
        assert len(hook.requests) == sent  # no delivery was needed to find out
