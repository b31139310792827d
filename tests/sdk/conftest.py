"""The SDK tier's stack: the official ``ten99policy`` SDK (the one 1099Policy's customers use)
pointed at the gateway of every service running as a process on PostgreSQL and NATS (a private
nats-server from the wheel), mail through a real SMTP server, and two companies with API keys.

Started once for the tier (package scope). The SDK is configured through module globals
(``ten99policy.api_key``, ``ten99policy.api_base``): the ``sdk`` fixture sets them for a test and
restores them; ``as_company`` switches the key inside a test.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import ten99policy
from ten99_testing import free_port
from ten99_testing.nats_server import NatsServerProcess
from ten99_testing.plugin import create_database, drop_database
from ten99_testing.smtp import SmtpSink
from ten99_testing.system import SERVICES, System

from ..conftest import Company, create_company

ROOT = Path(__file__).resolve().parents[2]

#: the SDK's module globals a test changes (restored after each test)
_GLOBALS = ("api_key", "api_base", "log", "max_network_retries")


@dataclass
class SdkStack:
    system: System
    smtp: SmtpSink
    a: Company
    b: Company

    @property
    def gateway(self) -> str:
        return self.system.gateway_url


@pytest.fixture(scope="package")
def sdk_stack(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SdkStack]:
    workdir = tmp_path_factory.mktemp("sdk")
    nats = NatsServerProcess(workdir / "nats").start()
    databases = {s: asyncio.run(create_database(postgres_url, s[:5])) for s in SERVICES}
    smtp = SmtpSink().start()
    system = System(
        nats_url=nats.url,
        database_urls=databases,
        smtp_host=smtp.host,
        smtp_port=smtp.port,
        workdir=workdir / "system",
        cwd=ROOT,
        extra_env={"NOTIFICATION_DELIVERY__BACKOFF_BASE_S": "0.2"},
    )
    try:
        a = create_company(system, "SDK Company A", "owner@sdk-a.test", "correct horse battery sdk a")
        b = create_company(system, "SDK Company B", "owner@sdk-b.test", "correct horse battery sdk b")
        system.start()
        yield SdkStack(system, smtp, a, b)
    except BaseException:
        print(system.logs(80))
        raise
    finally:
        system.stop()
        smtp.stop()
        nats.stop()
        for url in databases.values():
            asyncio.run(drop_database(postgres_url, url))


@pytest.fixture
def sdk(sdk_stack: SdkStack) -> Iterator[SdkStack]:
    """The SDK pointed at the gateway with company A's key; its globals restored afterwards."""
    saved = {name: getattr(ten99policy, name) for name in _GLOBALS}
    ten99policy.api_key = sdk_stack.a.api_key
    ten99policy.api_base = sdk_stack.gateway  # the SDK appends "/api/v1/<resource>"
    ten99policy.log = None
    ten99policy.max_network_retries = 0
    try:
        yield sdk_stack
    finally:
        for name, value in saved.items():
            setattr(ten99policy, name, value)


@contextmanager
def as_company(company: Company) -> Iterator[None]:
    """The SDK acting with another company's key for the block."""
    saved = ten99policy.api_key
    ten99policy.api_key = company.api_key
    try:
        yield
    finally:
        ten99policy.api_key = saved


class Receiver:
    """A webhook receiver: a real HTTP server on a free port that answers 200 and keeps what it got."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/ten99-hooks"

    def __enter__(self) -> Receiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r
