"""Free TCP ports on loopback.

A port the kernel hands out for ``bind(0)`` comes from its ephemeral range, the same range it
takes the local port of every outgoing connection from. Between picking such a port and a
service binding it, any connection (to PostgreSQL, NATS, another service) may take it, and the
service fails with "address already in use". So ports are picked below that range, where the
kernel never assigns one on its own, and none is handed out twice by one process.
"""

from __future__ import annotations

import functools
import random
import socket
import time
from pathlib import Path

__all__ = ["free_port", "wait_for_port"]

#: the lowest port picked; below it sit the well-known services (PostgreSQL, NATS, SMTP)
_LOWEST = 10_000
_given: set[int] = set()


@functools.cache
def _ephemeral_low() -> int | None:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A loopback port nothing is bound to, outside the kernel's ephemeral range where it has one."""
    low = _ephemeral_low()
    if low is not None and low - 1 > _LOWEST:
        for _ in range(1_000):
            port = random.randint(_LOWEST, low - 1)
            if port not in _given and _bindable(port):
                _given.add(port)
                return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s") from None
            time.sleep(0.02)
