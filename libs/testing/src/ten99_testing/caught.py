"""The mail one company caused, as the notification service's development catcher
(``NOTIFICATION_SMTP__CATCHER=true``) keeps it: `SmtpSink`'s reading side (``messages``, ``to``,
``wait_for``, ``wait_for_async``) over the ``caught_mail`` table, scoped as the Mailbox page is
(a message whose Message-ID is one of the company's deliveries'). Tests that share one running
system, a company each, so each see only their own mail, as if alone in the system."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from collections.abc import Coroutine
from email.message import EmailMessage
from typing import Any, TypeVar

from .smtp import MailReader

__all__ = ["CaughtMail"]

T = TypeVar("T")

_SEQS = """
SELECT seq FROM caught_mail
WHERE message_id IN (SELECT message_id FROM deliveries WHERE tenant_id = $1)
ORDER BY seq
"""
_RAW = "SELECT seq, raw FROM caught_mail WHERE seq = ANY($1::bigint[]) ORDER BY seq"


async def _connect(database_url: str) -> Any:
    import asyncpg
    from sqlalchemy.engine import make_url

    u = make_url(database_url)
    return await asyncpg.connect(
        host=u.host, port=u.port or 5432, user=u.username, password=u.password, database=u.database or "postgres"
    )


class CaughtMail(MailReader):
    """``CaughtMail(notification_database_url, tenant_id)``; `close` (or ``with``) when done. It
    reads through one connection on a thread of its own, so it works from sync and async tests."""

    #: each look is a query
    poll_interval = 0.2

    def __init__(self, database_url: str, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self.lock = threading.RLock()
        self._seen: set[int] = set()
        self._parsed: list[EmailMessage] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"caught mail {tenant_id}", daemon=True)
        self._thread.start()
        try:
            self._conn = self._run(_connect(database_url))
        except BaseException:
            self._stop_loop()
            raise

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _new(self) -> list[tuple[int, bytes]]:
        seqs = [r["seq"] for r in await self._conn.fetch(_SEQS, self.tenant_id) if r["seq"] not in self._seen]
        if not seqs:
            return []
        return [(r["seq"], bytes(r["raw"])) for r in await self._conn.fetch(_RAW, seqs)]

    @property
    def messages(self) -> list[EmailMessage]:
        """The company's caught mail so far, in the order first seen here, parsed."""
        with self.lock:
            for seq, raw in self._run(self._new()):
                self._seen.add(seq)
                self._parsed.append(email.message_from_bytes(raw, policy=email.policy.default))  # type: ignore[arg-type]
            return self._parsed

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def close(self) -> None:
        try:
            self._run(self._conn.close(), timeout=10)
        finally:
            self._stop_loop()

    def __enter__(self) -> CaughtMail:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
