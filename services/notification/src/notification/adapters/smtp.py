"""Sending over SMTP with aiosmtplib: a small pool of persistent connections, each carrying many
messages one after another, used concurrently; messages built by `mime`.

Errors are sorted into temporary (retry later: 4xx answers, lost or refused connections,
timeouts) and permanent (5xx answers about the message or its recipients, unusable addresses).
Authentication answers (530/534/535/538) count as temporary: they mean our configuration is
wrong, not the email, and an operator can fix it before the attempts run out.
"""

from __future__ import annotations

import asyncio
import email.policy
from collections.abc import Sequence

import aiosmtplib
from ten99kit import get_logger

from ..settings import SmtpSettings
from .mime import SendResult, all_ascii

__all__ = ["SmtpPool", "classify"]

log = get_logger(__name__)

_AUTH_CODES = {530, 534, 535, 538}
_POLICY = email.policy.SMTP
_POLICY_UTF8 = email.policy.SMTPUTF8
#: for writing ASCII headers: the standard library folds a value that fits on a line of its own
#: onto the next line ("Subject:\r\n Invoice ..."), which some parsers read with a leading space;
#: RFC 5322 allows 998 characters, so ASCII headers are not folded unless they must be
_WIDE = _POLICY.clone(max_line_length=998)


def _describe(e: BaseException) -> str:
    if isinstance(e, aiosmtplib.SMTPRecipientsRefused):
        return "all recipients refused: " + "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in e.recipients)
    if isinstance(e, aiosmtplib.SMTPResponseException):
        return f"{e.code} {e.message}"
    return f"{type(e).__name__}: {e}"


def classify(e: BaseException) -> SendResult:
    if isinstance(e, aiosmtplib.SMTPRecipientsRefused):
        permanent = all(r.code >= 500 for r in e.recipients)
        return SendResult(False, permanent, _describe(e))
    if isinstance(e, aiosmtplib.SMTPResponseException) and not isinstance(e, aiosmtplib.SMTPConnectResponseError):
        return SendResult(False, e.code >= 500 and e.code not in _AUTH_CODES, _describe(e))
    if isinstance(e, aiosmtplib.SMTPNotSupported | ValueError):
        return SendResult(False, True, _describe(e))  # e.g. an address that cannot be sent to
    return SendResult(False, False, _describe(e))


def _broken(e: BaseException) -> bool:
    """True if the connection cannot carry another message."""
    return not isinstance(e, aiosmtplib.SMTPResponseException | aiosmtplib.SMTPRecipientsRefused | ValueError)


class SmtpPool:
    """Up to ``size`` connections to one SMTP server, opened on demand and kept open."""

    def __init__(self, settings: SmtpSettings, *, host: str, port: int, size: int | None = None) -> None:
        self.settings = settings
        self.host = host
        self.port = port
        self.size = max(1, size or settings.pool_size)
        self._idle: asyncio.Queue[aiosmtplib.SMTP | None] = asyncio.Queue()
        for _ in range(self.size):
            self._idle.put_nowait(None)
        self._open: set[aiosmtplib.SMTP] = set()

    async def _connect(self) -> aiosmtplib.SMTP:
        s = self.settings
        password = s.password.get_secret_value() if s.username else ""
        client = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            timeout=s.timeout_s,
            use_tls=s.use_tls,
            start_tls=s.starttls if not s.use_tls else False,
            validate_certs=s.validate_certs,
            username=s.username or None,
            password=password or None,
        )
        try:
            await client.connect()  # EHLO, STARTTLS and AUTH as configured
        except BaseException:
            client.close()  # e.g. refused credentials: do not leave the socket open
            raise
        self._open.add(client)
        return client

    def _discard(self, client: aiosmtplib.SMTP | None) -> None:
        if client is not None:
            self._open.discard(client)
            client.close()

    async def send(self, sender: str, recipients: Sequence[str], message: bytes) -> SendResult:
        """Send one message on a free connection. A reused connection that turns out closed by the
        server (idle timeout) is replaced once, without counting as a failed attempt."""
        client = await self._idle.get()
        try:
            for fresh_try in (False, True):
                reused = client is not None
                try:
                    if client is None:
                        client = await self._connect()
                    options = [] if all_ascii([sender, *recipients]) else ["SMTPUTF8"]
                    refused, _ = await client.sendmail(sender, list(recipients), message, mail_options=options)
                except Exception as e:
                    if client is not None and _broken(e):
                        self._discard(client)
                        client = None
                        if reused and not fresh_try and isinstance(e, aiosmtplib.SMTPServerDisconnected | ConnectionError):
                            continue
                    return classify(e)
                if refused:
                    return SendResult(
                        True, error="refused: " + "; ".join(f"{r}: {v.code} {v.message}" for r, v in refused.items())
                    )
                return SendResult(True)
            return SendResult(False, False, "connection lost")  # pragma: no cover (loop always returns)
        finally:
            self._idle.put_nowait(client)

    async def close(self) -> None:
        for client in list(self._open):
            try:
                await asyncio.wait_for(client.quit(), timeout=2)
            except Exception:
                client.close()
        self._open.clear()
