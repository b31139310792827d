"""The billing service running in-process on a real PostgreSQL and NATS JetStream, and a driver
that plays the other contexts: it publishes their messages as envelopes and reads what billing
publishes from its stream."""

from __future__ import annotations

import asyncio
import io
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
import nats
import pypdf
from billing.adapters.db import assignments, inbox
from billing.application.issuing import InvoiceIssuer, RunResult
from billing.bootstrap import definition
from sqlalchemy import func, select
from ten99_contracts import (
    ContractorSnapshot,
    CoverageTerms,
    EntitySnapshot,
    Envelope,
    JobSnapshot,
    Message,
    decode_envelope,
)
from ten99_contracts.contractor_v1 import AssignmentCreatedV1, ImportCompletedV1, PoNumberSetV1
from ten99_contracts.gateway_v1 import CompanyCreatedV1
from ten99_contracts.policy_v1 import CoverageBoundV1
from ten99_testing import quiescent, wait_until
from ten99_testing.service import RunningService, running_service
from ten99kit import SettableClock

#: a Monday in November 2026; tests move the clock from here
T0 = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
START = date(2026, 11, 23)  # the Monday after
END = date(2026, 12, 4)  # the Friday of the week after: 10 weekdays


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


class Driver:
    def __init__(self, svc: RunningService, nc: Any) -> None:
        self.svc = svc
        self.nc = nc
        self.js = nc.jetstream()
        self.sent = 0

    @property
    def issuer(self) -> InvoiceIssuer:
        issuer: InvoiceIssuer = self.svc.runtime.parts.dependencies["issuer"]
        return issuer

    # -- playing the other contexts ----------------------------------------------------------

    def envelope(
        self,
        message: Message,
        tenant: str,
        *,
        aggregate_id: str = "x",
        version: int = 0,
        occurred_at: datetime | None = None,
    ) -> Envelope[Any]:
        return Envelope(
            id=str(uuid.uuid4()),
            subject=message.SUBJECT,
            occurred_at=occurred_at or self.svc.clock.now(),
            tenant_id=tenant,
            aggregate_id=aggregate_id,
            aggregate_version=version,
            data=message,
        )

    async def send(self, *envelopes: Envelope[Any], new_msg_id: bool = False) -> None:
        """Publish envelopes (as their producer's relay would), acks gathered."""
        futures = []
        for env in envelopes:
            msg_id = str(uuid.uuid4()) if new_msg_id else env.id
            futures.append(await self.js.publish_async(env.subject, msgspec.json.encode(env), headers={"Nats-Msg-Id": msg_id}))
        await asyncio.gather(*futures)
        self.sent += len(envelopes)

    async def publish(self, message: Message, tenant: str, **kw: Any) -> Envelope[Any]:
        env = self.envelope(message, tenant, **kw)
        await self.send(env)
        return env

    async def company(self, tenant: str, owner_email: str = "owner@acme.test", name: str = "Acme Talent") -> None:
        await self.publish(CompanyCreatedV1(company_id=tenant, name=name, owner_email=owner_email), tenant, aggregate_id=tenant)

    @staticmethod
    def assignment_created(
        assignment_id: str,
        *,
        wage_cents: int = 250_000,
        wage_type: str = "flatfee",
        po_number: str | None = None,
        po_contact_email: str | None = None,
        import_batch_id: str | None = None,
        first_name: str = "Ada",
        last_name: str | None = None,
        start: date = START,
        end: date = END,
        status: str = "pending",
        withhold_premium: bool | None = None,
    ) -> AssignmentCreatedV1:
        contractor_id = "cn_" + assignment_id[3:]
        return AssignmentCreatedV1(
            assignment_id=assignment_id,
            contractor=ContractorSnapshot(
                contractor_id=contractor_id,
                first_name=first_name,
                last_name=last_name or assignment_id,
                email=f"{assignment_id}@example.com",
            ),
            job=JobSnapshot(
                job_id="jb_" + assignment_id[3:],
                name="Photographer",
                description="Photos of the spring campaign",
                category_code="jc_photographer",
                wage_cents=wage_cents,
                wage_type=wage_type,
                work_state="CA",
                entity=EntitySnapshot(entity_id="en_nike", name="Nike"),
                withhold_premium=withhold_premium,
            ),
            effective_date=start,
            end_date=end,
            coverage_types=["general"],
            status=status,
            po_number=po_number,
            po_contact_email=po_contact_email,
            import_batch_id=import_batch_id,
            source="csv" if import_batch_id else "api",
        )

    @staticmethod
    def terms(
        assignment_id: str, *, net_rate: int = 65, start: date = START, end: date = END, status: str = "scheduled"
    ) -> CoverageTerms:
        return CoverageTerms(
            coverage_id="cv_" + assignment_id[3:],
            policy_id="pl_1",
            assignment_id=assignment_id,
            contractor_id="cn_" + assignment_id[3:],
            coverage_types=["general"],
            effective_date=start,
            end_date=end,
            status=status,
            net_rate=net_rate,
            gl_net_rate=net_rate,
        )

    @classmethod
    def bound(cls, assignment_id: str, **kw: Any) -> CoverageBoundV1:
        return CoverageBoundV1(terms=cls.terms(assignment_id, **kw))

    @staticmethod
    def po_set(assignment_id: str, po_number: str, contact: str | None = "ap@nike.test") -> PoNumberSetV1:
        return PoNumberSetV1(
            assignment_id=assignment_id,
            contractor_id="cn_" + assignment_id[3:],
            po_number=po_number,
            po_contact_email=contact,
            set_by="ops@acme.test",
        )

    @staticmethod
    def import_completed(batch_id: str, uploaded_by: str | None = "ops@acme.test", missing: int = 0) -> ImportCompletedV1:
        return ImportCompletedV1(
            import_batch_id=batch_id,
            filename=f"{batch_id}.csv",
            rows_total=3,
            rows_imported=3,
            rows_failed=0,
            contractors_created=3,
            assignments_created=3,
            assignments_missing_po=missing,
            uploaded_by=uploaded_by,
        )

    def billable_envelopes(self, tenant: str, assignment_id: str, po: str | None, **kw: Any) -> list[Envelope[Any]]:
        """An assignment, its bound coverage and (when ``po``) its PO number."""
        net_rate = kw.pop("net_rate", 65)
        envs = [
            self.envelope(self.assignment_created(assignment_id, **kw), tenant, aggregate_id=assignment_id, version=1),
            self.envelope(self.bound(assignment_id, net_rate=net_rate), tenant, aggregate_id="cv_" + assignment_id[3:]),
        ]
        if po:
            envs.append(self.envelope(self.po_set(assignment_id, po), tenant, aggregate_id=assignment_id, version=2))
        return envs

    async def billable(self, tenant: str, assignment_id: str, po: str | None, **kw: Any) -> None:
        """Publish `billable_envelopes`."""
        await self.send(*self.billable_envelopes(tenant, assignment_id, po, **kw))

    # -- watching billing --------------------------------------------------------------------

    async def applied(self) -> int:
        """Messages the consumers applied (redelivered copies are not counted)."""
        async with self.svc.db.session() as s:
            return int((await s.execute(select(func.count()).select_from(inbox))).scalar_one())

    async def wait_applied(self, timeout: float = 60.0) -> None:
        """Wait until the consumers have applied (or dropped as copies) all that was sent, and
        what billing emitted is published."""
        await quiescent(self.svc, timeout=timeout)

    async def flagged(self) -> int:
        async with self.svc.db.session() as s:
            return int(
                (await s.execute(select(func.count()).select_from(assignments).where(assignments.c.needs_billing))).scalar_one()
            )

    async def issue_now(self) -> RunResult:
        """Everything sent applied, the settle window over (the clock moves past it), one issuer
        run, and what it emitted published: nothing left to plan, nothing left to happen."""
        await self.wait_applied()
        self.svc.clock.advance(timedelta(seconds=self.svc.runtime.settings.invoicing.settle_s))
        result = await self.issuer.run_once()
        await self.wait_applied()
        return result

    async def api(self, method: str, path: str, tenant: str | None, json: Any = None, expect: int | None = 200) -> Any:
        headers = {"x-tenant-id": tenant} if tenant else {}
        response = await self.svc.client.request(method, path, headers=headers, json=json)
        if expect is not None:
            assert response.status_code == expect, response.text
        return response

    async def invoices(self, tenant: str, **params: Any) -> list[dict[str, Any]]:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        r = await self.api("GET", f"/v1/invoices?limit=100&{query}", tenant)
        return list(r.json()["data"])

    async def invoice(self, tenant: str, invoice_id: str) -> dict[str, Any]:
        return dict((await self.api("GET", f"/v1/invoices/{invoice_id}", tenant)).json())

    async def wait_invoices(self, tenant: str, n: int, timeout: float = 60.0) -> list[dict[str, Any]]:
        """At least ``n`` invoices of ``tenant`` (newest first). The issuer works in the background;
        the first invoice of a process also waits for the PDF library's import."""
        return await wait_until(
            lambda: self.invoices(tenant), satisfies=lambda found: len(found) >= n, timeout=timeout, what=f"{n} invoices"
        )

    async def published(self, subject: str) -> list[Envelope[Any]]:
        """What billing published on ``subject`` (read back from its JetStream stream), once
        billing is idle."""
        await self.wait_applied()
        try:
            info = await self.js.stream_info("TEN99_BILLING")
        except Exception:
            return []
        out = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            try:
                msg = await self.js.get_msg("TEN99_BILLING", seq)
            except Exception:
                continue
            if msg.subject == subject:
                out.append(decode_envelope(msg.data, subject))
        return out


class make_driver:
    def __init__(self, database_url: str, nats_url: str, **invoicing: Any) -> None:
        self.database_url = database_url
        self.nats_url = nats_url
        self.invoicing = {"poll_interval_s": 0.1, **invoicing}

    async def __aenter__(self) -> Driver:
        clock = SettableClock()
        clock.set(T0)
        self._service = running_service(
            definition, database_url=self.database_url, nats_url=self.nats_url, clock=clock, invoicing=self.invoicing
        )
        svc = await self._service.__aenter__()
        self._nc = await nats.connect(self.nats_url)
        return Driver(svc, self._nc)

    async def __aexit__(self, *exc: Any) -> None:
        await self._nc.close()
        await self._service.__aexit__(*exc)


def days(n: float) -> timedelta:
    return timedelta(days=n)
