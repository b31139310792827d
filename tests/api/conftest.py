"""The API tier's stack: every service as a real process on PostgreSQL and NATS (a private
nats-server from the wheel), mail through a real SMTP server, and one company with an API key and
one of each resource (made the ways a company makes them: a CSV import, an opt-in, a PO; then the
public API), so that lists answer real rows whose shapes are checked against the OpenAPI.

Started once for the tier (package scope)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from ten99_testing.smtp import SmtpSink
from ten99_testing.system import System

from ..conftest import Company, create_company, whole_system
from ..e2e.flow import seed_covered_assignment

ROOT = Path(__file__).resolve().parents[2]

#: the first of each list, by the path parameter that names it (the operations on one thing get real ids)
SEEDED = {
    "assignments": "assignment_id",
    "category_codes": "code_id",
    "quotes": "quote_id",
    "apply/sessions": "session_id",
    "policies": "policy_id",
    "invoices": "invoice_id",
    "events": "event_id",
    "webhook_endpoints": "endpoint_id",
}


@dataclass
class ApiStack:
    system: System
    smtp: SmtpSink
    company: Company
    ids: dict[str, str] = field(default_factory=dict)

    @property
    def gateway(self) -> str:
        return self.system.gateway_url

    def api(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.company.api_key}"}
        return httpx.Client(base_url=f"{self.gateway}/api/v1", headers=headers, timeout=30)


def _seed_through_the_dashboard_flow(stack: ApiStack) -> None:
    """A covered assignment with a PO: a policy, a certificate and an invoice exist."""
    seed_covered_assignment(stack.system, stack.smtp, stack.company, domain="api.test", po_number="PO-API1")


def _seed_through_the_api(stack: ApiStack) -> None:
    start = datetime.now(UTC).date() + timedelta(days=3)
    begin = int(datetime.combine(start, datetime.min.time(), UTC).timestamp())
    with stack.api() as api:
        entity = api.post("/entities", json={"name": "API venue"})
        assert entity.status_code == 200, entity.text
        job = api.post(
            "/jobs",
            json={
                "name": "Stagehand",
                "description": "Sets up the stage",
                "entity": entity.json()["id"],
                "category_code": "jc_model",
                "wage": 250000,
                "wage_type": "flatfee",
            },
        )
        assert job.status_code == 200, job.text
        person = api.post(
            "/contractors",
            json={
                "first_name": "Grace",
                "last_name": "Hopper",
                "email": "grace@api.test",
                "address": {"line1": "1 Main St", "locality": "Springfield", "region": "NY", "postalcode": "10001"},
            },
        )
        assert person.status_code == 200, person.text
        work = {
            "contractor": person.json()["id"],
            "job": job.json()["id"],
            "effective_date": begin,
            "end_date": begin + 5 * 86400,
        }
        assert api.post("/assignments", json=work).status_code == 200
        # notification's endpoints, where they are served (a 404 while that part has not landed)
        api.post("/webhook_endpoints", json={"url": "https://hooks.api.test/ten99", "events": ["policy.active"]})
        stack.ids.update(entity_id=entity.json()["id"], job_id=job.json()["id"], contractor_id=person.json()["id"])
        for resource, param in SEEDED.items():
            listing = api.get(f"/{resource}", params={"limit": 1})
            if listing.status_code == 200 and listing.json()["data"]:
                stack.ids.setdefault(param, listing.json()["data"][0]["id"])


@pytest.fixture(scope="package")
def api_stack(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiStack]:
    with whole_system(postgres_url, tmp_path_factory.mktemp("api")) as (system, smtp):
        company = create_company(system, "API Company", "owner@api.test", "correct horse battery api")
        system.start()
        stack = ApiStack(system, smtp, company)
        _seed_through_the_dashboard_flow(stack)
        _seed_through_the_api(stack)
        yield stack
