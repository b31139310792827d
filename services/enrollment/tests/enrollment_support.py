"""Builders for the enrollment service's tests: other contexts' messages, envelopes, a migrated
SQLite database for the no-server tier, and readers for what the service emitted."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
import nats
from enrollment.adapters.db import metadata
from enrollment.application.links import OptInLinks
from enrollment.application.reactions import Reactions
from enrollment.bootstrap import definition, subscriptions
from sqlalchemy import func, select
from ten99_contracts import Address, ContractorSnapshot, EntitySnapshot, Envelope, JobSnapshot, decode_envelope
from ten99_contracts.contractor_v1 import AssignmentCreatedV1, AssignmentUpdatedV1
from ten99_contracts.enrollment_v1 import PortalLinkRequestedV1
from ten99_contracts.gateway_v1 import CompanyCreatedV1
from ten99_testing import quiescent
from ten99_testing.service import RunningService
from ten99kit.clock import SettableClock
from ten99kit.db import Database, create_engine
from ten99kit.migrations import upgrade
from ten99kit.settings import DatabaseSettings

NOW = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
TENANT = "co_Tenant0000000000000001"
OTHER_TENANT = "co_Tenant0000000000000002"
SECRET = "test-token-secret"
H = {"x-tenant-id": TENANT}
H2 = {"x-tenant-id": OTHER_TENANT}

LINKS = OptInLinks(secret=SECRET, base_url="http://gw.test", ttl=timedelta(days=30), reminder_days=(2, 5))


def contractor(
    n: int = 1, *, state: str = "CA", first: str = "Ada", last: str = "Lovelace", with_address: bool = True
) -> ContractorSnapshot:
    return ContractorSnapshot(
        contractor_id=f"cn_Contractor{n:011d}",
        first_name=first,
        last_name=last,
        email=f"c{n}@example.com",
        phone="+1 415 555 0100",
        address=Address(line1="1 Main St", locality="Springfield", region=state, postalcode="94110") if with_address else None,
    )


def job(
    n: int = 1, *, category: str = "jc_creator", work_state: str | None = "CA", required: list[str] | None = None
) -> JobSnapshot:
    return JobSnapshot(
        job_id=f"jb_Job{n:019d}",
        name=f"Job {n}",
        description="Two sponsored videos.",
        category_code=category,
        wage_cents=250_000,
        wage_type="flatfee",
        work_state=work_state,
        entity=EntitySnapshot(entity_id="en_Entity000000000000001", name="Nike", required_coverage=required or []),
    )


def assignment(
    n: int,
    who: ContractorSnapshot,
    what: JobSnapshot,
    *,
    start: date | None = None,
    days: int = 30,
    coverage: list[str] | None = None,
    status: str = "pending",
    updated: bool = False,
) -> AssignmentCreatedV1 | AssignmentUpdatedV1:
    start = start or TODAY + timedelta(days=3)
    cls = AssignmentUpdatedV1 if updated else AssignmentCreatedV1
    return cls(
        assignment_id=f"an_Assignment{n:011d}",
        contractor=who,
        job=what,
        effective_date=start,
        end_date=start + timedelta(days=days),
        coverage_types=coverage if coverage is not None else ["general", "workers-comp"],
        status=status,
    )


def envelope(
    message: Any, *, tenant: str = TENANT, aggregate_id: str | None = None, version: int = 1, at: datetime | None = None
) -> Envelope[Any]:
    return Envelope(
        id=str(uuid.uuid4()),
        subject=message.SUBJECT,
        occurred_at=at or NOW,
        tenant_id=tenant,
        aggregate_id=aggregate_id or getattr(message, "assignment_id", None) or getattr(message, "contractor_id", "x"),
        aggregate_version=version,
        data=message,
    )


def company(tenant: str = TENANT, name: str = "Acme Creators") -> Envelope[CompanyCreatedV1]:
    return envelope(
        CompanyCreatedV1(company_id=tenant, name=name, owner_email="owner@acme.test"), tenant=tenant, aggregate_id=tenant
    )


@asynccontextmanager
async def sqlite_database(url: str, clock: SettableClock) -> AsyncIterator[Database]:
    await asyncio.to_thread(upgrade, definition.migrations, url)
    db = Database(create_engine(DatabaseSettings(url=url)), clock, "enrollment")
    db.outbox_table = metadata.tables["outbox"]
    try:
        yield db
    finally:
        await db.dispose()


async def apply(db: Database, *envelopes: Envelope[Any], links: OptInLinks = LINKS) -> None:
    """Run the service's reaction to each envelope, one transaction each (as the consumer does)."""
    reactions = {s.subject: s.handler for s in subscriptions(Reactions(links))}
    for env in envelopes:
        async with db.uow() as uow:
            await reactions[env.subject](uow, env)
            await uow.commit()


async def outbox_messages(db: Database, subject: str | None = None) -> list[Envelope[Any]]:
    table = metadata.tables["outbox"]
    async with db.session() as s:
        rows = (await s.execute(select(table.c.subject, table.c.payload).order_by(table.c.id))).all()
    return [decode_envelope(p, sub) for sub, p in rows if subject is None or sub == subject]


async def row_counts(db: Database) -> dict[str, int]:
    out = {}
    async with db.session() as s:
        for name, table in metadata.tables.items():
            out[name] = (await s.execute(select(func.count()).select_from(table))).scalar_one()
    return out


async def two_portal_companies(svc: RunningService) -> None:
    """Ada (c1) works for Acme; Grace (c2) for Beta only: the portal tests' two companies."""
    await apply(svc.db, company(), envelope(assignment(1, contractor(1), job(1))))
    await apply(
        svc.db,
        company(OTHER_TENANT, "Beta Media"),
        envelope(assignment(2, contractor(2, first="Grace"), job(2)), tenant=OTHER_TENANT),
    )


async def portal_session(svc: RunningService, email: str) -> dict[str, str]:
    """Sign ``email`` in to the portal (ask for a link, use it): the header that names the session."""
    assert (await svc.client.post("/v1/portal/links", json={"email": email})).status_code == 202
    link = [e for e in await emitted(svc, PortalLinkRequestedV1.SUBJECT) if e.data.email == email][-1]
    opened = await svc.client.post("/v1/portal/sessions", json={"token": link.data.sign_in_url.rsplit("/", 1)[1]})
    assert opened.status_code == 200, opened.text
    return {"x-portal-session": opened.json()["session_token"]}


def token_of(url: str) -> str:
    return url.rsplit("/opt-in/", 1)[1]


def good_form(first: str = "Ada", last: str = "Lovelace", **overrides: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "first_name": first,
        "last_name": last,
        "answers": {
            "is_adult": True,
            "works_in_us": True,
            "independent_contractor": True,
            "claims_last_3_years": False,
            "coverage_declined_last_3_years": False,
        },
        "consent": {"agreed": True, "signed_name": f"{first} {last}"},
        "ip_address": "203.0.113.9",
        "user_agent": "Mozilla/5.0 (test)",
    }
    form.update(overrides)
    return form


def to_builtins(value: Any) -> Any:
    return msgspec.to_builtins(value)


async def apply_batch(db: Database, *envelopes: Envelope[Any], links: OptInLinks = LINKS) -> None:
    """Run the reactions to several envelopes in one unit of work, as the consumer does with a batch."""
    reactions = {s.subject: s.handler for s in subscriptions(Reactions(links))}
    async with db.uow() as uow:
        for env in envelopes:
            await reactions[env.subject](uow, env)
        await uow.commit()


# -- talking to a running service (integration tests) ------------------------------------------


async def publish(svc: RunningService, *envelopes: Envelope[Any], msg_id: str | None = None) -> None:
    nc = await nats.connect(svc.nats_url)  # type: ignore[attr-defined]
    try:
        js = nc.jetstream()
        for env in envelopes:
            await js.publish(env.subject, msgspec.json.encode(env), headers={"Nats-Msg-Id": msg_id or env.id})
    finally:
        await nc.close()


async def emitted(svc: RunningService, subject: str | None = None) -> list[Envelope[Any]]:
    """Everything the service published to its stream, once it is idle."""
    await quiescent(svc)
    nc = await nats.connect(svc.nats_url)  # type: ignore[attr-defined]
    try:
        js = nc.jetstream()
        info = await js.stream_info("TEN99_ENROLLMENT")
        out = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg("TEN99_ENROLLMENT", seq)
            if subject is None or msg.subject == subject:
                out.append(decode_envelope(msg.data, msg.subject))
        return out
    except nats.js.errors.NotFoundError:
        return []
    finally:
        await nc.close()


async def rates(svc: RunningService) -> dict[tuple[str, str, str], int]:
    r = await svc.client.get("/v1/rates")
    assert r.status_code == 200
    return {(x["category_code"], x["state"], x["coverage_type"]): x["net_rate"] for x in r.json()["data"]}
