"""Running the notification service in a test and talking to it as the other contexts do:
publish their messages to JetStream, wait for emails in a real SMTP server, read what it published."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from email.message import EmailMessage
from typing import Any

import msgspec
import nats
from notification.adapters.db import companies, deliveries
from notification.bootstrap import definition
from sqlalchemy import func, select
from ten99_contracts import Envelope, encode_envelope, stream_for_subject
from ten99_testing import SmtpSink
from ten99_testing.service import RunningService, running_service

__all__ = [
    "all_consumed",
    "company_known",
    "delivery_count",
    "delivery_rows",
    "emails",
    "html_of",
    "notification",
    "publish",
    "published",
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


async def wait_until(predicate: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.05)


async def emails(sink: SmtpSink, count: int, timeout: float = 15.0, predicate: Any = None) -> list[EmailMessage]:
    return await asyncio.to_thread(sink.wait_for, count, timeout, predicate)


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


async def all_consumed(svc: RunningService, nats_url: str) -> None:
    """Wait until every consumer of the service has acknowledged everything in its stream."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()

        async def done() -> bool:
            for sub in svc.runtime.consumer.subscriptions:
                try:
                    info = await js.consumer_info(
                        stream_for_subject(sub.subject).name, svc.runtime.consumer.durable_name(sub.subject)
                    )
                except Exception:
                    return False
                if info.num_pending or info.num_ack_pending:
                    return False
            return True

        await wait_until(done)
    finally:
        await nc.close()


def text_of(msg: EmailMessage) -> str:
    return msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def html_of(msg: EmailMessage) -> str:
    return msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
