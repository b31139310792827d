"""Certificate verification for outgoing HTTPS clients (adapters only: application code does not
import httpx, and the kit's other modules do not import this one)."""

from __future__ import annotations

import functools
import ssl

import httpx

__all__ = ["client_tls"]


@functools.cache
def client_tls() -> ssl.SSLContext:
    """httpx's default verification (certifi's CA bundle), loaded once per process for every
    outgoing client: each httpx client loading its own took ~50 ms (a gateway's five service
    clients, a quarter of a second of its start)."""
    return httpx.create_ssl_context()
