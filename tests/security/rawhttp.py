"""HTTP/1.1 requests sent byte for byte: clients normalise paths (``..`` removed, ``%2e`` kept or
decoded), and an attacker's request is not normalised. Used to send hostile request targets."""

from __future__ import annotations

import http.client
import json
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = ["RawResponse", "raw_request"]


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def is_error_shape(self) -> bool:
        """A 1099Policy error: a JSON object with ``error_code`` and ``message``."""
        try:
            data = self.json()
        except ValueError:
            return False
        return isinstance(data, dict) and isinstance(data.get("error_code"), str) and "message" in data


def raw_request(
    base_url: str,
    method: str,
    target: bytes | str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    timeout: float = 30.0,
) -> RawResponse:
    """Send ``method target HTTP/1.1`` exactly as given; ``target`` starts with ``/``."""
    url = urlsplit(base_url)
    raw_target = target if isinstance(target, bytes) else target.encode("latin-1")
    lines = [method.encode() + b" " + raw_target + b" HTTP/1.1", f"Host: {url.hostname}:{url.port}".encode()]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}".encode("latin-1"))
    lines.append(f"Content-Length: {len(body)}".encode())
    lines.append(b"Connection: close")
    with socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), timeout=timeout) as sock:
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n")
        try:
            sock.sendall(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused on its headers (a body over the limit): the answer is still there to read
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        content = response.read()
        return RawResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, content)
