"""Fixtures for the end-to-end and browser tiers: every service as a real process on PostgreSQL
and NATS, mail caught by a real SMTP server, and a company to act for."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from ten99_testing import CaughtMail, free_port
from ten99_testing.nats_server import NatsServerProcess
from ten99_testing.plugin import create_database, drop_database
from ten99_testing.smtp import SmtpSink
from ten99_testing.system import SERVICES, System

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Company:
    company_id: str
    name: str
    email: str
    password: str
    api_key: str


@dataclass
class Running:
    system: System
    #: the mail sent: an SMTP sink of the test's own, or (a system shared by tests, the Mailbox's
    #: catcher on) the company's caught mail
    smtp: SmtpSink | CaughtMail
    company: Company

    def client(self, service: str) -> Any:
        """A client of a service's internal API, acting for the company (as the gateway does)."""
        return self.system.client(service, tenant_id=self.company.company_id)


def create_company(system: System, name: str, email: str, password: str) -> Company:
    """A company with its owner and an API key, by the gateway's ``create-company`` command."""
    return create_companies(system, [(name, email, password)])[0]


#: `create_companies`' one process: the gateway's own command, once per company
_CREATE_MANY = """
import json, sys
from gateway.bootstrap import definition
from ten99kit.cli import main
for name, email, password in json.loads(sys.argv[1]):
    argv = ["create-company", "--name", name, "--email", email, "--password", password, "--api-key", "--json"]
    if code := main(definition, argv):
        sys.exit(code)
"""


def create_companies(system: System, specs: list[tuple[str, str, str]]) -> list[Company]:
    """`create_company` for each ``(name, email, password)``, in ONE process: importing the gateway
    is most of what one ``python -m gateway create-company`` costs (seconds on a busy machine)."""
    if not specs:
        return []
    out = subprocess.run(
        [sys.executable, "-c", _CREATE_MANY, json.dumps(specs)],
        env=system.services["gateway"].env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120 + 10 * len(specs),
    )
    assert out.returncode == 0, out.stdout + out.stderr
    made = [json.loads(line) for line in out.stdout.splitlines() if line.startswith('{"company_id"')]
    assert [m["email"] for m in made] == [email.strip().lower() for _, email, _ in specs], out.stdout + out.stderr
    return [
        Company(m["company_id"], name, email, password, m["api_key"])
        for m, (name, email, password) in zip(made, specs, strict=True)
    ]


@pytest_asyncio.fixture
async def running(
    request: pytest.FixtureRequest, database_factory: Any, jetstream_url: str, smtp_sink: SmtpSink, tmp_path: Path
) -> AsyncIterator[Running]:
    dbs = {s: await database_factory(s[:5]) for s in SERVICES}
    system = System(
        nats_url=jetstream_url,
        database_urls=dbs,
        smtp_host=smtp_sink.host,
        smtp_port=smtp_sink.port,
        workdir=tmp_path / "system",
        cwd=ROOT,
        # retries and the takeover of a killed sender's claims within seconds
        extra_env={"NOTIFICATION_DELIVERY__BACKOFF_BASE_S": "0.2", "NOTIFICATION_DELIVERY__LEASE_S": "5"},
    )
    company = create_company(system, "Acme Talent", "ops@acme.test", "correct horse battery")
    system.start()
    try:
        yield Running(system, smtp_sink, company)
    finally:
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            print(system.logs(80))
        system.stop()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Any:
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep


@contextmanager
def whole_system(postgres_url: str, workdir: Path, *, catcher: bool = False) -> Iterator[tuple[System, SmtpSink]]:
    """Every service as a process on PostgreSQL (a database each), a nats-server of its own and an
    SMTP sink: the system is built, not started (create companies first, then ``system.start()``).
    Its logs are printed if setting up fails; everything is stopped and dropped afterwards.
    ``catcher``: notification sends to its development catcher (the dashboard's Mailbox is on; read
    a company's mail with `CaughtMail`), not to the sink."""
    nats = NatsServerProcess(workdir / "nats").start()
    databases = {s: asyncio.run(create_database(postgres_url, s[:5])) for s in SERVICES}
    smtp = SmtpSink().start()
    system = System(
        nats_url=nats.url,
        database_urls=databases,
        smtp_host=smtp.host,
        smtp_port=free_port() if catcher else smtp.port,
        workdir=workdir / "system",
        cwd=ROOT,
        catcher=catcher,
        extra_env={
            "NOTIFICATION_DELIVERY__BACKOFF_BASE_S": "0.2",
            # the gateway's cached answers live for a minute here, not 5 s: a change that does not
            # drop them (no message from its service) shows as a stale read, not hidden by expiry
            "GATEWAY_API_CACHE__MAX_AGE_S": "60",
        },
    )
    try:
        yield system, smtp
    except BaseException:
        print(system.logs(80))
        raise
    finally:
        system.stop()
        smtp.stop()
        nats.stop()
        for url in databases.values():
            asyncio.run(drop_database(postgres_url, url))
