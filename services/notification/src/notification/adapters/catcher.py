"""The development SMTP catcher: an aiosmtpd server inside the notification process that keeps
every message it receives in ``caught_mail``, for the dashboard's Mailbox page.

The Mailbox is tenant-scoped (`MailboxReader`): a company sees only the mail it caused, i.e.
caught mail whose Message-ID is one of its own deliveries' (each delivery keeps its Message-ID,
and the catcher keeps the header as received). Mail that no delivery explains (sent to the
catcher by something else) belongs to no company and is shown to none.

It runs on this process's event loop (not aiosmtpd's thread), so it writes through the service's
own database engine. Messages are stored in small groups, one transaction each (group commit),
and a message is answered ``250`` only once it is stored.
"""

from __future__ import annotations

import asyncio
import email.policy
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser
from typing import Any

from aiosmtpd.smtp import SMTP
from sqlalchemy import ColumnElement, delete, func, select
from ten99kit import Database, get_logger, new_id

from .db import caught_mail, deliveries

__all__ = ["MailCatcher", "MailboxReader", "ParsedMail"]

log = get_logger(__name__)

_HEADERS = BytesHeaderParser(policy=email.policy.default)
_FULL = BytesParser(policy=email.policy.default)


def _header(headers: Any, name: str) -> str:
    value = headers.get(name)
    return " ".join(str(value).split()) if value is not None else ""


class MailCatcher:
    """``handle_DATA`` is aiosmtpd's handler hook; `run` serves until ``stop``."""

    def __init__(self, db: Database, *, host: str, port: int, max_size: int = 25 * 1024 * 1024) -> None:
        self.db = db
        self.host = host
        self.port = port
        self.max_size = max_size
        self.ready = asyncio.Event()
        self._queue: asyncio.Queue[tuple[dict[str, Any], asyncio.Future[None]]] = asyncio.Queue()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw: bytes = envelope.original_content or envelope.content
        headers = _HEADERS.parsebytes(raw)
        row = {
            "id": new_id("ml"),
            "received_at": self.db.clock.now(),
            "mail_from": str(envelope.mail_from or "")[:320],
            "rcpt_to": list(envelope.rcpt_tos),
            "from_header": _header(headers, "From"),
            "to_header": _header(headers, "To"),
            "cc_header": _header(headers, "Cc"),
            "subject": _header(headers, "Subject"),
            "message_id": _header(headers, "Message-ID")[:255] or None,
            "size": len(raw),
            "raw": raw,
        }
        stored: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((row, stored))
        try:
            await stored
        except Exception as e:
            log.warning("catcher.store_failed", error=repr(e))
            return "451 4.3.0 could not store the message, try again"
        return "250 2.0.0 OK: caught"

    async def _store(self) -> None:
        while True:
            first = await self._queue.get()
            group = [first]
            while not self._queue.empty() and len(group) < 500:
                group.append(self._queue.get_nowait())
            try:
                async with self.db.engine.begin() as conn:
                    await conn.execute(caught_mail.insert(), [row for row, _ in group])
            except Exception as e:
                for _, fut in group:
                    if not fut.done():
                        fut.set_exception(e)
            else:
                for _, fut in group:
                    if not fut.done():
                        fut.set_result(None)

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        try:
            server = await loop.create_server(
                lambda: SMTP(self, hostname="ten99-catcher", data_size_limit=self.max_size, ident="ten99 SMTP catcher"),
                host=self.host,
                port=self.port,
            )
        except OSError as e:
            # e.g. another catcher holds the port: say so loudly; the sender still tries that port,
            # and its failures show in the delivery log
            log.error("catcher.cannot_listen", host=self.host, port=self.port, error=repr(e))
            self.ready.set()
            return
        writer = asyncio.create_task(self._store(), name="catcher store")
        self.ready.set()
        log.info("catcher.listening", host=self.host, port=self.port)
        try:
            await stop.wait()
        finally:
            server.close()
            await server.wait_closed()
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)


@dataclass
class ParsedMail:
    row: dict[str, Any]
    message: EmailMessage

    @classmethod
    def of(cls, row: dict[str, Any]) -> ParsedMail:
        """A stored row (with its ``raw`` bytes) parsed."""
        return cls(row, _FULL.parsebytes(bytes(row["raw"])))  # type: ignore[arg-type]

    def attachments(self) -> list[Any]:
        return list(self.message.iter_attachments())


def _caused_by(tenant_id: str) -> ColumnElement[bool]:
    """Caught mail the tenant caused: its Message-ID is one of the tenant's deliveries'."""
    theirs = select(deliveries.c.message_id).where(deliveries.c.tenant_id == tenant_id)
    return caught_mail.c.message_id.in_(theirs)


class MailboxReader:
    """What the Mailbox page reads, one tenant at a time (`_caused_by`)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def list(self, tenant_id: str, *, limit: int, offset: int, to: str | None = None) -> tuple[int, list[dict[str, Any]]]:
        m = caught_mail
        where = [_caused_by(tenant_id)]
        if to:
            where.append(
                m.c.to_header.contains(to.strip(), autoescape=True) | m.c.cc_header.contains(to.strip(), autoescape=True)
            )
        # the raw message too: the list names each one's attachments (a development inbox, 200 at most)
        columns = [m.c.id, m.c.received_at, m.c.from_header, m.c.to_header, m.c.cc_header, m.c.subject, m.c.size, m.c.message_id]
        columns.append(m.c.raw)
        async with self.db.reads() as s:
            total = (await s.execute(select(func.count()).select_from(m).where(*where))).scalar_one()
            rows = (
                await s.execute(select(*columns).where(*where).order_by(m.c.seq.desc()).limit(limit).offset(offset))
            ).mappings()
            return total, [dict(r) for r in rows]

    async def get(self, tenant_id: str, mail_id: str) -> ParsedMail | None:
        """The message, if the tenant caused it (another company's is as absent as a made-up id)."""
        async with self.db.reads() as s:
            row = (
                (await s.execute(select(caught_mail).where(caught_mail.c.id == mail_id, _caused_by(tenant_id))))
                .mappings()
                .first()
            )
        if row is None:
            return None
        return ParsedMail.of(dict(row))

    async def clear(self, tenant_id: str) -> int:
        """Delete the tenant's caught mail; other companies' stays."""
        async with self.db.engine.begin() as conn:
            result = await conn.execute(delete(caught_mail).where(_caused_by(tenant_id)))
        return int(result.rowcount or 0)

    async def keep_newest(self, keep: int) -> int:
        """Forget all but the newest ``keep`` messages (a development inbox is not an archive)."""
        m = caught_mail
        async with self.db.engine.begin() as conn:
            cutoff = (await conn.execute(select(m.c.seq).order_by(m.c.seq.desc()).offset(keep).limit(1))).scalar()
            if cutoff is None:
                return 0
            result = await conn.execute(delete(m).where(m.c.seq <= cutoff))
        return int(result.rowcount or 0)
