"""Running the notification service in a test and talking to it as the other contexts do:
publish their messages to JetStream, wait for emails in a real SMTP server, read what it published."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.message import EmailMessage
from typing import Any

import msgspec
import nats
from notification.adapters.db import companies, deliveries
from notification.bootstrap import definition
from sqlalchemy import func, select
from ten99_contracts import Envelope, encode_envelope
from ten99_testing import SmtpSink, quiescent, wait_until
from ten99_testing.service import RunningService, running_service

__all__ = [
    "company_known",
    "delivery_count",
    "delivery_rows",
    "emails",
    "html_of",
    "notification",
    "publish",
    "published",
    "sender_idle",
    "text_of",
    "wait_until",
]


@asynccontextmanager
async def notification(
    database_url: str, nats_url: str, sink: SmtpSink | None, **overrides: Any
) -> AsyncIterator[RunningService]:
    """The service in-process, sending to ``sink``, retrying fast unless told otherwise."""
    smtp = {**({"host": sink.host, "port": sink.port} if sink else {}), **overrides.pop("smtp", {})}
    delivery = {"backoff_base_s": 0.05, "poll_interval_s": 0.2, **overrides.pop("delivery", {})}
    async with running_service(
        definition, database_url=database_url, nats_url=nats_url, smtp=smtp, delivery=delivery, **overrides
    ) as svc:
        yield svc


async def publish(nats_url: str, envelope: Envelope[Any], msg_id: str | None = None) -> None:
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().publish(envelope.subject, encode_envelope(envelope), headers={"Nats-Msg-Id": msg_id or envelope.id})
    finally:
        await nc.close()


async def emails(sink: SmtpSink, count: int, timeout: float = 15.0, predicate: Any = None) -> list[EmailMessage]:
    """At least ``count`` emails (those ``predicate`` accepts) in the SMTP server; all of them."""

    def arrived() -> list[EmailMessage]:
        with sink.lock:
            return [m for m in sink.messages if predicate is None or predicate(m)]

    return await wait_until(arrived, satisfies=lambda found: len(found) >= count, timeout=timeout, what=f"{count} emails")


async def delivery_rows(svc: RunningService, **where: Any) -> list[dict[str, Any]]:
    async with svc.db.session() as s:
        q = select(deliveries).order_by(deliveries.c.seq)
        for k, v in where.items():
            q = q.where(deliveries.c[k] == v)
        return [dict(r) for r in (await s.execute(q)).mappings()]


async def delivery_count(svc: RunningService, **where: Any) -> int:
    async with svc.db.session() as s:
        q = select(func.count()).select_from(deliveries)
        for k, v in where.items():
            q = q.where(deliveries.c[k] == v)
        return (await s.execute(q)).scalar_one()


async def company_known(svc: RunningService, tenant_id: str) -> bool:
    async with svc.db.session() as s:
        return bool(
            (await s.execute(select(func.count()).select_from(companies).where(companies.c.tenant_id == tenant_id))).scalar_one()
        )


async def published(nats_url: str, subject: str) -> list[dict[str, Any]]:
    """Envelopes this service published on ``subject`` (its relay's work), decoded."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        try:
            info = await js.stream_info("TEN99_NOTIFICATION")
        except Exception:
            return []
        out = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg("TEN99_NOTIFICATION", seq)
            if msg.subject == subject:
                out.append(msgspec.json.decode(msg.data))
        return out
    finally:
        await nc.close()


async def sender_idle(svc: RunningService) -> None:
    """Wait until nothing more will happen without a new message or the clock: every message
    applied (so every delivery exists), no delivery being sent or due at the service's clock, and
    what the sender recorded published. Assert "no (more) email" after this, not after a sleep."""
    await quiescent(svc)
    await wait_until(lambda: _busy_deliveries(svc), satisfies=lambda n: n == 0, what="no delivery being sent or due")
    await quiescent(svc)


async def _busy_deliveries(svc: RunningService) -> int:
    async with svc.db.session() as s:
        q = select(func.count()).select_from(deliveries)
        sending = deliveries.c.status == "sending"
        due = (deliveries.c.status == "queued") & (deliveries.c.next_attempt_at <= svc.clock.now())
        return int((await s.execute(q.where(sending | due))).scalar_one())


def text_of(msg: EmailMessage) -> str:
    return msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def html_of(msg: EmailMessage) -> str:
    return msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
