"""The embedded default runs billing on SQLite: the same migrations, upserts and issuer work there.

No servers: the reactions are called with a unit of work, as the consumer would, and the issuer
and the PO reminder job run directly.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from billing.adapters.db import invoice_lines, invoices
from billing.adapters.pdf import render_invoice_pdf
from billing.application.issuing import InvoiceIssuer
from billing.application.reactions import Reactions
from billing.application.reminders import PoReminders
from billing.bootstrap import definition
from billing.settings import BillingSettings
from sqlalchemy import func, select
from ten99_contracts import ContractorSnapshot, CoverageTerms, EntitySnapshot, Envelope, JobSnapshot, Message
from ten99_contracts.contractor_v1 import AssignmentCancelledV1, AssignmentCreatedV1, ImportCompletedV1, PoNumberSetV1
from ten99_contracts.gateway_v1 import CompanyCreatedV1
from ten99_contracts.policy_v1 import CoverageBoundV1
from ten99kit import Database, SettableClock, create_engine
from ten99kit.migrations import schema_drift, upgrade
from ten99kit.settings import DatabaseSettings

T0 = datetime(2026, 11, 16, 9, tzinfo=UTC)
CO = "co_lite"


def env(message: Message, *, version: int = 0, at: datetime = T0) -> Envelope[Any]:
    return Envelope(
        id=str(uuid.uuid4()),
        subject=message.SUBJECT,
        occurred_at=at,
        tenant_id=CO,
        aggregate_id="x",
        aggregate_version=version,
        data=message,
    )


def created(aid: str, batch: str | None = None) -> AssignmentCreatedV1:
    return AssignmentCreatedV1(
        assignment_id=aid,
        contractor=ContractorSnapshot(contractor_id="cn_" + aid, first_name="Zoë", last_name=aid, email=f"{aid}@example.com"),
        job=JobSnapshot(
            job_id="jb_1",
            name="Model",
            description="Runway",
            category_code="jc_model",
            wage_cents=100_000,
            wage_type="flatfee",
            entity=EntitySnapshot(entity_id="en_1", name="Nike"),
        ),
        effective_date=date(2026, 11, 23),
        end_date=date(2026, 11, 27),
        coverage_types=["general"],
        import_batch_id=batch,
    )


def bound(aid: str) -> CoverageBoundV1:
    return CoverageBoundV1(
        terms=CoverageTerms(
            coverage_id="cv_" + aid,
            policy_id="pl_1",
            assignment_id=aid,
            contractor_id="cn_" + aid,
            coverage_types=["general"],
            effective_date=date(2026, 11, 23),
            end_date=date(2026, 11, 27),
            status="scheduled",
            net_rate=80,
        )
    )


async def test_billing_on_sqlite(sqlite_url: str) -> None:
    await asyncio.to_thread(upgrade, definition.migrations, sqlite_url)
    assert await schema_drift(sqlite_url, definition.metadata) == []
    clock = SettableClock(T0)
    db = Database(create_engine(DatabaseSettings(url=sqlite_url)), clock, "billing")
    db.outbox_table = definition.metadata.tables["outbox"]
    settings = BillingSettings.model_validate({"db": {"url": sqlite_url}, "invoicing": {"settle_s": 0.0}})
    issuer = InvoiceIssuer(db, settings, render_invoice_pdf)
    reactions = Reactions(po_reminder_delay=timedelta(days=3), wake_issuer=issuer.wake_after_commit)
    try:

        async def apply(handler: Any, envelope: Envelope[Any]) -> None:
            async with db.uow() as uow:
                await handler(uow, envelope)
                await uow.commit()

        await apply(reactions.on_company_created, env(CompanyCreatedV1(company_id=CO, name="Lite", owner_email="o@lite.test")))
        for aid in ("an_1", "an_2", "an_3"):
            await apply(reactions.on_assignment_state, env(created(aid, batch="ib_1"), version=1))
            await apply(reactions.on_coverage_changed, env(bound(aid)))
        await apply(
            reactions.on_import_completed,
            env(
                ImportCompletedV1(
                    import_batch_id="ib_1",
                    filename="f.csv",
                    rows_total=3,
                    rows_imported=3,
                    rows_failed=0,
                    contractors_created=3,
                    assignments_created=3,
                    assignments_missing_po=3,
                    uploaded_by="ops@lite.test",
                )
            ),
        )
        # the PO arrives for two; an older snapshot arriving later does not clear it
        for aid in ("an_1", "an_2"):
            await apply(
                reactions.on_po_number_set,
                env(PoNumberSetV1(assignment_id=aid, contractor_id="cn_" + aid, po_number="PO-L"), version=2),
            )
        await apply(reactions.on_assignment_state, env(created("an_1", batch="ib_1"), version=1))
        assert issuer.wake_event.is_set()  # woken after the consumer's commit

        result = await issuer.run_once()
        assert (result.invoices, result.lines) == (1, 2)
        assert (await issuer.run_once()).invoices == 0

        await apply(
            reactions.on_assignment_cancelled,
            env(
                AssignmentCancelledV1(assignment_id="an_2", contractor_id="cn_an_2", reason="no show", cancelled_at=T0), version=3
            ),
        )
        assert (await issuer.run_once()).credits == 1

        clock.freeze(T0 + timedelta(days=3, seconds=1))
        assert await PoReminders(db, settings).job(clock.now()) == 1
        assert await PoReminders(db, settings).job(clock.now()) == 0

        async with db.session() as s:
            [(total, credited, lines)] = (
                await s.execute(select(invoices.c.total_cents, invoices.c.credited_cents, invoices.c.line_count))
            ).all()
            assert (total, credited, lines) == (1_600, 800, 2)  # 2 x $1,000 at 80
            assert (await s.execute(select(func.count()).select_from(invoice_lines))).scalar_one() == 2
    finally:
        await db.dispose()
