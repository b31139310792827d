"""The security tier's stack: every service as a real process on PostgreSQL and NATS (a private
nats-server from the wheel), mail through a real SMTP server, and two companies. Company A has one
of everything (entity, job, contractor, assignment, quote, application session, policy, certificate,
invoice, import); company B has an API key and a dashboard login and tries to reach A's data.

The stack is started once for the tier (package scope): every test here only reads, or writes
something that cannot change what the other tests look at.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from ten99_testing.smtp import SmtpSink
from ten99_testing.system import SERVICES, System, wait_until

from ..conftest import Company, create_companies, whole_system
from ..e2e.flow import seed_covered_assignment

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Stack:
    system: System
    smtp: SmtpSink
    a: Company
    b: Company
    #: company A's ids by resource (``{"contractors": "cn_...", ...}``)
    ids: dict[str, str] = field(default_factory=dict)

    @property
    def gateway(self) -> str:
        return self.system.gateway_url

    def api(self, company: Company) -> httpx.Client:
        """The public API as the company's integration calls it."""
        return httpx.Client(base_url=f"{self.gateway}/api/v1", headers={"Authorization": f"Bearer {company.api_key}"}, timeout=30)

    def operator(self, service: str) -> httpx.Client:
        """A service's operator endpoints, with the operator credential (never the gateway's token)."""
        return self.system.ops_client(service)

    @property
    def body_limit(self) -> int:
        """The one request body limit, the same at the gateway and behind it."""
        from ten99kit.inputs import MAX_BODY_BYTES

        return MAX_BODY_BYTES

    def clocks(self) -> dict[str, datetime]:
        out = {}
        for service in SERVICES:
            with self.operator(service) as ops:
                out[service] = datetime.fromisoformat(ops.get("/_ops/clock").json()["now"])
        return out

    @contextmanager
    def dashboard(self, company: Company) -> Iterator[httpx.Client]:
        """A logged-in dashboard session of the company's owner."""
        with httpx.Client(base_url=self.gateway, timeout=30) as client:
            r = log_in(client, company.email, company.password)
            assert r.status_code in (200, 303) and client.cookies.get("ten99_session"), r.text[:300]
            yield client


def production_secrets(service: str) -> dict[str, str]:
    """Every secret the service needs outside development, set to a value that is not a default."""
    p = service.upper()
    values = {f"{p}_INTERNAL_TOKEN": "a-production-internal-token", f"{p}_OPERATOR_TOKEN": "a-production-operator-token"}
    values.update(
        {
            "contractor": {
                "CONTRACTOR_TAX_ID_KEYS": '["a production tax id key"]',
                "CONTRACTOR_INTEGRATION_SECRET_KEYS": '["a production integration key"]',
            },
            "enrollment": {"ENROLLMENT_TOKEN_SECRET": "a production token secret"},
            "policy": {"POLICY_LINK_SECRET": "a production link secret"},
            "notification": {"NOTIFICATION_WEBHOOK_SECRET_KEYS": '["a production webhook key"]'},
        }.get(service, {})
    )
    return values


_CSRF = re.compile(r'name="_csrf"\s+value="([^"]+)"')


def login_form_token(client: httpx.Client) -> str:
    page = client.get("/login")
    assert page.status_code == 200, page.text
    found = _CSRF.search(page.text)
    assert found, "no CSRF token on the login page"
    return found.group(1)


def log_in(client: httpx.Client, email: str, password: str) -> httpx.Response:
    token = login_form_token(client)
    return client.post("/login", data={"email": email, "password": password, "_csrf": token, "next": "/"})


def _seed_company_a(stack: Stack) -> None:
    """One of everything for company A, made the ways a company makes them."""
    system, smtp, a = stack.system, stack.smtp, stack.a
    ids = stack.ids
    today = datetime.now(UTC).date()
    start = today + timedelta(days=3)

    # the dashboard's way: a CSV import, the contractor's opt-in, certificates, a PO, the invoice
    seeded = seed_covered_assignment(system, smtp, a, domain="a.test", po_number="PO-A1")
    ids["imports"], ids["opt_in_link"], assignment = seeded.import_id, seeded.opt_in_link, seeded.assignment

    with stack.api(a) as api:
        ids["assignments"] = assignment["id"]
        ids["contractors"] = (
            assignment["contractor"] if isinstance(assignment["contractor"], str) else assignment["contractor"]["id"]
        )
        [policy] = api.get("/policies").json()["data"]
        ids["policies"] = policy["id"]
        [invoice] = api.get("/invoices").json()["data"]
        ids["invoices"] = invoice["id"]

        # the public API's way: entity, job, contractor, assignment, quote, application session
        entity = api.post("/entities", json={"name": "A's venue"})
        assert entity.status_code == 200, entity.text
        ids["entities"] = entity.json()["id"]
        job = api.post(
            "/jobs",
            json={
                "name": "Stagehand",
                "description": "Sets up the stage",
                "entity": ids["entities"],
                "category_code": "jc_model",
                "wage": 250000,
                "wage_type": "flatfee",
            },
        )
        assert job.status_code == 200, job.text
        ids["jobs"] = job.json()["id"]
        person = api.post(
            "/contractors",
            json={
                "first_name": "Grace",
                "last_name": "Hopper",
                "email": "grace@a.test",
                "address": {"line1": "1 Main St", "locality": "Springfield", "region": "NY", "postalcode": "10001"},
            },
        )
        assert person.status_code == 200, person.text
        ids["api_contractor"] = person.json()["id"]
        begin = int(datetime.combine(start, datetime.min.time(), UTC).timestamp())
        work = api.post(
            "/assignments",
            json={
                "contractor": ids["api_contractor"],
                "job": ids["jobs"],
                "effective_date": begin,
                "end_date": begin + 5 * 86400,
            },
        )
        assert work.status_code == 200, work.text
        ids["api_assignment"] = work.json()["id"]

        def quoted() -> Any:
            r = api.post("/quotes", json={"contractor": ids["api_contractor"], "job": ids["jobs"]})
            return r.json() if r.status_code == 200 else None

        ids["quotes"] = wait_until(quoted, timeout=30, what="a quote for the API's job")["id"]
        session = api.post("/apply/sessions", json={"quote": ids["quotes"], "success_url": "https://a.test/ok"})
        assert session.status_code == 200, session.text
        ids["apply/sessions"] = session.json()["id"]
    with system.client("policy", tenant_id=a.company_id) as policy_client:
        [certificate] = policy_client.get("/v1/certificates", params={"limit": 10}).json()["data"]
        ids["certificates"] = certificate["certificate_id"]


@pytest.fixture(scope="package")
def stack(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with whole_system(postgres_url, tmp_path_factory.mktemp("security")) as (system, smtp):
        a, b = create_companies(
            system,
            [("Company A", "owner@a.test", "correct horse battery a"), ("Company B", "owner@b.test", "correct horse battery b")],
        )
        system.start()
        stack = Stack(system, smtp, a, b)
        _seed_company_a(stack)
        yield stack
