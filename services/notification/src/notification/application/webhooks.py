"""The webhook deliverer: claims due deliveries fairly and posts each signed event (through the
poster bootstrap hands it), keeps every attempt, retries with backoff for the retry window, and
disables an endpoint whose attempts have all failed for ``disable_after`` (the company is told by
email).

Fairness: a claim takes at most ``max_in_flight_per_endpoint`` deliveries under way per endpoint
(every worker's live claims counted) and round-robins over endpoints, within ``max_in_flight``
overall; each attempt runs as its own task, bounded by the poster's timeouts, and the loop never
waits for one. A slow or dead endpoint holds its own few slots only, never another company's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

import msgspec
from prometheus_client import Counter, Histogram
from sqlalchemy import or_, update
from ten99kit import Database, get_logger, new_id
from ten99kit.clock import epoch
from ten99kit.crypto import FieldCipher
from ten99kit.workers import Backoff, PollingWorker

from ..adapters.db import webhook_endpoints
from ..adapters.deliveries import delivery_row, queue_delivery
from ..adapters.webhook_store import (
    AttemptRecord,
    ClaimedWebhook,
    claim_deliveries,
    fail_pending_deliveries,
    get_endpoint,
    owner_email,
    record_attempt,
)
from ..domain import DeliveryStatus, clean_addresses
from ..domain.webhooks import EndpointStatus, RetrySchedule
from ..settings import WebhookSettings
from .composing import EmailComposer
from .endpoints import announce_endpoint
from .reactions import message_id_for

__all__ = ["WEBHOOK_ATTEMPTS", "WEBHOOK_DELIVERY_SECONDS", "PostOutcome", "Poster", "WebhookDeliverer", "event_body"]

log = get_logger(__name__)

#: one per attempt, counted once its outcome is recorded: ``succeeded`` (a 2xx answer); ``retrying``
#: (failed, another attempt is scheduled); ``given_up`` (failed after the retry window)
WEBHOOK_ATTEMPTS = Counter("ten99_webhook_attempts_total", "Webhook delivery attempts by outcome", ["outcome"])
#: from the event's recording to the answer of the attempt that delivered it (retries included)
WEBHOOK_DELIVERY_SECONDS = Histogram(
    "ten99_webhook_delivery_seconds",
    "Time from a public event's recording to its successful webhook delivery (retries included)",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3 * 3600.0, 86400.0, 3 * 86400.0),
)

_encoder = msgspec.json.Encoder()


class PostOutcome(Protocol):
    @property
    def status_code(self) -> int | None: ...
    @property
    def latency_ms(self) -> int: ...
    @property
    def excerpt(self) -> str | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def succeeded(self) -> bool: ...


#: (url, the signing secrets, message id, body)
Poster = Callable[[str, Sequence[str], str, bytes], Awaitable[PostOutcome]]


class _NotSent:
    """An attempt that did not reach the network."""

    def __init__(self, error: str) -> None:
        self.status_code: int | None = None
        self.latency_ms = 0
        self.excerpt: str | None = None
        self.error: str | None = error
        self.succeeded = False


def event_body(event_id: str, event_type: str, created: datetime, obj: dict[str, Any]) -> dict[str, Any]:
    """An event as the API and webhooks show it (1099Policy's shape, ``data.object``)."""
    return {"id": event_id, "object": "event", "type": event_type, "created": epoch(created), "data": {"object": obj}}


def _count(delivery: ClaimedWebhook, succeeded: bool, retry_at: datetime | None, now: datetime) -> None:
    if succeeded:
        WEBHOOK_ATTEMPTS.labels("succeeded").inc()
        WEBHOOK_DELIVERY_SECONDS.observe(max(0.0, (now - delivery.event_created_at).total_seconds()))
    else:
        WEBHOOK_ATTEMPTS.labels("retrying" if retry_at is not None else "given_up").inc()


class WebhookDeliverer:
    def __init__(
        self,
        db: Database,
        poster: Poster,
        cipher: FieldCipher,
        settings: WebhookSettings,
        *,
        composer: EmailComposer,
        from_address: str,
        wake_sender: Callable[[], None],
    ) -> None:
        self.db = db
        self.clock = db.clock
        self.poster = poster
        self.cipher = cipher
        self.settings = settings
        self.schedule = RetrySchedule(tuple(settings.retry_schedule_s), timedelta(seconds=settings.retry_for_s))
        self.composer = composer
        self.from_address = from_address
        self.wake_sender = wake_sender
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    def wake(self) -> None:
        self._wake.set()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    # -- the loop -----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        worker = PollingWorker(
            "webhooks", self.step, idle_s=self.settings.poll_interval_s, backoff=Backoff(0.1, 5.0), wake=self._wake
        )
        try:
            await worker.run(stop)
        finally:
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=self.settings.total_timeout_s + 1)

    async def step(self) -> float | None:
        """Claim what free slots allow and start each attempt; never wait for one."""
        slots = self.settings.max_in_flight - len(self._tasks)
        claimed = await claim_deliveries(
            self.db,
            self.clock.now(),
            slots=slots,
            per_endpoint=self.settings.max_in_flight_per_endpoint,
            per_healthy_endpoint=self.settings.max_in_flight_per_healthy_endpoint,
            lease=timedelta(seconds=self.settings.lease_s),
        )
        for delivery in claimed:
            task = asyncio.create_task(self.attempt(delivery), name=f"webhook {delivery.id}")
            self._tasks.add(task)
            task.add_done_callback(self._attempt_done)
        return 0 if claimed and len(claimed) >= slots else None

    def _attempt_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # not recorded: the claim lapses and the delivery is attempted again
            log.error("webhook.attempt_failed", error=repr(task.exception()))
        self._wake.set()  # a slot is free

    async def drain(self) -> None:
        """Attempt everything due now and wait for the attempts (tests, operators)."""
        while True:
            await self.step()
            if not self._tasks:
                return
            await asyncio.wait(list(self._tasks))

    # -- one attempt ----------------------------------------------------------------------------

    async def attempt(self, delivery: ClaimedWebhook) -> None:
        body = _encoder.encode(
            event_body(delivery.event_id, delivery.event_type, delivery.event_created_at, delivery.event_object)
        )
        attempted_at = self.clock.now()
        try:
            secrets = self._signing_secrets(delivery, attempted_at)
        except ValueError:  # a key taken out of WEBHOOK_SECRET_KEYS too early: say so, retry later
            result: PostOutcome = _NotSent("cannot decrypt the endpoint's signing secret (check WEBHOOK_SECRET_KEYS)")
        else:
            result = await self.poster(delivery.url, secrets, delivery.event_id, body)
        now = self.clock.now()
        retry_at = None
        if not result.succeeded:
            retry_at = self.schedule.next_attempt(delivery.round_attempts, delivery.round_started_at, now)
        record = AttemptRecord(
            delivery=delivery,
            attempted_at=attempted_at,
            succeeded=result.succeeded,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            excerpt=result.excerpt,
            error=result.error,
            next_attempt_at=retry_at,
        )
        async with self.db.uow() as uow:
            await record_attempt(uow.session, uow.db.dialect, record, now)
            disabled = await self._endpoint_health(uow, delivery, result.succeeded, now)
            await uow.commit()
        _count(delivery, result.succeeded, retry_at, now)
        if disabled:
            self.wake_sender()
        if not result.succeeded:
            log.warning("webhook.attempt_failed", delivery_id=delivery.id, attempt=delivery.attempts, error=result.error)

    def _signing_secrets(self, delivery: ClaimedWebhook, now: datetime) -> list[str]:
        """The endpoint's secret, and for a day after a rotation the one before it too."""
        secrets = [self.cipher.decrypt(delivery.secret_encrypted)]
        until = delivery.previous_secret_until
        if delivery.previous_secret_encrypted and until is not None and now < until:
            secrets.append(self.cipher.decrypt(delivery.previous_secret_encrypted))
        return secrets

    async def _endpoint_health(self, uow: Any, delivery: ClaimedWebhook, succeeded: bool, now: datetime) -> bool:
        """Forget failures on a success; on a failure, note when failing began, and disable the
        endpoint once it has failed for ``disable_after_s``. True if it was disabled now."""
        e = webhook_endpoints
        this = e.c.id == delivery.endpoint_id
        if succeeded:
            unproven = or_(e.c.failing_since.is_not(None), e.c.proven_at.is_(None))  # else nothing to write
            await uow.session.execute(update(e).where(this, unproven).values(failing_since=None, proven_at=now))
            return False
        await uow.session.execute(update(e).where(this, e.c.failing_since.is_(None)).values(failing_since=now))
        cutoff = now - timedelta(seconds=self.settings.disable_after_s)
        reason = f"every attempt failed for {self.settings.disable_after_s / 86400:g} days"
        disabled = await uow.session.execute(
            update(e)
            .where(this, e.c.status == EndpointStatus.ENABLED.value, e.c.failing_since <= cutoff)
            .values(status=EndpointStatus.DISABLED.value, disabled_reason=reason, updated_at=now)
            .returning(e.c.url, e.c.failing_since)
        )
        row = disabled.first()
        if row is None:
            return False
        await fail_pending_deliveries(uow.session, delivery.endpoint_id, now, "endpoint disabled")
        await _announce_disabled(uow, delivery.tenant_id, delivery.endpoint_id)
        await self._tell_company(uow, delivery.tenant_id, delivery.endpoint_id, row.url, row.failing_since, now)
        log.warning("webhook.endpoint_disabled", endpoint_id=delivery.endpoint_id, tenant_id=delivery.tenant_id)
        return True

    async def disable_failing_endpoints(self, now: datetime) -> int:
        """The clock's check (a scheduled job): an endpoint whose deliveries have all failed for
        ``disable_after_s`` is disabled, and the company told, even when no new event comes to
        fail (its last delivery gave up after the retry window, days before)."""
        e = webhook_endpoints
        cutoff = now - timedelta(seconds=self.settings.disable_after_s)
        reason = f"every attempt failed for {self.settings.disable_after_s / 86400:g} days"
        async with self.db.uow() as uow:
            disabled = (
                await uow.session.execute(
                    update(e)
                    .where(e.c.status == EndpointStatus.ENABLED.value, e.c.failing_since <= cutoff)
                    .values(status=EndpointStatus.DISABLED.value, disabled_reason=reason, updated_at=now)
                    .returning(e.c.id, e.c.tenant_id, e.c.url, e.c.failing_since)
                )
            ).all()
            for row in disabled:
                await fail_pending_deliveries(uow.session, row.id, now, "endpoint disabled")
                await _announce_disabled(uow, row.tenant_id, row.id)
                await self._tell_company(uow, row.tenant_id, row.id, row.url, row.failing_since, now)
                log.warning("webhook.endpoint_disabled", endpoint_id=row.id, tenant_id=row.tenant_id)
            await uow.commit()  # the emails' queueing wakes the sender after it
        return len(disabled)

    async def _tell_company(
        self, uow: Any, tenant_id: str, endpoint_id: str, url: str, failing_since: datetime, now: datetime
    ) -> None:
        company, address = await owner_email(uow.session, tenant_id)
        email = self.composer.webhook_disabled(
            endpoint_id=endpoint_id,
            url=url,
            failing_since=failing_since,
            disabled_at=now,
            company_name=company,
            to=clean_addresses([address or ""]),
        )
        delivery_id = new_id("dl")
        row = delivery_row(
            tenant_id=tenant_id,
            delivery_id=delivery_id,
            message_id=message_id_for(delivery_id, self.from_address),
            email=email,
            status=DeliveryStatus.QUEUED if email.to else DeliveryStatus.FAILED,
            now=now,
            source_message_id=None,
            last_error=None if email.to else "no recipient address: the company's owner email is unknown",
        )
        queue_delivery(uow.session, uow.db.dialect, row, [], after_commit=self.wake_sender)


async def _announce_disabled(uow: Any, tenant_id: str, endpoint_id: str) -> None:
    """The deliverer's disabling, for the audit ledger like the company's own (actor: system)."""
    endpoint = await get_endpoint(uow.session, tenant_id, endpoint_id)
    if endpoint is not None:
        announce_endpoint(uow, endpoint, "disabled")
