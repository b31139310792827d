"""The public event log: recorded from other contexts' messages (published to JetStream as they
publish them), once per message or business fact, listed newest first with filters and the list
envelope, retrieved by id, isolated per company, purged after 30 days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import notification_messages as msgs
import pytest
from notification.adapters.db import events
from notification_harness import notification, publish, wait_until
from sqlalchemy import func, select
from ten99_testing import SmtpSink, quiescent

pytestmark = pytest.mark.integration

A = {"x-tenant-id": "co_a"}
B = {"x-tenant-id": "co_b"}


async def event_count(svc: Any, tenant_id: str | None = None) -> int:
    async with svc.db.session() as s:
        q = select(func.count()).select_from(events)
        if tenant_id:
            q = q.where(events.c.tenant_id == tenant_id)
        return int((await s.execute(q)).scalar_one())


async def listed(svc: Any, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    r = await svc.client.get("/v1/events", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def types(page: dict[str, Any]) -> list[str]:
    return [e["type"] for e in page["data"]]


ALL_MESSAGES = [
    (msgs.invitation(1), "application.created"),
    (msgs.application_started(1), "application.started"),
    (msgs.application_completed(1), "application.complete"),
    (msgs.application_ineligible(2), "application.ineligible"),
    (msgs.invitation_expired(3), "application.expired"),
    (msgs.policy_activated(1), "policy.active"),
    (msgs.policy_reactivated(1), "policy.reactivated"),
    (msgs.policy_cancelled(1), "policy.cancelled"),
    (msgs.coverage_activated(1), "assignment.active"),
    (msgs.assignment_cancelled(4), "assignment.cancelled"),
    (msgs.invoice(1), "invoice.issued"),
    (msgs.invoice_paid(1), "invoice.paid"),
    (msgs.invoice_voided(2), "invoice.voided"),
    (msgs.certificate(1), "certificate.issued"),
    (msgs.contractor_registered(1), "contractor.created"),
    (msgs.contractor_registered(1, updated=True), "contractor.updated"),
]


async def test_each_public_event_type_is_recorded_from_its_message_in_1099policys_shape(
    database_url: str, jetstream_url: str, smtp_sink: SmtpSink
) -> None:
    async with notification(database_url, jetstream_url, smtp_sink) as svc:
        for message, _ in ALL_MESSAGES:
            await publish(jetstream_url, msgs.envelope(message, tenant_id="co_a"))
            # one at a time: the list's order is the order of recording
            await wait_until(lambda: event_count(svc), satisfies=lambda n, m=message: n >= _index(m) + 1)
        # a reissued invitation is the same application: no second application.created
        await publish(jetstream_url, msgs.envelope(msgs.invitation(1, reissue=True), tenant_id="co_a"))
        await quiescent(svc)
        assert await event_count(svc) == len(ALL_MESSAGES)

        page = await listed(svc, A, limit=100)
        assert page["object"] == "list" and page["url"] == "/v1/events" and page["has_more"] is False
        assert types(page) == [t for _, t in reversed(ALL_MESSAGES)]  # newest first
        by_type = {e["type"]: e for e in page["data"]}
        for event in page["data"]:
            assert event["id"].startswith("ev_") and event["object"] == "event" and isinstance(event["created"], int)
            assert set(event) == {"id", "object", "type", "created", "data"} and set(event["data"]) == {"object"}

        policy = by_type["policy.active"]["data"]["object"]
        assert policy["id"] == "pl_0000000000000000000001" and policy["object"] == "policy" and policy["status"] == "active"
        assert policy["contractor"] == "cn_0000000000000000000001" and policy["coverage_type"] == ["general"]
        assert policy["effective_date"] == int(datetime(2026, 11, 10, tzinfo=UTC).timestamp())
        assignment = by_type["assignment.active"]["data"]["object"]
        assert assignment["id"] == "an_0000000000000000000001" and assignment["object"] == "assignment"
        assert assignment["net_rate"] == 65 and assignment["policy"] == "pl_0000000000000000000001"
        for kind, status in (("policy.cancelled", "cancelled"), ("policy.reactivated", "active")):
            changed = by_type[kind]["data"]["object"]
            assert (changed["id"], changed["object"], changed["status"]) == ("pl_0000000000000000000001", "policy", status)
        assert by_type["policy.cancelled"]["data"]["object"]["reason"] == "contractor_deleted"
        assert by_type["policy.reactivated"]["data"]["object"]["assignment"] == "an_0000000000000000000001"
        contractor = by_type["contractor.updated"]["data"]["object"]
        assert contractor["object"] == "contractor" and contractor["last_name"] == "King"
        assert contractor["address"]["region"] == "CA" and contractor["custom_metadata"] == {"campaign": "spring"}
        complete = by_type["application.complete"]["data"]["object"]
        assert complete["id"].startswith("ias_") and complete["object"] == "application_session"
        assert complete["assignments"][0]["quote"] == "qt_0000000000000000000001"
        assert "date_of_birth" not in complete and "203.0.113.9" not in str(complete)
        invoice = by_type["invoice.issued"]["data"]["object"]
        assert invoice["object"] == "invoice" and invoice["total"] == 5_375 and invoice["status"] == "open"
        assert "pdf" not in invoice and "ap@nike.test" not in str(invoice)
        certificate = by_type["certificate.issued"]["data"]["object"]
        assert certificate["object"] == "certificate" and "pdf" not in certificate and "download_url" not in certificate
        created = by_type["application.created"]["data"]["object"]
        assert created["id"] == "inv_0000000000000000000001" and "opt_in_url" not in created and "token" not in str(created)

        # retrieve one
        one = by_type["invoice.paid"]
        r = await svc.client.get(f"/v1/events/{one['id']}", headers=A)
        assert r.status_code == 200 and r.json() == one


def _index(message: Any) -> int:
    return next(i for i, (m, _) in enumerate(ALL_MESSAGES) if m is message)


async def test_a_redelivered_or_repeated_message_records_one_event(
    database_url: str, jetstream_url: str, smtp_sink: SmtpSink
) -> None:
    async with notification(database_url, jetstream_url, smtp_sink) as svc:
        first = msgs.envelope(msgs.contractor_registered(1), tenant_id="co_a")
        await publish(jetstream_url, first)
        # the same envelope again, past JetStream's de-duplication (another Nats-Msg-Id)
        await publish(jetstream_url, first, msg_id="another-copy")
        # an assignment is cancelled once, whether contractor or policy says it (or both)
        await publish(jetstream_url, msgs.envelope(msgs.assignment_cancelled(1), tenant_id="co_a"))
        await publish(jetstream_url, msgs.envelope(msgs.cancelled(1), tenant_id="co_a"))
        await quiescent(svc)
        page = await listed(svc, A)
        assert sorted(types(page)) == ["assignment.cancelled", "contractor.created"]


async def test_events_are_filtered_by_type_and_time_and_paginated(
    database_url: str, jetstream_url: str, smtp_sink: SmtpSink
) -> None:
    async with notification(database_url, jetstream_url, smtp_sink) as svc:
        t0 = datetime(2026, 12, 1, 12, tzinfo=UTC)
        svc.clock.freeze(t0)
        for n in range(1, 6):
            await publish(jetstream_url, msgs.envelope(msgs.contractor_registered(n), tenant_id="co_a"))
            await wait_until(lambda: event_count(svc), satisfies=lambda c, n=n: c == n)
            svc.clock.advance(timedelta(hours=1))
        await publish(jetstream_url, msgs.envelope(msgs.policy_activated(1), tenant_id="co_a"))
        await wait_until(lambda: event_count(svc), satisfies=lambda c: c == 6)

        assert types(await listed(svc, A, type="policy.active")) == ["policy.active"]
        assert types(await listed(svc, A, type="contractor.*")) == ["contractor.created"] * 5
        assert types(await listed(svc, A, type="invoice.*")) == []
        assert len(types(await listed(svc, A, type="*"))) == 6
        for bad in ("policy", "nope.*", "policy.activ"):
            r = await svc.client.get("/v1/events", params={"type": bad}, headers=A)
            assert r.status_code == 400 and r.json()["error_code"] == "invalid_input", bad

        since = int((t0 + timedelta(hours=1)).timestamp())
        until = int((t0 + timedelta(hours=3)).timestamp())
        window = await listed(svc, A, created_gte=since, created_lte=until)
        assert [e["data"]["object"]["id"][-1] for e in window["data"]] == ["4", "3", "2"]

        first = await listed(svc, A, limit=2)
        assert first["has_more"] is True and len(first["data"]) == 2
        second = await listed(svc, A, limit=2, starting_after=first["data"][-1]["id"])
        third = await listed(svc, A, limit=2, starting_after=second["data"][-1]["id"])
        assert third["has_more"] is False
        ids = [e["id"] for e in first["data"] + second["data"] + third["data"]]
        assert ids == [e["id"] for e in (await listed(svc, A, limit=100))["data"]]
        back = await listed(svc, A, limit=2, ending_before=third["data"][0]["id"])
        assert [e["id"] for e in back["data"]] == [e["id"] for e in second["data"]]
        r = await svc.client.get("/v1/events", params={"limit": 101}, headers=A)
        assert r.status_code == 400


async def test_a_company_sees_only_its_own_events(database_url: str, jetstream_url: str, smtp_sink: SmtpSink) -> None:
    async with notification(database_url, jetstream_url, smtp_sink) as svc:
        await publish(jetstream_url, msgs.envelope(msgs.contractor_registered(1), tenant_id="co_a"))
        await publish(jetstream_url, msgs.envelope(msgs.contractor_registered(2), tenant_id="co_b"))
        await wait_until(lambda: event_count(svc), satisfies=lambda c: c == 2)
        [mine] = (await listed(svc, A))["data"]
        [theirs] = (await listed(svc, B))["data"]
        assert mine["data"]["object"]["id"].endswith("1") and theirs["data"]["object"]["id"].endswith("2")
        r = await svc.client.get(f"/v1/events/{theirs['id']}", headers=A)
        assert r.status_code == 404 and r.json()["error_code"] == "invalid_event_id"
        r = await svc.client.get("/v1/events/ev_unknown", headers=A)
        assert r.status_code == 404 and r.json()["error_code"] == "invalid_event_id"
        r = await svc.client.get("/v1/events", params={"starting_after": theirs["id"]}, headers=A)
        assert r.status_code == 400 and r.json()["error_code"] == "invalid_input"
        r = await svc.client.get("/v1/events")
        assert r.status_code == 400 and r.json()["error_code"] == "no_tenant_found"


async def test_events_are_kept_30_days(database_url: str, jetstream_url: str, smtp_sink: SmtpSink) -> None:
    async with notification(database_url, jetstream_url, smtp_sink) as svc:
        t0 = datetime(2026, 12, 1, tzinfo=UTC)
        svc.clock.freeze(t0)
        await publish(jetstream_url, msgs.envelope(msgs.contractor_registered(1), tenant_id="co_a"))
        await wait_until(lambda: event_count(svc), satisfies=lambda c: c == 1)
        svc.clock.freeze(t0 + timedelta(days=20))
        await publish(jetstream_url, msgs.envelope(msgs.contractor_registered(2), tenant_id="co_a"))
        await wait_until(lambda: event_count(svc), satisfies=lambda c: c == 2)

        svc.clock.freeze(t0 + timedelta(days=29, hours=23))
        await svc.runtime.scheduler.run_due()
        assert await event_count(svc) == 2
        svc.clock.freeze(t0 + timedelta(days=30, minutes=1))
        await svc.runtime.scheduler.run_due()
        [kept] = (await listed(svc, A))["data"]
        assert kept["data"]["object"]["id"].endswith("2")
