"""A real SMTP server (aiosmtpd) that keeps what it receives, for tests and the dev catcher."""

from __future__ import annotations

import email
import email.parser
import email.policy
import threading
import time
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from .ports import free_port

__all__ = ["MailReader", "SmtpSink"]


class _Keep:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.sink.reject_next > 0:
            self.sink.reject_next -= 1
            return "451 try again later"
        received = time.monotonic()
        # only the headers now (the template, for counting); the whole message is parsed when
        # someone reads `messages`: a full parse costs about 5 ms for an email with a PDF, which
        # a benchmark's load generator would otherwise spend on every email it receives
        content: bytes = envelope.content
        head = content.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in content else content.split(b"\n\n", 1)[0]
        headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(head)
        template = str(headers.get("X-Ten99-Template", ""))
        with self.sink.lock:
            self.sink.received_at.append(received)
            self.sink._raw.append(content)
            self.sink.counts[template] = self.sink.counts.get(template, 0) + 1
            self.sink.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


class MailReader:
    """Reading caught mail: `messages` (in order, parsed) and ``lock`` come from the subclass."""

    lock: threading.RLock
    #: seconds between looks while waiting
    poll_interval: float = 0.05

    @property
    def messages(self) -> list[EmailMessage]:
        raise NotImplementedError

    def _matching(self, predicate: Any) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if predicate is None or predicate(m)]

    def to(self, address: str) -> list[EmailMessage]:
        return self._matching(lambda m: address.lower() in str(m.get("To", "")).lower())

    def wait_for(self, count: int, timeout: float = 30.0, predicate: Any = None) -> list[EmailMessage]:
        """Wait until ``count`` messages (matching ``predicate``) arrived; return them."""
        deadline = time.monotonic() + timeout
        while True:
            found = self._matching(predicate)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(found)} of {count} emails after {timeout}s")
            time.sleep(self.poll_interval)

    async def wait_for_async(self, count: int, timeout: float = 30.0, predicate: Any = None) -> list[EmailMessage]:
        """`wait_for` for async tests: polls without blocking the event loop."""
        import asyncio

        deadline = time.monotonic() + timeout
        while True:
            found = await asyncio.to_thread(self._matching, predicate)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(found)} of {count} emails after {timeout}s")
            await asyncio.sleep(self.poll_interval)


class SmtpSink(MailReader):
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self._raw: list[bytes] = []
        self._parsed: list[EmailMessage] = []
        #: time.monotonic() at which each message was accepted (same order as `messages`)
        self.received_at: list[float] = []
        #: messages per ``X-Ten99-Template`` header, for cheap polling
        self.counts: dict[str, int] = {}
        self.envelopes: list[tuple[str, list[str]]] = []
        self.lock = threading.RLock()
        #: answer the next N messages with a temporary failure
        self.reject_next = 0
        self._controller = Controller(_Keep(self), hostname=self.host, port=self.port, data_size_limit=50 * 1024 * 1024)

    @property
    def messages(self) -> list[EmailMessage]:
        """Every message accepted so far, in order, parsed (at the first read after it arrived)."""
        with self.lock:
            for raw in self._raw[len(self._parsed) :]:
                self._parsed.append(email.message_from_bytes(raw, policy=email.policy.default))  # type: ignore[arg-type]
            return self._parsed

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
