"""The recording and sending cycle on SQLite (the embedded default), with a fake transport:
one delivery per business event, retries on the clock, failure after the last attempt, and the
outcome messages written to the outbox."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import notification_messages as msgs
import pytest
from notification.adapters.catcher import MailboxReader
from notification.adapters.db import caught_mail, deliveries, metadata
from notification.adapters.deliveries import get_delivery
from notification.adapters.mime import SendResult
from notification.adapters.rendering import EmailRenderer
from notification.application import sending
from notification.application.composing import EmailComposer
from notification.application.housekeeping import housekeeping_job
from notification.application.reactions import CompanyDirectory, Reactions
from notification.application.sending import DeliverySender
from notification.bootstrap import definition
from notification.settings import DeliverySettings, SmtpSettings
from sqlalchemy import select
from ten99_testing import wait_until
from ten99kit import Database, SettableClock, create_engine
from ten99kit.migrations import upgrade
from ten99kit.settings import DatabaseSettings

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


class FakeSmtp:
    def __init__(self) -> None:
        self.sent: list[tuple[str, list[str], bytes]] = []
        self.script: list[SendResult] = []

    async def __call__(self, sender: str, recipients: Sequence[str], raw: bytes) -> SendResult:
        result = self.script.pop(0) if self.script else SendResult(True)
        if result.sent:
            self.sent.append((sender, list(recipients), raw))
        return result


@pytest.fixture
async def env(sqlite_url: str) -> Any:
    await asyncio.to_thread(upgrade, definition.migrations, sqlite_url)
    clock = SettableClock(NOW)
    db = Database(create_engine(DatabaseSettings(url=sqlite_url)), clock, "notification")
    db.outbox_table = metadata.tables["outbox"]
    smtp = FakeSmtp()
    woken: list[int] = []
    sender = DeliverySender(
        db,
        smtp,
        smtp=SmtpSettings(),
        delivery=DeliverySettings(max_attempts=3, backoff_base_s=60, backoff_max_s=600, batch_size=2),
    )
    composer = EmailComposer(EmailRenderer(), dashboard_url="http://dash", missing_po_path="/po/missing")
    reactions = Reactions(composer, CompanyDirectory(), from_address="no-reply@ten99.local", wake_sender=lambda: woken.append(1))
    yield db, clock, smtp, sender, reactions, woken
    await db.dispose()


async def apply(db: Database, handler: Any, envelope: Any) -> None:
    async with db.uow() as uow:
        await handler(uow, envelope)
        await uow.commit()


async def rows(db: Database) -> list[Any]:
    async with db.session() as s:
        return list((await s.execute(select(deliveries).order_by(deliveries.c.seq))).mappings())


async def outbox_subjects(db: Database) -> list[str]:
    async with db.session() as s:
        return list((await s.execute(select(db.outbox_table.c.subject).order_by(db.outbox_table.c.id))).scalars())


async def test_one_delivery_per_business_event_and_the_sender_is_woken_after_commit(env: Any) -> None:
    db, _, smtp, sender, reactions, woken = env
    await apply(db, reactions.on_company_created, msgs.envelope(msgs.company()))
    await apply(db, reactions.on_invitation_issued, msgs.envelope(msgs.invitation(1)))
    assert woken == [1]
    await apply(db, reactions.on_invitation_issued, msgs.envelope(msgs.invitation(1)))  # same event, new envelope
    await apply(db, reactions.on_invitation_issued, msgs.envelope(msgs.invitation(1, reissue=True)))
    await apply(db, reactions.on_invitation_issued, msgs.envelope(msgs.invitation(1), tenant_id="co_other"))
    assert len(await rows(db)) == 3 and woken == [1, 1, 1]

    assert await sender.drain() == 3
    assert len(smtp.sent) == 3
    first = email.message_from_bytes(smtp.sent[0][2], policy=email.policy.default)
    assert first["Subject"] == "Acme Talent invites you to get insured with ten99"
    other = email.message_from_bytes(smtp.sent[2][2], policy=email.policy.default)
    assert other["Subject"] == "You're invited to get insured with ten99"  # co_other's name is unknown
    assert [r["status"] for r in await rows(db)] == ["sent"] * 3
    assert await outbox_subjects(db) == ["ten99.notification.email_delivered.v1"] * 3
    assert await sender.drain() == 0  # nothing sent twice


async def test_temporary_failures_wait_for_the_clock_then_the_last_attempt_fails(env: Any) -> None:
    db, clock, smtp, sender, reactions, _ = env
    await apply(db, reactions.on_certificate_issued, msgs.envelope(msgs.certificate(1)))
    smtp.script = [SendResult(False, False, "451 try later")] * 3
    assert await sender.drain() == 1
    [row] = await rows(db)
    assert (row["status"], row["attempts"], row["last_error"]) == ("queued", 1, "451 try later")
    assert row["next_attempt_at"] == NOW + timedelta(seconds=60)
    assert await sender.drain() == 0  # not due yet
    clock.advance(timedelta(seconds=60))
    assert await sender.drain() == 1
    [row] = await rows(db)
    assert row["attempts"] == 2 and row["next_attempt_at"] == NOW + timedelta(seconds=60 + 120)
    clock.advance(timedelta(seconds=120))
    assert await sender.drain() == 1
    [row] = await rows(db)
    assert (row["status"], row["attempts"], row["next_attempt_at"]) == ("failed", 3, None)
    assert smtp.sent == []
    assert await outbox_subjects(db) == ["ten99.notification.email_failed.v1"]
    async with db.session() as s:
        payload = (await s.execute(select(db.outbox_table.c.payload))).scalar_one()
    data = msgspec.json.decode(payload)["data"]
    assert data["attempts"] == 3 and data["error"] == "451 try later" and data["related_id"] == "coi_0000000000000000000001"


async def test_a_permanent_refusal_fails_at_once_and_a_retry_resends_the_attachment(env: Any) -> None:
    db, clock, smtp, sender, reactions, _ = env
    await apply(db, reactions.on_invoice_issued, msgs.envelope(msgs.invoice(1)))
    await apply(db, reactions.on_invoice_issued, msgs.envelope(msgs.invoice(2)))
    smtp.script = [SendResult(False, True, "550 no such user"), SendResult(False, False, "421 busy")]
    await sender.drain()
    first, second = await rows(db)
    assert (first["status"], first["attempts"]) == ("failed", 1)
    assert second["status"] == "queued"
    clock.advance(timedelta(minutes=5))
    await sender.drain()
    assert [r["status"] for r in await rows(db)] == ["failed", "sent"]
    [(_, recipients, raw)] = smtp.sent
    assert recipients == ["ap@nike.test", "billing@acme.test"]
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    [att] = list(msg.iter_attachments())
    assert att.get_content() == msgs.invoice(2).pdf


async def test_an_email_without_recipients_is_logged_as_failed(env: Any) -> None:
    db, _, _, sender, reactions, woken = env
    await apply(db, reactions.on_po_reminder_due, msgs.envelope(msgspec.structs.replace(msgs.po_reminder(), to_emails=[" "])))
    [row] = await rows(db)
    assert (row["status"], row["last_error"]) == ("failed", "no recipient address")
    assert await outbox_subjects(db) == ["ten99.notification.email_failed.v1"]
    assert await sender.drain() == 0 and woken == []


async def test_extension_without_email_records_nothing(env: Any) -> None:
    db, _, _, _, reactions, _ = env
    await apply(db, reactions.on_coverage_extended, msgs.envelope(msgs.extended(send_email=False)))
    reissued = msgspec.structs.replace(msgs.certificate(2), reason="extended", send_email=False)
    await apply(db, reactions.on_certificate_issued, msgs.envelope(reissued))
    assert await rows(db) == []


async def test_a_lapsed_claim_is_taken_again(env: Any) -> None:
    db, clock, smtp, sender, reactions, _ = env
    await apply(db, reactions.on_invitation_issued, msgs.envelope(msgs.invitation(1)))
    claimed = await sender.claim()  # ... and the sender dies before sending
    assert len(claimed) == 1 and await sender.claim() == []
    clock.advance(timedelta(seconds=sender.settings.lease_s + 1))
    assert await sender.drain() == 1
    [row] = await rows(db)
    assert (row["status"], row["attempts"]) == ("sent", 2) and len(smtp.sent) == 1


async def test_the_running_sender_keeps_its_claim_while_sending(env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A send slower than the lease: the loop renews the claim, so nobody takes it over, and the
    email goes out once. A claim whose sender stops renewing lapses after one lease."""
    db, clock, smtp, _, reactions, _ = env
    release = asyncio.Event()
    renewals: list[datetime] = []
    renew = sending.renew_claims

    async def counting(db: Any, seqs: Any, until: datetime) -> Any:
        renewed = await renew(db, seqs, until)
        renewals.append(until)
        return renewed

    monkeypatch.setattr(sending, "renew_claims", counting)

    async def slow(sender_address: str, recipients: Sequence[str], raw: bytes) -> SendResult:
        await release.wait()
        return await smtp(sender_address, recipients, raw)

    settings = DeliverySettings(batch_size=2, lease_s=0.3, poll_interval_s=0.05)
    sender = DeliverySender(db, slow, smtp=SmtpSettings(), delivery=settings)
    other = DeliverySender(db, smtp, smtp=SmtpSettings(), delivery=settings)
    await apply(db, reactions.on_invitation_issued, msgs.envelope(msgs.invitation(1)))
    stop = asyncio.Event()
    loop = asyncio.create_task(sender.run(stop))
    for n in range(1, 10):  # three leases of clock time, a third of a lease after each renewal
        await wait_until(lambda: len(renewals), satisfies=lambda done, n=n: done >= n, what=f"renewal {n}")
        clock.advance(timedelta(seconds=0.1))
        assert await other.claim() == []
    [row] = await rows(db)
    assert row["status"] == "sending" and row["next_attempt_at"].replace(tzinfo=UTC) > clock.now()
    release.set()
    await wait_until(lambda: rows(db), satisfies=lambda found: found[0]["status"] == "sent", what="the email recorded sent")
    stop.set()
    await loop
    [row] = await rows(db)
    assert (row["status"], row["attempts"], len(smtp.sent)) == ("sent", 1, 1)


async def test_housekeeping_drops_old_attachment_files_and_trims_the_catcher(env: Any) -> None:
    db, clock, _, sender, reactions, _ = env
    await apply(db, reactions.on_certificate_issued, msgs.envelope(msgs.certificate(1)))
    await apply(db, reactions.on_invoice_issued, msgs.envelope(msgs.invoice(1)))
    await sender.drain()
    mailbox = MailboxReader(db)
    job = housekeeping_job(db, attachment_retention_days=30, mailbox=mailbox, catcher_keep=2)
    async with db.engine.begin() as conn:
        await conn.execute(
            caught_mail.insert(),
            [
                {
                    "id": f"ml_{i:022d}",
                    "received_at": NOW,
                    "mail_from": "a@b.c",
                    "rcpt_to": ["d@e.f"],
                    "from_header": "a@b.c",
                    "to_header": "d@e.f",
                    "cc_header": "",
                    "subject": f"m{i}",
                    "message_id": None,
                    "size": 1,
                    "raw": b"x",
                }
                for i in range(5)
            ],
        )
    assert await job.run(clock.now()) == 3  # nothing is old yet; the catcher drops 3 of 5
    async with db.session() as s:
        kept = (await s.execute(select(caught_mail.c.subject).order_by(caught_mail.c.seq.desc()))).scalars().all()
    assert kept == ["m4", "m3"]

    clock.advance(timedelta(days=31))
    assert await job.run(clock.now()) == 2
    [cert] = [r for r in await rows(db) if r["template"] == "certificate"]
    detail = await get_delivery(db, "co_acme", cert["id"])
    assert detail is not None and detail["attachments"][0]["size"] == 0 and detail["has_attachments"]
    assert await job.run(clock.now()) == 0
