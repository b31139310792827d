"""The SDK tier's stack: the official ``ten99policy`` SDK (the one 1099Policy's customers use)
pointed at the gateway of every service running as a process on PostgreSQL and NATS (a private
nats-server from the wheel), mail through a real SMTP server, and two companies with API keys.

Started once for the tier (package scope). The SDK is configured through module globals
(``ten99policy.api_key``, ``ten99policy.api_base``): the ``sdk`` fixture sets them for a test and
restores them; ``as_company`` switches the key inside a test.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import ten99policy
import ten99policy.six as sdk_six
from ten99_testing.receiver import WebhookReceiver
from ten99_testing.smtp import SmtpSink
from ten99_testing.system import System

from ..conftest import Company, create_companies, whole_system

ROOT = Path(__file__).resolve().parents[2]


def _find_spec(self: Any, fullname: str, path: Any = None, target: Any = None) -> Any:
    """PEP 451's ``find_spec`` for the SDK's vendored six, which has only ``find_module``: pytest
    asks every meta path finder for ``find_spec`` when it imports a later directory's conftest."""
    if self.find_module(fullname, path) is None:
        return None
    return importlib.util.spec_from_loader(fullname, self)


if not hasattr(sdk_six._SixMetaPathImporter, "find_spec"):
    sdk_six._SixMetaPathImporter.find_spec = _find_spec

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
    with whole_system(postgres_url, tmp_path_factory.mktemp("sdk")) as (system, smtp):
        a, b = create_companies(
            system,
            [
                ("SDK Company A", "owner@sdk-a.test", "correct horse battery sdk a"),
                ("SDK Company B", "owner@sdk-b.test", "correct horse battery sdk b"),
            ],
        )
        system.start()
        yield SdkStack(system, smtp, a, b)


@pytest.fixture
def sdk(sdk_stack: SdkStack) -> Iterator[SdkStack]:
    """The SDK pointed at the gateway with company A's key; its globals restored afterwards."""
    saved = {name: getattr(ten99policy, name) for name in _GLOBALS}
    ten99policy.api_key = sdk_stack.a.api_key
    ten99policy.api_base = sdk_stack.gateway  # the SDK appends "/api/v1/<resource>"
    ten99policy.log = None
    # as docs/public-api.md advises integrators: retries a 409 resource_not_ready (an id made a
    # moment ago, on its way) and a 5xx, never a refusal
    ten99policy.max_network_retries = 5
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


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as r:
        yield r
