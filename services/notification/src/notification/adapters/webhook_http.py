"""Posting a signed event to a webhook endpoint over HTTP (httpx), guarded and bounded.

- Signed per the Standard Webhooks specification (the ``standardwebhooks`` library):
  ``webhook-id`` (the event id, the same on every attempt: the receiver's idempotency key),
  ``webhook-timestamp`` and ``webhook-signature``. The timestamp is the real time of sending, not
  the service clock: receivers check it against their own clocks (5 minutes of tolerance).
- The host is resolved here and every address it resolves to is checked: private, loopback,
  link-local, multicast and reserved addresses are refused unless private targets are allowed.
  The request then goes to the checked address (the name stays in ``Host`` and in TLS's SNI and
  certificate check), so a second resolution cannot swap in another address.
- Bounded: connecting 5 s, the whole attempt 10 s (resolution included), redirects not followed,
  and only the first ``excerpt_bytes`` of the answer read.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import httpx
from standardwebhooks import Webhook
from ten99kit import get_logger
from ten99kit.tls import client_tls

from ..domain.webhooks import is_public_address

__all__ = ["PostResult", "UnsafeTarget", "WebhookPoster", "signed_headers"]

log = get_logger(__name__)

_USER_AGENT = "ten99-webhooks/1"


class UnsafeTarget(Exception):
    """The URL leads to an address deliveries may not reach."""


@dataclass(frozen=True)
class PostResult:
    status_code: int | None
    latency_ms: int
    excerpt: str | None
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def signed_headers(secret: str | Sequence[str], message_id: str, body: bytes, sent_at: datetime) -> dict[str, str]:
    """Signed with each secret (after a rotation, the new and the old): Standard Webhooks'
    ``webhook-signature`` holds them space-separated, and a receiver accepts any that verifies."""
    keys = [secret] if isinstance(secret, str) else list(secret)
    return {
        "content-type": "application/json",
        "user-agent": _USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": " ".join(Webhook(key).sign(message_id, sent_at, body) for key in keys),
    }


@dataclass(frozen=True)
class _Target:
    url: str  # with the checked address as host
    host_header: str
    sni_hostname: str | None


class WebhookPoster:
    def __init__(
        self,
        *,
        allow_private: bool,
        connect_timeout_s: float,
        total_timeout_s: float,
        excerpt_bytes: int,
        max_connections: int,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.allow_private = allow_private
        self.total_timeout_s = total_timeout_s
        self.excerpt_bytes = excerpt_bytes
        # resolution blocks a thread until the system resolver answers (a timeout only stops the
        # wait): a pool of our own, as wide as the attempts under way, so that slow names never
        # starve the event loop's default executor or each other
        self._resolver = ThreadPoolExecutor(max_workers=max(1, max_connections), thread_name_prefix="webhook-dns")
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(total_timeout_s, connect=connect_timeout_s),
            follow_redirects=False,
            trust_env=False,  # no proxy from the environment: the address checked is the one reached
            verify=client_tls() if verify is True else verify,  # True: certifi's CA bundle (a test passes its own CA)
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    async def close(self) -> None:
        await self._client.aclose()
        self._resolver.shutdown(wait=False, cancel_futures=True)

    async def post(self, url: str, secret: str | Sequence[str], message_id: str, body: bytes) -> PostResult:
        """One attempt. Never raises for what the endpoint does; the result says what happened."""
        started = time.perf_counter()

        def done(status: int | None, excerpt: str | None, error: str | None) -> PostResult:
            return PostResult(status, int((time.perf_counter() - started) * 1000), excerpt, error)

        try:
            async with asyncio.timeout(self.total_timeout_s):
                target = await self.resolve(url)
                headers = signed_headers(secret, message_id, body, datetime.now(UTC)) | {"host": target.host_header}
                extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else {}
                async with self._client.stream("POST", target.url, content=body, headers=headers, extensions=extensions) as r:
                    excerpt = await self._excerpt(r)
                    return done(r.status_code, excerpt, None if r.is_success else f"HTTP {r.status_code}")
        except TimeoutError:
            return done(None, None, f"timed out after {self.total_timeout_s:g} s")
        except UnsafeTarget as e:
            return done(None, None, str(e))
        except httpx.HTTPError as e:
            return done(None, None, f"{type(e).__name__}: {e}"[:500])
        except OSError as e:
            return done(None, None, f"{type(e).__name__}: {e}"[:500])

    async def _excerpt(self, response: httpx.Response) -> str:
        """The first ``excerpt_bytes`` of the answer; the rest is never read."""
        kept = b""
        async for chunk in response.aiter_raw():
            kept += chunk
            if len(kept) >= self.excerpt_bytes:
                break
        return kept[: self.excerpt_bytes].decode("utf-8", "replace").replace("\x00", "")

    async def resolve(self, url: str) -> _Target:
        """The URL rewritten to a checked address of its host (see the module's docstring)."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = await self._addresses(host, port)
        if not addresses:
            raise UnsafeTarget(f"{host} resolves to no address")
        if not self.allow_private:
            refused = [a for a in addresses if not is_public_address(a)]
            if refused:
                raise UnsafeTarget(f"{host} resolves to a private or reserved address ({refused[0]}): refused")
        address = addresses[0]
        literal = f"[{address}]" if ":" in address else address
        netloc = f"{literal}:{parts.port}" if parts.port else literal
        default_port = parts.port is None or parts.port == (443 if parts.scheme == "https" else 80)
        shown = f"[{host}]" if ":" in host else host
        host_header = shown if default_port else f"{shown}:{parts.port}"
        is_name = _is_name(host)
        return _Target(
            url=urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")),
            host_header=host_header,
            sni_hostname=host if parts.scheme == "https" and is_name else None,
        )

    async def _addresses(self, host: str, port: int) -> list[str]:
        if not _is_name(host):
            return [host]
        try:
            infos = await asyncio.get_running_loop().run_in_executor(
                self._resolver, lambda: socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            )
        except socket.gaierror as e:
            raise UnsafeTarget(f"cannot resolve {host}: {e}") from None
        seen: list[str] = []
        for info in infos:
            address = str(info[4][0])
            if address not in seen:
                seen.append(address)
        return seen


def _is_name(host: str) -> bool:
    """True for a DNS name, False for an IP address literal."""
    try:
        is_public_address(host)
    except ValueError:
        return True
    return False
