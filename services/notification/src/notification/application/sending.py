"""The sender: claims due deliveries in batches, sends them concurrently over the SMTP pool,
and records the outcomes in bulk (sent -> ``EmailDeliveredV1``; a temporary failure -> retried
with exponential backoff on the clock; a permanent failure or the last attempt ->
``EmailFailedV1``). A finished delivery (sent or failed) keeps its bodies with the opt-in links
redacted (`redaction`); a retried one keeps them whole.

It wakes at once when this process commits new deliveries, and polls as a fallback (commits of
other processes, retries coming due). Several senders may run on PostgreSQL: claiming uses
``FOR UPDATE SKIP LOCKED``. A claim is a lease, renewed every third of it while its batch is being
sent: if the sender dies mid-send, the deliveries are claimed again when the lease lapses, by any
sender or by the restarted process (so an email can, rarely, go out twice; its Message-ID is the
same, and mail systems show it once).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

from prometheus_client import Counter, Histogram
from ten99_contracts.notification_v1 import EmailDeliveredV1, EmailFailedV1
from ten99kit import Database, get_logger
from ten99kit.workers import Backoff, PollingWorker, wait_first

from ..adapters.deliveries import ClaimedDelivery, Outcome, claim_due, mark_outcomes, next_due_at, renew_claims
from ..adapters.mime import MessageParts, SendResult, build_message
from ..domain import RetryPolicy
from ..settings import DeliverySettings, SmtpSettings
from .redaction import redacted_bodies

__all__ = ["DeliverySender"]

log = get_logger(__name__)

Transport = Callable[[str, Sequence[str], bytes], Awaitable[SendResult]]

#: one per attempt, counted once its outcome is recorded: ``sent``; ``deferred`` (a temporary
#: failure, retried later); ``bounced`` (refused for good by the SMTP server, or unbuildable);
#: ``failed`` (a temporary failure on the last attempt: given up)
EMAIL_ATTEMPTS = Counter("ten99_email_attempts_total", "Email delivery attempts by outcome", ["template", "outcome"])
EMAIL_SEND_SECONDS = Histogram(
    "ten99_email_send_seconds",
    "Time to hand one email to the SMTP server (answer included)",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)

#: recording a sent batch is tried three times, 0.5 s then 1 s apart
_RECORD_ATTEMPTS = 3


@dataclass
class _InFlight:
    """The batches being sent (their claimed seqs, for renewing their leases) and the free slots."""

    slots: asyncio.Semaphore
    batches: dict[asyncio.Task[list[Outcome]], list[int]] = field(default_factory=dict)


def _count_attempts(sent: Sequence[Outcome], retry: Sequence[tuple[Outcome, object]], failed: Sequence[Outcome]) -> None:
    for o in sent:
        EMAIL_ATTEMPTS.labels(o.delivery.template, "sent").inc()
    for o, _ in retry:
        EMAIL_ATTEMPTS.labels(o.delivery.template, "deferred").inc()
    for o in failed:
        EMAIL_ATTEMPTS.labels(o.delivery.template, "bounced" if o.permanent else "failed").inc()


class DeliverySender:
    def __init__(
        self,
        db: Database,
        transport: Transport,
        *,
        smtp: SmtpSettings,
        delivery: DeliverySettings,
        ready: asyncio.Event | None = None,
    ) -> None:
        self.db = db
        self.clock = db.clock
        self.transport = transport
        self.smtp = smtp
        self.settings = delivery
        self.policy = RetryPolicy(delivery.max_attempts, delivery.backoff_base_s, delivery.backoff_max_s)
        #: set when the SMTP server we send to is up (the in-process catcher); None: assume it is
        self.ready = ready
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    # -- one batch ----------------------------------------------------------------------------

    async def claim(self) -> list[ClaimedDelivery]:
        return await claim_due(self.db, self.clock.now(), self.settings.batch_size, timedelta(seconds=self.settings.lease_s))

    async def deliver(self, batch: list[ClaimedDelivery]) -> list[Outcome]:
        """Send a claimed batch and record what happened, in one transaction."""
        outcomes = list(await asyncio.gather(*(self._send_one(d) for d in batch)))
        backoff = Backoff(0.5, 1.0)
        for attempt in range(1, _RECORD_ATTEMPTS + 1):
            try:
                await self._record(outcomes)
                break
            except Exception as e:
                # the emails are out: losing the record would send them again when the claims lapse
                if attempt == _RECORD_ATTEMPTS:
                    raise
                log.warning("sender.record_failed", error=repr(e), attempt=attempt)
                await asyncio.sleep(backoff.next())
        return outcomes

    async def _send_one(self, d: ClaimedDelivery) -> Outcome:
        try:
            parts = MessageParts(
                from_name=self.smtp.from_name,
                from_address=self.smtp.from_address,
                to=d.to,
                cc=d.cc,
                subject=d.subject,
                text=d.text,
                html=d.html,
                message_id=d.message_id,
                date=self.clock.now(),
                attachments=d.attachments,
                headers={"X-Ten99-Delivery": d.id, "X-Ten99-Template": d.template},
            )
            raw = build_message(parts)
        except Exception as e:  # a message that cannot be built will never be: give up on it
            return Outcome(d, sent=False, permanent=True, error=f"cannot build the message: {e!r}")
        started = time.perf_counter()
        result = await self.transport(self.smtp.from_address, [*d.to, *d.cc], raw)
        EMAIL_SEND_SECONDS.observe(time.perf_counter() - started)
        return Outcome(d, sent=result.sent, permanent=result.permanent, error=result.error)

    async def _record(self, outcomes: list[Outcome]) -> None:
        now = self.clock.now()
        sent = [o for o in outcomes if o.sent]
        retry = []
        failed = []
        for o in outcomes:
            if o.sent:
                continue
            at = None if o.permanent else self.policy.next_attempt(o.delivery.attempts, now)
            if at is None:
                failed.append(o)
            else:
                retry.append((o, at))
        # a finished email keeps no working link in the log; a retried one is kept whole to be resent
        finished = redacted_bodies(o.delivery for o in [*sent, *failed])
        async with self.db.uow() as uow:
            marked_sent, marked_failed = await mark_outcomes(uow.session, now, sent, retry, failed, finished)
            for o in sent:
                d = o.delivery
                if d.seq in marked_sent:
                    uow.emit(
                        EmailDeliveredV1(delivery_id=d.id, template=d.template, to=d.to, cc=d.cc, related_id=d.related_id),
                        tenant_id=d.tenant_id,
                        aggregate_id=d.id,
                    )
            for o in failed:
                d = o.delivery
                if d.seq in marked_failed:
                    uow.emit(
                        EmailFailedV1(
                            delivery_id=d.id,
                            template=d.template,
                            to=d.to,
                            error=o.error or "failed",
                            attempts=d.attempts,
                            related_id=d.related_id,
                        ),
                        tenant_id=d.tenant_id,
                        aggregate_id=d.id,
                    )
            await uow.commit()
        _count_attempts(sent, retry, failed)
        for o, at in retry:
            log.warning(
                "delivery.retry",
                delivery_id=o.delivery.id,
                attempt=o.delivery.attempts,
                next_attempt_at=at.isoformat(),
                error=o.error,
            )
        for o in failed:
            log.error("delivery.failed", delivery_id=o.delivery.id, attempts=o.delivery.attempts, error=o.error)

    async def drain(self) -> int:
        """Send everything that is due now, batch after batch (tests, benchmarks, operators)."""
        total = 0
        while batch := await self.claim():
            await self.deliver(batch)
            total += len(batch)
        return total

    # -- the loop -------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and send batches until ``stop``, several in flight at once (``batches_in_flight``):
        a poll loop (the kit's `PollingWorker`) whose step starts a batch without waiting for it,
        beside a second one that renews the leases of the batches in flight."""
        if self.ready is not None:
            await wait_first(stop, self.ready, timeout=None)
        flight = _InFlight(asyncio.Semaphore(max(1, self.settings.batches_in_flight)))
        claims = PollingWorker(
            "sender",
            partial(self._start_next_batch, flight),
            idle_s=self.settings.poll_interval_s,
            backoff=Backoff(0.1, 5.0),
            wake=self._wake,
        )
        leases = PollingWorker("sender.leases", partial(self._renew_leases, flight), idle_s=self.settings.lease_s / 3)
        renewing = asyncio.Event()
        renewer = asyncio.create_task(leases.run(renewing), name="renew leases")
        try:
            await claims.run(stop)
        finally:
            # let claimed batches finish (their claims would otherwise wait out the lease)
            if flight.batches:
                await asyncio.wait(list(flight.batches), timeout=10)
            renewing.set()
            renewer.cancel()

    async def _start_next_batch(self, flight: _InFlight) -> float | None:
        """One step of the loop: claim a batch when a slot is free and start sending it. Returns
        how long to wait for a wake (new deliveries) before claiming again."""
        await flight.slots.acquire()
        try:
            batch = await self.claim()
        except BaseException:
            flight.slots.release()
            raise
        if not batch:
            flight.slots.release()
            return await self._idle_timeout()
        task = asyncio.create_task(self.deliver(batch), name="deliver batch")
        flight.batches[task] = [d.seq for d in batch]
        task.add_done_callback(lambda done: self._batch_done(done, flight))
        # a partial batch took all that was due: wait for new deliveries (they wake the loop)
        # rather than claim again at once for nothing
        return 0 if len(batch) >= self.settings.batch_size else None

    async def _renew_leases(self, flight: _InFlight) -> None:
        """Keep the claims of the batches being sent, every third of a lease. The lease can then be
        short, whatever SMTP's timeouts, and the deliveries of a sender that died are sent again
        within one lease. A failure is retried by the worker; a lapse only risks a second send."""
        seqs = [seq for batch in flight.batches.values() for seq in batch]
        if seqs:
            await renew_claims(self.db, seqs, self.clock.now() + timedelta(seconds=self.settings.lease_s))

    def _batch_done(self, task: asyncio.Task[list[Outcome]], flight: _InFlight) -> None:
        flight.batches.pop(task, None)
        flight.slots.release()
        if task.cancelled():
            return
        if task.exception() is not None:
            # outcomes not recorded: the claims lapse and the deliveries are sent again later
            log.error("sender.batch_failed", error=repr(task.exception()))
            self._wake.set()
            return
        outcomes = task.result()
        # Look again at once only if there may be more: a full batch (more were due than it
        # took), or a retry scheduled after the loop computed when to look next. New deliveries
        # wake the loop themselves (`wake`), so a partial batch of sent emails needs no look.
        if len(outcomes) >= self.settings.batch_size or any(not o.sent for o in outcomes):
            self._wake.set()

    async def _idle_timeout(self) -> float:
        """Sleep until the next retry is due, at most the poll interval."""
        poll = self.settings.poll_interval_s
        try:
            due = await next_due_at(self.db)
        except Exception:
            return poll
        if due is None:
            return poll
        return max(0.01, min(poll, (due - self.clock.now()).total_seconds()))
