"""Events and webhook deliveries on SQLite (the embedded default), with a fake poster: recording
once, fair claiming across endpoints, retries on the clock, a lapsed claim taken again, the purge;
and the rules of `domain.webhooks` and `domain.public_events`."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import notification_messages as msgs
import pytest
from notification.adapters.db import events, webhook_deliveries, webhook_endpoints
from notification.adapters.rendering import EmailRenderer
from notification.adapters.webhook_store import claim_deliveries
from notification.application.composing import EmailComposer
from notification.application.endpoints import EndpointRules, Endpoints
from notification.application.events import EventRecorder
from notification.application.webhooks import WebhookDeliverer
from notification.bootstrap import definition
from notification.domain.public_events import EVENT_TYPES, MAPPINGS, SOURCED_EVENT_TYPES, public_event
from notification.domain.webhooks import RetrySchedule, check_event_types, check_url, is_public_address
from notification.settings import WebhookSettings
from sqlalchemy import func, select, update
from ten99kit import Database, InvalidInput, SettableClock, create_engine
from ten99kit.crypto import FieldCipher, derive_key
from ten99kit.migrations import upgrade
from ten99kit.settings import DatabaseSettings

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@dataclass
class Outcome:
    status_code: int | None
    latency_ms: int = 3
    excerpt: str | None = "ok"
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class FakePoster:
    def __init__(self) -> None:
        self.posts: list[tuple[str, str, bytes]] = []
        self.status = 200

    async def __call__(self, url: str, secret: str, message_id: str, body: bytes) -> Outcome:
        self.posts.append((url, message_id, body))
        return Outcome(self.status, error=None if self.status < 300 else f"HTTP {self.status}")


@pytest.fixture
async def env(sqlite_url: str) -> Any:
    await asyncio.to_thread(upgrade, definition.migrations, sqlite_url)
    db = Database(create_engine(DatabaseSettings(url=sqlite_url)), SettableClock(NOW), "notification")
    db.outbox_table = definition.metadata.tables["outbox"]  # endpoint changes publish a message
    cipher = FieldCipher([derive_key("k", "notification-webhook-secret")])
    poster = FakePoster()
    settings = WebhookSettings(max_in_flight=3, max_in_flight_per_endpoint=1, max_in_flight_per_healthy_endpoint=1)
    composer = EmailComposer(EmailRenderer(), dashboard_url="http://dash", missing_po_path="/po/missing")
    deliverer = WebhookDeliverer(
        db, poster, cipher, settings, composer=composer, from_address="no-reply@ten99.local", wake_sender=lambda: None
    )
    endpoints = Endpoints(db, cipher, EndpointRules(allow_http=True, max_url_length=2048), deliverer.wake)
    yield db, poster, deliverer, endpoints, EventRecorder(deliverer.wake)
    await db.dispose()


async def record(db: Database, recorder: EventRecorder, envelope: Any) -> None:
    async with db.uow() as uow:
        await recorder.on_message(uow, envelope)
        await uow.commit()


async def count(db: Database, table: Any) -> int:
    async with db.session() as s:
        return int((await s.execute(select(func.count()).select_from(table))).scalar_one())


async def test_events_and_deliveries_are_recorded_once_and_claimed_fairly(env: Any) -> None:
    db, poster, deliverer, endpoints, recorder = env
    first, _ = await endpoints.create("co_a", url="http://a.test/1", description=None, events=None)
    second, _ = await endpoints.create("co_a", url="http://a.test/2", description=None, events=["contractor.created"])
    await endpoints.create("co_a", url="http://a.test/3", description=None, events=["policy.active"])
    envelope = msgs.envelope(msgs.contractor_registered(1), tenant_id="co_a")
    await record(db, recorder, envelope)
    await record(db, recorder, envelope)  # redelivered
    for n in range(2, 5):
        await record(db, recorder, msgs.envelope(msgs.contractor_registered(n), tenant_id="co_a"))
    assert await count(db, events) == 4 and await count(db, webhook_deliveries) == 8

    # one per endpoint under way: the first claim takes one of each of the two endpoints
    await deliverer.step()
    await asyncio.wait(list(deliverer._tasks))
    assert sorted(url for url, _, _ in poster.posts) == ["http://a.test/1", "http://a.test/2"]
    await deliverer.drain()
    assert len(poster.posts) == 8 and len({(url, mid) for url, mid, _ in poster.posts}) == 8
    assert first["id"] != second["id"]


async def test_a_healthy_endpoint_takes_a_burst_and_a_failing_one_only_its_few(env: Any) -> None:
    db, _poster, _deliverer, endpoints, recorder = env
    healthy, _ = await endpoints.create("co_a", url="http://a.test/ok", description=None, events=None)
    failing, _ = await endpoints.create("co_b", url="http://b.test/down", description=None, events=None)
    for n in range(1, 7):
        await record(db, recorder, msgs.envelope(msgs.contractor_registered(n), tenant_id="co_a"))
        await record(db, recorder, msgs.envelope(msgs.contractor_registered(10 + n), tenant_id="co_b"))
    e = webhook_endpoints
    now = db.clock.now()
    lease = timedelta(seconds=60)
    # neither has succeeded yet: a new endpoint might be dead, so each takes only the few
    first = await claim_deliveries(db, now, slots=10, per_endpoint=1, per_healthy_endpoint=5, lease=lease)
    assert Counter(c.endpoint_id for c in first) == {healthy["id"]: 1, failing["id"]: 1}
    async with db.uow() as uow:  # the first attempts end: one proven, one failing (proven before)
        ended = webhook_deliveries.c.id.in_([c.id for c in first])
        await uow.session.execute(update(webhook_deliveries).where(ended).values(status="succeeded", next_attempt_at=None))
        await uow.session.execute(update(e).where(e.c.id == healthy["id"]).values(proven_at=now))
        await uow.session.execute(update(e).where(e.c.id == failing["id"]).values(proven_at=now, failing_since=now))
        await uow.commit()
    claimed = await claim_deliveries(db, now, slots=10, per_endpoint=2, per_healthy_endpoint=5, lease=lease)
    by_endpoint = Counter(c.endpoint_id for c in claimed)
    assert by_endpoint == {healthy["id"]: 5, failing["id"]: 2}
    # the claims still under way count: nothing more for either until one ends
    again = await claim_deliveries(db, now, slots=10, per_endpoint=2, per_healthy_endpoint=5, lease=lease)
    assert again == []


async def test_failures_wait_for_the_clock_and_a_lapsed_claim_is_taken_again(env: Any) -> None:
    db, poster, deliverer, endpoints, recorder = env
    await endpoints.create("co_a", url="http://a.test/1", description=None, events=None)
    await record(db, recorder, msgs.envelope(msgs.contractor_registered(1), tenant_id="co_a"))
    poster.status = 500
    await deliverer.drain()
    await deliverer.drain()
    assert len(poster.posts) == 1  # the retry waits 5 s on the clock
    db.clock.advance(timedelta(seconds=5))
    await deliverer.drain()
    assert len(poster.posts) == 2

    # a worker that vanished mid-attempt: its claim lapses after the lease and is taken again
    async with db.uow() as uow:
        await uow.session.execute(
            update(webhook_deliveries).values(status="delivering", next_attempt_at=db.clock.now() + timedelta(seconds=60))
        )
        await uow.commit()
    db.clock.advance(timedelta(seconds=59))
    await deliverer.drain()
    assert len(poster.posts) == 2
    poster.status = 200
    db.clock.advance(timedelta(seconds=2))
    await deliverer.drain()
    assert len(poster.posts) == 3
    async with db.session() as s:
        assert (await s.execute(select(webhook_deliveries.c.status))).scalar_one() == "succeeded"


async def test_old_events_are_purged_with_their_deliveries(env: Any) -> None:
    from notification.adapters.webhook_store import purge_events

    db, _, deliverer, endpoints, recorder = env
    await endpoints.create("co_a", url="http://a.test/1", description=None, events=None)
    await record(db, recorder, msgs.envelope(msgs.contractor_registered(1), tenant_id="co_a"))
    await deliverer.drain()
    assert await purge_events(db, NOW) == 0
    assert await purge_events(db, NOW + timedelta(seconds=1)) == 1
    assert await count(db, events) == 0 and await count(db, webhook_deliveries) == 0


def test_every_mapped_message_has_a_sourced_type_and_every_sourced_type_a_message() -> None:
    produced = {public_event(msgs.envelope(message)).type for message in _one_of_each()}  # type: ignore[union-attr]
    # an uploaded certificate's review is one message whose status names the type
    produced |= {
        public_event(msgs.envelope(msgs.uploaded_certificate(1, status=status))).type  # type: ignore[union-attr]
        for status in ("approved", "denied", "error")
    }
    assert produced == set(SOURCED_EVENT_TYPES)
    assert set(SOURCED_EVENT_TYPES) <= EVENT_TYPES and "category_code.added" in EVENT_TYPES - set(SOURCED_EVENT_TYPES)
    assert {type(m).SUBJECT for m in _one_of_each()} == set(MAPPINGS)


def _one_of_each() -> list[Any]:
    return [
        msgs.invitation(1),
        msgs.invitation_expired(1),
        msgs.application_started(1),
        msgs.application_completed(1),
        msgs.application_ineligible(1),
        msgs.policy_activated(1),
        msgs.policy_cancelled(1),
        msgs.policy_reactivated(1),
        msgs.coverage_activated(1),
        msgs.cancelled(1),
        msgs.assignment_cancelled(1),
        msgs.invoice(1),
        msgs.invoice_paid(1),
        msgs.invoice_voided(1),
        msgs.certificate(1),
        msgs.uploaded_certificate(1),
        msgs.contractor_registered(1),
        msgs.contractor_registered(1, updated=True),
    ]


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.0.1", "169.254.169.254", "::1", "fe80::1", "fc00::1", "224.0.0.1",
     "0.0.0.0", "::ffff:10.0.0.1", "100.64.0.1", "240.0.0.1"],
)  # fmt: skip
def test_non_public_addresses_are_recognised(address: str) -> None:
    assert not is_public_address(address)


def test_public_addresses_pass() -> None:
    assert is_public_address("93.184.216.34") and is_public_address("2606:2800:220:1:248:1893:25c8:1946")


def test_urls_and_event_types_are_checked() -> None:
    assert check_url(" https://h.example.com/x?y=1 ", allow_http=False, max_length=100) == "https://h.example.com/x?y=1"
    for bad in ("http://h.example.com", "https://u@h.example.com", "https://h.example.com/#f", "https://h.example.com:0/"):
        with pytest.raises(InvalidInput):
            check_url(bad, allow_http=False, max_length=100)
    assert check_event_types(None) == ["*"] and check_event_types(["policy.active", "*"]) == ["*"]
    assert check_event_types(["policy.active", "policy.active"]) == ["policy.active"]
    with pytest.raises(InvalidInput):
        check_event_types(["policy.nope"])


def test_the_retry_schedule_backs_off_then_gives_up_after_its_window() -> None:
    schedule = RetrySchedule((5, 30, 3600), timedelta(days=3))
    assert schedule.next_attempt(1, NOW, NOW) == NOW + timedelta(seconds=5)
    assert schedule.next_attempt(2, NOW, NOW) == NOW + timedelta(seconds=30)
    assert schedule.next_attempt(9, NOW, NOW) == NOW + timedelta(hours=1)
    assert schedule.next_attempt(9, NOW, NOW + timedelta(days=3) - timedelta(minutes=1)) is None
