"""Helpers for the policy service's tests (imported as ``policy_world``; ``tests/conftest.py``
puts this folder on ``sys.path``): a `World` that feeds the service other contexts' messages on
JetStream, as their producers would, and reads what the service publishes."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
import nats
import pypdf
from ten99_contracts import (
    Address,
    AssignmentQuote,
    ContractorSnapshot,
    EntitySnapshot,
    Envelope,
    JobSnapshot,
    Message,
    QuotedCoverage,
    decode_envelope,
    encode_envelope,
)
from ten99_contracts.contractor_v1 import AssignmentCreatedV1, AssignmentUpdatedV1
from ten99_contracts.enrollment_v1 import ApplicationCompletedV1, Consent
from ten99_contracts.gateway_v1 import CompanyCreatedV1
from ten99_testing import quiescent, wait_until
from ten99_testing.service import RunningService
from ten99kit.ids import new_id

#: the tests' "now": a Monday noon, UTC
NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
TODAY = NOW.date()


def pdf_text(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


class World:
    """Other contexts, as seen on the bus; one tenant by default."""

    def __init__(self, nats_url: str) -> None:
        self.nats_url = nats_url
        self.tenant = new_id("co")
        self._nc: Any = None

    async def _js(self) -> Any:
        if self._nc is None:
            self._nc = await nats.connect(self.nats_url)
        return self._nc.jetstream()

    async def close(self) -> None:
        if self._nc is not None:
            await self._nc.close()

    # -- feeding ------------------------------------------------------------------------------

    def envelope(
        self, message: Message, *, tenant: str | None = None, aggregate_id: str = "x", version: int = 0
    ) -> Envelope[Any]:
        return Envelope(
            id=str(uuid.uuid4()),
            subject=message.SUBJECT,
            occurred_at=datetime.now(UTC),
            tenant_id=tenant or self.tenant,
            aggregate_id=aggregate_id,
            aggregate_version=version,
            data=message,
        )

    async def send(self, message: Message, *, tenant: str | None = None, version: int = 0) -> Envelope[Any]:
        aggregate = getattr(message, "assignment_id", None) or getattr(message, "contractor_id", None) or "x"
        env = self.envelope(message, tenant=tenant, aggregate_id=aggregate, version=version)
        await self.resend(env)
        return env

    async def resend(self, env: Envelope[Any], *, nats_msg_id: str | None = None) -> None:
        """Publish an envelope (again). A fresh Nats-Msg-Id gets a copy past JetStream's
        de-duplication, as a redelivery after the duplicate window would."""
        js = await self._js()
        await js.publish(env.subject, encode_envelope(env), headers={"Nats-Msg-Id": nats_msg_id or env.id})

    # -- what the policy service published ---------------------------------------------------

    async def published(self, subject: str | None = None) -> list[Envelope[Any]]:
        js = await self._js()
        try:
            info = await js.stream_info("TEN99_POLICY")
        except nats.js.errors.NotFoundError:
            return []
        out = []
        if not info.state.messages:
            return out
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg("TEN99_POLICY", seq)
            if subject is None or msg.subject == subject:
                out.append(decode_envelope(msg.data, msg.subject))
        return out

    async def wait_for(self, subject: str, count: int, timeout: float = 15.0) -> list[Envelope[Any]]:
        """Wait until ``count`` messages of ``subject`` were published; then return them."""

        return await wait_until(
            lambda: self.published(subject),
            satisfies=lambda found: len(found) >= count,
            timeout=timeout,
            what=f"{count} {subject}",
        )

    # -- other contexts' facts ---------------------------------------------------------------

    def contractor(self, first: str = "Ada", last: str = "Lovelace") -> ContractorSnapshot:
        return ContractorSnapshot(
            contractor_id=new_id("cn"),
            first_name=first,
            last_name=last,
            email=f"{first.lower()}.{uuid.uuid4().hex[:6]}@example.com",
            phone="+14155550100",
            address=Address(line1="2211 Mission St", locality="San Francisco", region="CA", postalcode="94110"),
        )

    def assignment(
        self,
        contractor: ContractorSnapshot,
        *,
        start: date,
        end: date,
        entity: str = "Nike",
        job: str = "Content creator",
        aggregate_limit_cents: int = 200_000_000,
        occurrence_limit_cents: int = 100_000_000,
        cls: type[Any] = AssignmentCreatedV1,
        assignment_id: str | None = None,
    ) -> Any:
        return cls(
            assignment_id=assignment_id or new_id("an"),
            contractor=contractor,
            job=JobSnapshot(
                job_id=new_id("jb"),
                name=job,
                description="Produces two sponsored short videos.",
                category_code="jc_creator",
                wage_cents=250_000,
                wage_type="flatfee",
                work_state="CA",
                entity=EntitySnapshot(
                    entity_id=new_id("en"),
                    name=entity,
                    aggregate_limit_cents=aggregate_limit_cents,
                    occurrence_limit_cents=occurrence_limit_cents,
                ),
            ),
            effective_date=start,
            end_date=end,
            coverage_types=["general", "workers-comp"],
        )

    def updated(self, created: Any, **changes: Any) -> AssignmentUpdatedV1:
        fields = {f: getattr(created, f) for f in created.__struct_fields__}
        fields.update(changes)
        return AssignmentUpdatedV1(**fields)

    def quote(self, assignment: Any, *, start: date | None = None, end: date | None = None) -> AssignmentQuote:
        return AssignmentQuote(
            assignment_id=assignment.assignment_id,
            quote_id=new_id("qt"),
            job_id=assignment.job.job_id,
            category_code="jc_creator",
            coverage_types=list(assignment.coverage_types),
            home_state="CA",
            work_state="CA",
            effective_date=start or assignment.effective_date,
            end_date=end or assignment.end_date,
            net_rate=65,
            gl_net_rate=20,
            wc_net_rate=45,
        )

    def job_quote(
        self, *, start: date, end: date, coverage_types: tuple[str, ...] = ("general", "workers-comp"), job_id: str | None = None
    ) -> QuotedCoverage:
        """A quote for a job and a contractor, with no assignment (1099Policy's ``/quotes``)."""
        return QuotedCoverage(
            quote_id=new_id("qt"),
            job_id=job_id or new_id("jb"),
            category_code="jc_creator",
            coverage_types=list(coverage_types),
            home_state="CA",
            work_state="CA",
            effective_date=start,
            end_date=end,
            net_rate=82,
            gl_net_rate=23,
            wc_net_rate=59,
        )

    def completion(
        self, contractor: ContractorSnapshot, quotes: list[AssignmentQuote], *, quote: QuotedCoverage | None = None
    ) -> ApplicationCompletedV1:
        assert contractor.address is not None
        return ApplicationCompletedV1(
            session_id="ias_" + uuid.uuid4().hex[:26].upper(),
            contractor_id=contractor.contractor_id,
            first_name=contractor.first_name,
            last_name=contractor.last_name,
            email=contractor.email,
            phone=contractor.phone,
            address=contractor.address,
            consent=Consent(signed_name=f"{contractor.first_name} {contractor.last_name}", signed_at=NOW, text_version="v1"),
            assignments=quotes,
            quote=quote,
        )

    def company(self, name: str = "Acme Talent Agency", tenant: str | None = None) -> CompanyCreatedV1:
        return CompanyCreatedV1(company_id=tenant or self.tenant, name=name, owner_email="owner@acme.test")


async def tick(svc: RunningService, to: datetime | None = None) -> dict[str, Any]:
    """Move the clock (if asked) and run the clock-driven jobs, then publish what they emitted."""
    if to is not None:
        svc.clock.freeze(to)
    result = await svc.runtime.scheduler.run_due()
    await quiescent(svc)
    return result


def unsigned(answer: Any) -> Any:
    """An answer without its download links' signatures: each read signs its links afresh, and a
    signature carries the second it was made, so two reads of the same thing differ by it."""
    if isinstance(answer, dict):
        return {k: unsigned(v) for k, v in answer.items()}
    if isinstance(answer, list):
        return [unsigned(v) for v in answer]
    if isinstance(answer, str) and "?token=" in answer:
        return answer.split("?token=")[0]
    return answer


def days(n: int) -> timedelta:
    return timedelta(days=n)


def decode(raw: bytes) -> Any:
    return msgspec.json.decode(raw)
