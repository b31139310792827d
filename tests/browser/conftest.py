"""The browser tier's Chromium: Debian's (``/usr/bin/chromium``), headless, driven by Playwright, and
the system it drives: ONE whole system for the whole tier (six service processes take 20-30 s to
start), with the development mail catcher on (the dashboard's Mailbox), and a company of its own for
each test, so that tests stay independent: each sees only its company's data and mail.

- ``running``: a `Running` (``.system``, ``.company``, ``.smtp``: the company's caught mail) on it;
- ``with_mailbox``: ``(system, company)`` on it;

On the shared system a test reads only its company's data and mail (`CaughtMail`), logs in with its
company's own email, and uses addresses no other test uses wherever a lookup crosses companies (the
portal's sign-in by email). Operator ticks act for every company: count their effects on the test's
company only, after `tests.e2e.flow.idle`."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright, expect
from ten99_testing import CaughtMail
from ten99_testing.system import System

from tests.conftest import Company, Running, create_companies, create_company, whole_system

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]  # fmt: skip
#: six processes starting on a shared, busy machine
READY_TIMEOUT_S = 240
#: how long an ``expect`` waits for a page to show what it should (Playwright's default, 5 s, is
#: shorter than a login's password hash and a page render on the busy 2-core machine CI shares)
EXPECT_TIMEOUT_MS = 20_000
_companies = itertools.count(1)


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    """Every assertion of the tier waits up to `EXPECT_TIMEOUT_MS` (an upper bound: it returns as
    soon as the page shows it); Playwright's setting is global, so it is put back afterwards."""
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    yield
    expect.set_options(timeout=5_000)


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    if not shutil.which("chromium") and not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed (make test installs it with apt-get)")
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        await b.close()


@dataclass
class _Shared:
    system: System
    #: companies made before the system started, one per test of the tier that asks for one
    companies: list[Company]


def _company_spec() -> tuple[str, str, str]:
    """The name the tests look for, a login of its own."""
    return "Acme Talent", f"ops{next(_companies)}@acme.test", "correct horse battery"


@pytest.fixture(scope="package")
def browser_shared(
    request: pytest.FixtureRequest, postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[_Shared]:
    """Every service, once for the browser tier, notification sending to its own catcher; the
    tier's companies made first, all in one process (`create_companies`)."""
    here = Path(__file__).parent
    wanted = [i for i in request.session.items if "browser_company" in getattr(i, "fixturenames", ()) and here in i.path.parents]
    with whole_system(postgres_url, tmp_path_factory.mktemp("browser"), catcher=True) as (system, _):
        companies = create_companies(system, [_company_spec() for _ in wanted])
        system.start(timeout=READY_TIMEOUT_S)
        yield _Shared(system, companies)


@pytest.fixture
def browser_system(browser_shared: _Shared) -> System:
    return browser_shared.system


@pytest.fixture
def browser_company(browser_shared: _Shared) -> Company:
    """A company of this test's own on the shared system."""
    if browser_shared.companies:
        return browser_shared.companies.pop(0)
    return create_company(browser_shared.system, *_company_spec())


def _logs_if_failed(request: pytest.FixtureRequest, system: System) -> None:
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        print(system.logs(80))


@pytest.fixture
def running(request: pytest.FixtureRequest, browser_system: System, browser_company: Company) -> Iterator[Running]:
    with CaughtMail(browser_system.database_urls["notification"], browser_company.company_id) as mail:
        yield Running(browser_system, mail, browser_company)
    _logs_if_failed(request, browser_system)


@pytest.fixture
def with_mailbox(
    request: pytest.FixtureRequest, browser_system: System, browser_company: Company
) -> Iterator[tuple[System, Company]]:
    yield browser_system, browser_company
    _logs_if_failed(request, browser_system)
