"""What an attacker sends, for the gateway's tests and the security tier (tests/security): the
public resources, the ways to write "one level up" that a proxy might resolve after routing, the
internal endpoints worth aiming at, and requests sent byte for byte (clients normalise paths; an
attacker's request is not normalised)."""

from __future__ import annotations

import http.client
import json
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = ["INTERNAL_TARGETS", "PUBLIC_RESOURCES", "UP", "RawAnswer", "raw_request"]

#: the public API's resources (``/api/v1/<resource>``), those no service offers yet included
PUBLIC_RESOURCES = [
    "entities",
    "contractors",
    "jobs",
    "category_codes",
    "assignments",
    "quotes",
    "apply/sessions",
    "policies",
    "invoices",
    "events",
    "webhook_endpoints",
]

#: ways to write "one level up", each repeated to climb out of ``/v1/<resource>/``
UP = {
    "encoded dots": "%2e%2e/",
    "mixed dots": ".%2e/",
    "plain dots": "../",
    "double-encoded dots": "%252e%252e/",
    "encoded slash": "..%2f",
    "upper-case encoded slash": "..%2F",
    "all encoded": "%2e%2e%2f",
    "encoded backslash": "..%5c",
    "raw backslash": "..\\",
    "overlong UTF-8 dots": "%c0%ae%c0%ae/",
    "semicolon segment": "..;/",
    "semicolon parameter": "x;y=..%2f",
    "control character": "%17/../",
    "NUL": "%00/../",
}

#: what an attacker aims at behind a service's ``/v1`` prefix: (method, path, body)
INTERNAL_TARGETS = [
    ("PUT", "_ops/clock", b'{"advance_seconds": 31536000}'),
    ("POST", "_ops/tick", b""),
    ("GET", "_ops/dead-letters", b""),
    ("GET", "readyz", b""),
    ("GET", "metrics", b""),
    ("GET", "schema/openapi.json", b""),
    ("GET", "v1/integrations/worksuite/secret", b""),
    ("GET", "v1/mailbox", b""),
    ("GET", "v1/roster", b""),
    ("GET", "v1/deliveries", b""),
]


@dataclass(frozen=True)
class RawAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def is_error_shape(self) -> bool:
        """1099Policy's error: a JSON object with ``error_code`` (a string) and ``message``."""
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
) -> RawAnswer:
    """Send ``method target HTTP/1.1`` over a socket exactly as given; ``target`` starts with ``/``."""
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
        return RawAnswer(response.status, {k.lower(): v for k, v in response.getheaders()}, content)
