"""The audit ledger from the bus (docs/audit-ledger.md): one entry per change message, with its
actor and the fields before and after; a redelivery adds nothing; the chain per company holds,
and `python -m notification ledger-verify` names the first entry someone altered or removed;
the API shows a company only its own entries; tax ids and personal data are masked."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import msgspec
import nats
import notification_messages as msgs
import pytest
from notification.adapters.db import ledger_entries
from notification.application.ledger import verify_chain
from notification_harness import notification, publish, published, wait_until
from sqlalchemy import func, select, text, update
from ten99_contracts import Envelope
from ten99_contracts.billing_v1 import BillingSettingsUpdatedV1
from ten99_contracts.contractor_v1 import IntegrationSecretRotatedV1, PoNumberSetV1
from ten99_contracts.gateway_v1 import FacilityLinkCreatedV1, FacilityLinkRevokedV1
from ten99_contracts.notification_v1 import WebhookEndpointChangedV1
from ten99_testing import quiescent
from ten99kit.bus import ensure_streams

pytestmark = pytest.mark.integration

USER = "user:us_0000000000000000000001"
CONTRACTOR = "contractor:cn_0000000000000000000001"
CN1 = "cn_0000000000000000000001"


def acting(envelope: Envelope[Any], actor: str | None, tenant_id: str | None = None) -> Envelope[Any]:
    return msgspec.structs.replace(envelope, actor=actor, tenant_id=tenant_id or envelope.tenant_id)


async def entry_count(svc: Any, tenant_id: str) -> int:
    async with svc.db.session() as s:
        query = select(func.count()).select_from(ledger_entries).where(ledger_entries.c.tenant_id == tenant_id)
        return int((await s.execute(query)).scalar_one())


async def listed(svc: Any, tenant_id: str, **params: Any) -> list[dict[str, Any]]:
    r = await svc.client.get("/v1/ledger", params=params, headers={"x-tenant-id": tenant_id})
    assert r.status_code == 200, r.text
    return list(r.json()["data"])


def po_set(previous: str | None, number: str) -> PoNumberSetV1:
    return PoNumberSetV1(
        assignment_id="an_0000000000000000000001", contractor_id=CN1, po_number=number, previous_po_number=previous
    )


STEPS = [
    (msgs.company("co_acme"), "operator", ("company", "created")),
    (msgs.contractor_registered(1), USER, ("contractor", "created")),
    (msgs.contractor_registered(1, updated=True), USER, ("contractor", "updated")),
    (po_set(None, "PO-1"), USER, ("assignment", "po_number_set")),
    (msgs.application_completed(1), CONTRACTOR, ("contractor", "opted_in")),
    (po_set("PO-1", "PO-2"), "api_key:ak_0000000000000000000001", ("assignment", "po_number_set")),
    (msgs.invoice(1), "system", ("invoice", "issued")),
]


async def seed(svc: Any, nats_url: str, tenant_id: str = "co_acme") -> list[Envelope[Any]]:
    sent = []
    for i, (message, actor, _) in enumerate(STEPS):
        envelope = acting(msgs.envelope(message, tenant_id=tenant_id), actor)
        await publish(nats_url, envelope)
        sent.append(envelope)
        # one at a time: the chain's order is the order of arrival
        await wait_until(lambda: entry_count(svc, tenant_id), satisfies=lambda n, i=i: n >= i + 1, what=f"entry {i + 1}")
    return sent


async def test_each_change_is_an_entry_with_its_actor_and_what_changed(database_url: str, jetstream_url: str) -> None:
    async with notification(database_url, jetstream_url, None) as svc:
        await seed(svc, jetstream_url)
        entries = list(reversed(await listed(svc, "co_acme", limit=100)))
        assert [(e["entity_kind"], e["action"]) for e in entries] == [kind for _, _, kind in STEPS]
        assert [e["actor"] for e in entries] == [actor for _, actor, _ in STEPS]
        assert [e["seq"] for e in entries] == list(range(1, len(STEPS) + 1))
        created, updated = entries[1], entries[2]
        assert created["before"] == {} and created["after"]["last_name"] == "Lovelace"
        assert created["after"]["address.locality"] == "Oakland" and created["contractor_id"] == CN1
        assert updated["before"] == {"last_name": "Lovelace"} and updated["after"] == {"last_name": "King"}
        second_po = entries[5]
        assert second_po["before"]["po_number"] == "PO-1" and second_po["after"]["po_number"] == "PO-2"
        # personal data an audit trail does not need, and documents, are never kept
        opted_in = entries[4]["after"]
        assert opted_in["date_of_birth"] == "[redacted]" and opted_in["consent.ip_address"] == "[redacted]"
        assert opted_in["consent.signed_name"] == "Ada Lovelace" and "assignments" not in opted_in
        assert "pdf" not in entries[6]["after"] and entries[6]["after"]["total_cents"] == 5_375
        for earlier, later in itertools.pairwise(entries):
            assert later["prev_hash"] == earlier["hash"]

        # filters: the contractor's timeline, one kind, one actor kind, one action; keyset pages
        timeline = await listed(svc, "co_acme", contractor=CN1, limit=100)
        assert {e["entity_kind"] for e in timeline} == {"contractor", "assignment"} and len(timeline) == 5
        assert [e["action"] for e in await listed(svc, "co_acme", actor="user")] == ["po_number_set", "updated", "created"]
        assert len(await listed(svc, "co_acme", entity_kind="invoice")) == 1
        first = await listed(svc, "co_acme", limit=3)
        rest = await listed(svc, "co_acme", limit=100, starting_after=first[-1]["seq"])
        assert [e["seq"] for e in first + rest] == list(range(len(STEPS), 0, -1))
        bad = await svc.client.get("/v1/ledger", params={"entity_kind": "nope"}, headers={"x-tenant-id": "co_acme"})
        assert bad.status_code == 400 and bad.json()["error_code"]


async def test_a_redelivered_message_adds_no_entry(database_url: str, jetstream_url: str) -> None:
    async with notification(database_url, jetstream_url, None) as svc:
        sent = await seed(svc, jetstream_url)
        # a copy beyond JetStream's duplicate window (another Nats-Msg-Id): the same envelope id
        await publish(jetstream_url, sent[3], msg_id="again")
        await quiescent(svc)
        assert await entry_count(svc, "co_acme") == len(STEPS)
        checked, breaks = await verify_chain(svc.db)
        assert checked == 1 and breaks == []


async def test_entries_appended_in_one_batch_chain_and_diff_as_one_by_one(database_url: str, jetstream_url: str) -> None:
    """Messages waiting when the ledger's consumer starts are appended in one transaction (they share
    its recorded_at): each still gets its own seq, the hash of the one before, and what changed since
    the one before it about the same contractor."""
    names = ["Lovelace", "King", "Byron", "King", "Somerville"]
    updates = [msgspec.structs.replace(msgs.contractor_registered(1, updated=True), last_name=n) for n in names]
    sent = [acting(msgs.envelope(m, tenant_id="co_batch"), USER) for m in updates]
    other = acting(msgs.envelope(msgs.contractor_registered(2, updated=True), tenant_id="co_batch"), USER)
    nc = await nats.connect(jetstream_url)
    try:
        await ensure_streams(nc.jetstream(), replicas=1)
    finally:
        await nc.close()
    for envelope in [*sent[:2], other, *sent[2:]]:  # all waiting before the service starts
        await publish(jetstream_url, envelope)
    async with notification(database_url, jetstream_url, None) as svc:
        await wait_until(lambda: entry_count(svc, "co_batch"), satisfies=lambda n: n == len(names) + 1, what="every entry")
        entries = list(reversed(await listed(svc, "co_batch", limit=100)))
        async with svc.db.session() as s:
            query = select(ledger_entries.c.recorded_at).where(ledger_entries.c.tenant_id == "co_batch")
            assert len(set((await s.execute(query)).scalars())) == 1  # one batch
        assert [e["seq"] for e in entries] == list(range(1, len(names) + 2))
        mine = [e for e in entries if e["contractor_id"] == CN1]
        assert [e["envelope_id"] for e in mine] == [e.id for e in sent]  # oldest first
        assert mine[0]["before"] == {} and mine[0]["after"]["last_name"] == "Lovelace"
        assert [(e["before"], e["after"]) for e in mine[1:]] == [
            ({"last_name": a}, {"last_name": b}) for a, b in itertools.pairwise(names)
        ]
        checked, breaks = await verify_chain(svc.db, "co_batch")
        assert checked == 1 and breaks == []


def verify_command(database_url: str, nats_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NOTIFICATION_")},
        "NOTIFICATION_DEVELOPMENT": "true",
        "NOTIFICATION_DB__URL": database_url,
        "NOTIFICATION_NATS__URL": nats_url,
    }
    command = [sys.executable, "-m", "notification", "ledger-verify", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)


async def test_an_altered_or_removed_entry_is_named_by_the_verify_command(database_url: str, jetstream_url: str) -> None:
    async with notification(database_url, jetstream_url, None) as svc:
        await seed(svc, jetstream_url)
        await seed(svc, jetstream_url, tenant_id="co_other")
        intact = await asyncio.to_thread(verify_command, database_url, jetstream_url)
        assert intact.returncode == 0 and "2 companies" in intact.stdout, intact.stdout + intact.stderr

        async with svc.db.session() as s:
            where = (ledger_entries.c.tenant_id == "co_acme", ledger_entries.c.seq == 3)
            await s.execute(update(ledger_entries).where(*where).values(after={"last_name": "Someone else"}))
            await s.commit()
        altered = await asyncio.to_thread(verify_command, database_url, jetstream_url)
        assert altered.returncode == 1
        assert "co_acme entry 3: altered" in altered.stderr and "co_other" not in altered.stderr, altered.stderr
        # the other company's chain alone is intact
        assert (await asyncio.to_thread(verify_command, database_url, jetstream_url, "--tenant", "co_other")).returncode == 0

        async with svc.db.session() as s:
            await s.execute(text("DELETE FROM ledger_entries WHERE tenant_id = 'co_other' AND seq = 5"))
            await s.commit()
        _, breaks = await verify_chain(svc.db, "co_other")
        assert [str(b) for b in breaks] == ["co_other entry 5: missing (the next entry is 6)"]
        async with svc.db.session() as s:  # the last entry removed: the head tells
            await s.execute(text("DELETE FROM ledger_entries WHERE tenant_id = 'co_other' AND seq >= 5"))
            await s.commit()
        _, breaks = await verify_chain(svc.db, "co_other")
        assert [str(b) for b in breaks] == ["co_other entry 5: missing (the chain's head is entry 7)"]


async def test_a_company_reads_only_its_own_ledger(database_url: str, jetstream_url: str) -> None:
    async with notification(database_url, jetstream_url, None) as svc:
        await seed(svc, jetstream_url)
        settings = BillingSettingsUpdatedV1(billing_email="b@x.test", premium_payer="company", platform_fee_bps=0)
        other = acting(msgs.envelope(settings, tenant_id="co_b"), USER)
        await publish(jetstream_url, other)
        await wait_until(lambda: entry_count(svc, "co_b"), satisfies=lambda n: n == 1, what="co_b's entry")
        mine = await listed(svc, "co_b", limit=100)
        assert [(e["entity_kind"], e["entity_id"]) for e in mine] == [("billing_settings", "co_b")]
        assert await listed(svc, "co_b", contractor=CN1) == []
        assert await listed(svc, "co_b", entity_id=CN1) == []
        # a cursor is a seq of the company's own chain: nothing of another company's beyond it
        assert await listed(svc, "co_b", starting_after=1) == []
        r = await svc.client.get("/v1/ledger.csv", headers={"x-tenant-id": "co_b"})
        assert r.status_code == 200 and "co_acme" not in r.text and CN1 not in r.text
        assert len(r.text.strip().splitlines()) == 2
        assert (await svc.client.get("/v1/ledger")).status_code == 400  # no tenant


async def _endpoint_changes(svc: Any) -> tuple[str, str]:
    """A dashboard user makes, changes, disables, enables, re-keys and deletes an endpoint (one
    PUT changes nothing); the endpoint's id and the secrets shown."""
    who = {"x-tenant-id": "co_acme", "x-ten99-actor": USER, "x-correlation-id": "req-hooks"}
    r = await svc.client.post("/v1/webhook_endpoints", json={"url": "https://hooks.acme.test/a"}, headers=who)
    assert r.status_code == 200, r.text
    endpoint_id, first_secret = r.json()["id"], r.json()["secret"]
    for change in ({"url": "https://hooks.acme.test/b", "description": "Payroll"}, {"status": "disabled"}, {"status": "enabled"}):
        assert (await svc.client.put(f"/v1/webhook_endpoints/{endpoint_id}", json=change, headers=who)).status_code == 200
    same = await svc.client.put(f"/v1/webhook_endpoints/{endpoint_id}", json={"description": "Payroll"}, headers=who)
    assert same.status_code == 200
    rotated = await svc.client.post(f"/v1/webhook_endpoints/{endpoint_id}/secret", headers=who)
    assert rotated.status_code == 200, rotated.text
    assert (await svc.client.delete(f"/v1/webhook_endpoints/{endpoint_id}", headers=who)).status_code in (200, 204)
    return endpoint_id, first_secret + rotated.json()["secret"]


async def test_webhook_endpoint_changes_are_entries_of_their_user_without_the_secret(
    database_url: str, jetstream_url: str
) -> None:
    async with notification(database_url, jetstream_url, None) as svc:
        endpoint_id, secrets = await _endpoint_changes(svc)
        # published once each, through notification's outbox (the PUT that changed nothing: no message)
        sent = await wait_until(
            lambda: published(jetstream_url, WebhookEndpointChangedV1.SUBJECT), satisfies=lambda m: len(m) == 6, what="6"
        )
        assert [m["data"]["change"] for m in sent] == ["created", "updated", "disabled", "enabled", "secret_rotated", "deleted"]
        assert {m["actor"] for m in sent} == {USER} and {m["correlation_id"] for m in sent} == {"req-hooks"}
        await wait_until(lambda: entry_count(svc, "co_acme"), satisfies=lambda n: n == 6, what="6 entries")
        entries = list(reversed(await listed(svc, "co_acme", entity_kind="webhook_endpoint", limit=100)))
        assert [e["action"] for e in entries] == [m["data"]["change"] for m in sent]
        assert {(e["entity_id"], e["actor"], e["correlation_id"]) for e in entries} == {(endpoint_id, USER, "req-hooks")}
        created, updated, disabled = entries[:3]
        assert created["after"]["url"] == "https://hooks.acme.test/a" and created["after"]["enabled"] is True
        assert "change" not in created["after"]  # the action, not a field of the endpoint
        assert updated["before"] == {"url": "https://hooks.acme.test/a", "description": None}
        assert updated["after"] == {"url": "https://hooks.acme.test/b", "description": "Payroll"}
        assert disabled["before"]["enabled"] is True and disabled["after"]["enabled"] is False
        assert disabled["after"]["disabled_reason"] == "disabled by the company"
        assert entries[4]["before"] == {} and entries[4]["after"] == {}  # a new secret: only that it happened
        for secret in (secrets[: len(secrets) // 2], secrets[len(secrets) // 2 :]):
            assert secret not in str(sent) and secret not in str(entries)


OTHER_CHANGES = [
    (
        IntegrationSecretRotatedV1(
            provider="worksuite", hint="whsec_…Ab12", first=True, rotated_at=datetime(2026, 11, 2, tzinfo=UTC)
        ),
        USER,
        ("integration_secret", "worksuite", "rotated"),
    ),
    (
        FacilityLinkCreatedV1(link_id="fl_0000000000000000000001", entity_id="en_0000000000000000000001", expires_at=None),
        "api_key:ak_0000000000000000000001",
        ("facility_link", "fl_0000000000000000000001", "created"),
    ),
    (
        FacilityLinkRevokedV1(
            link_id="fl_0000000000000000000001",
            entity_id="en_0000000000000000000001",
            revoked_at=datetime(2026, 11, 3, tzinfo=UTC),
        ),
        USER,
        ("facility_link", "fl_0000000000000000000001", "revoked"),
    ),
]


async def test_integration_secrets_and_facility_links_are_entries_once(database_url: str, jetstream_url: str) -> None:
    async with notification(database_url, jetstream_url, None) as svc:
        sent = []
        for i, (message, actor, _) in enumerate(OTHER_CHANGES):
            envelope = acting(msgs.envelope(message), actor)
            await publish(jetstream_url, envelope)
            sent.append(envelope)
            await wait_until(lambda: entry_count(svc, "co_acme"), satisfies=lambda n, i=i: n == i + 1, what=f"entry {i + 1}")
        entries = list(reversed(await listed(svc, "co_acme", limit=100)))
        assert [(e["entity_kind"], e["entity_id"], e["action"]) for e in entries] == [kind for _, _, kind in OTHER_CHANGES]
        assert [e["actor"] for e in entries] == [actor for _, actor, _ in OTHER_CHANGES]
        assert entries[0]["after"] == {
            "provider": "worksuite",
            "hint": "whsec_…Ab12",
            "first": True,
            "rotated_at": "2026-11-02T00:00:00Z",
        }
        assert entries[1]["after"]["entity_id"] == "en_0000000000000000000001" and entries[1]["after"]["expires_at"] is None
        assert entries[2]["before"] == {} and entries[2]["after"] == {"revoked_at": "2026-11-03T00:00:00Z"}
        # a redelivery beyond JetStream's duplicate window adds nothing
        await publish(jetstream_url, sent[0], msg_id="again")
        await quiescent(svc)
        assert await entry_count(svc, "co_acme") == len(OTHER_CHANGES)
