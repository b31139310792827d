"""The invoice issuer: a clock-driven job that turns billable assignments into invoice lines,
invoices (one per PO per billing period, supplementary ones after that) and credits.

Consumers only keep the local copy and flag changed rows (``needs_billing``). The issuer is the
single writer of lines, invoices and credits: each run, in one transaction,

1. takes a PostgreSQL advisory lock (one issuer at a time across processes; the others skip),
2. reads the flagged rows and the lines already charged for them (bulk queries),
3. plans each row (`billing.domain.invoicing.plan_billing`),
4. groups new charges by (company, PO) and issues a group once it has been quiet for the settle
   window and billing's consumers hold nothing they have not applied (or once it has waited
   ``max_wait_s``); a group that is not due yet stays flagged,
5. applies credits, inserts invoices and lines in bulk, renders one PDF per invoice, emits
   ``InvoiceIssuedV1`` / ``InvoiceCreditedV1`` through the outbox (each group in a savepoint: a
   group that fails is logged and retried next run without holding up the others),
6. clears the flags of the rows it planned, unless the row changed meanwhile (``revision``).

It runs in the worker as a background loop (every ``poll_interval_s``, and at once after a
consumer commit that touched a billable row), and as the scheduled job ``issue_invoices``
(``POST /_ops/tick``).

Quiet is not enough. Billing's consumers apply each subject on its own, in batches, and lag behind
on a busy machine: a PO's lines published together may be applied more than the settle window
apart, and the lines applied first would be invoiced without the others (which would then go on a
supplementary invoice). So before issuing a quiet group the issuer asks ``inputs_applied`` (JetStream:
nothing pending or unacknowledged for billing's consumers; acks follow commits) and, after a yes,
plans the flagged rows again in the same transaction (it keeps the lock; PostgreSQL's read committed
shows each statement what was committed before it): every message published before the answer is
then in what it reads. A line published after that came later than the settle window and goes on a
supplementary invoice, as designed. ``max_wait_s`` still bounds the wait when the consumers are never
idle.
"""

from __future__ import annotations

import asyncio
import zlib
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import Row, event, func, select, true, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from ten99_contracts.billing_v1 import InvoiceCreditedV1, InvoiceIssuedV1, InvoiceLine
from ten99kit import Database, UnitOfWork, get_logger, new_id

from ..adapters.db import assignments, invoice_credits, invoice_lines, invoices
from ..domain.document import InvoiceDocument, InvoicePdfLine
from ..domain.invoicing import (
    AssignmentBilling,
    CreditDecision,
    ExistingLine,
    NewCharge,
    billing_period,
    due_date,
    group_is_due,
    group_waited_longest,
    invoice_number,
    line_description,
    plan_billing,
    premium_payer_for,
    recipients,
)
from ..domain.premium import line_amounts
from ..settings import BillingSettings
from .settings import CompanyBilling, load_company_billing

__all__ = ["InputsApplied", "InvoiceIssuer", "RunResult"]

log = get_logger(__name__)

A = assignments.c
ISSUER_LOCK_KEY = zlib.crc32(b"ten99-billing-invoice-issuer")
#: flagged rows planned per run (a run that reads this many runs again at once)
MAX_ROWS_PER_RUN = 10_000
#: an InvoiceIssuedV1 stays under this many bytes of lines (NATS refuses messages over 1 MB)
MESSAGE_LINES_BUDGET = 600_000
#: seconds between two questions to the consumers while quiet groups wait for them to catch up
HELD_RECHECK_S = 0.1
_encoder = msgspec.json.Encoder()

#: True when billing's consumers have applied every message published to them so far
InputsApplied = Callable[[], Awaitable[bool]]


@dataclass
class RunResult:
    invoices: int = 0
    lines: int = 0
    credits: int = 0
    deferred: int = 0
    next_due: datetime | None = None
    more: bool = False
    skipped: bool = False
    #: quiet groups held back until billing's consumers have applied what was published to them
    held: int = 0

    def plus(self, then: RunResult) -> RunResult:
        """This pass followed by ``then``, a second pass over what this one left flagged."""
        return RunResult(
            invoices=self.invoices + then.invoices,
            lines=self.lines + then.lines,
            credits=self.credits + then.credits,
            deferred=then.deferred,
            next_due=then.next_due,
            more=then.more,
            held=then.held,
        )


@dataclass(frozen=True)
class _Item:
    row: Any
    a: AssignmentBilling
    charge: NewCharge


def _billing_row(row: Any) -> AssignmentBilling:
    return AssignmentBilling(
        tenant_id=row.tenant_id,
        assignment_id=row.assignment_id,
        snapshot_known=row.snapshot_known,
        cancelled=row.cancelled,
        cancel_reason=row.cancel_reason,
        contractor_id=row.contractor_id,
        contractor_name=row.contractor_name,
        job_name=row.job_name,
        entity_name=row.entity_name,
        wage_cents=row.wage_cents,
        wage_type=row.wage_type,
        withhold_premium=row.withhold_premium,
        po_number=row.po_number,
        po_contact_email=row.po_contact_email,
        coverage_id=row.coverage_id,
        coverage_effective_date=row.coverage_effective_date,
        coverage_end_date=row.coverage_end_date,
        net_rate=row.net_rate,
        coverage_cancelled=row.coverage_cancelled,
        coverage_cancel_reason=row.coverage_cancel_reason,
    )


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class InvoiceIssuer:
    def __init__(
        self,
        db: Database,
        settings: BillingSettings,
        render: Callable[[InvoiceDocument], bytes],
        inputs_applied: InputsApplied | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        #: the invoice PDF renderer (bootstrap hands in `billing.adapters.pdf.render_invoice_pdf`)
        self.render = render
        #: None: whoever runs the issuer has applied the messages itself (embedded, SQLite)
        self.inputs_applied = inputs_applied
        self.invoicing = settings.invoicing
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        #: (company, PO) -> (failures in a row, retry not before): a failing group backs off
        self._failing: dict[tuple[str, str], tuple[int, datetime]] = {}

    # -- triggering ------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def wake_after_commit(self, uow: UnitOfWork) -> None:
        """Run the issuer right after ``uow`` commits (consumers call this)."""
        session = uow.session.sync_session
        if session.info.get("billing_wake_issuer"):
            return
        session.info["billing_wake_issuer"] = True
        event.listen(session, "after_commit", lambda _s: self._wake.set(), once=True)

    async def run(self, stop: asyncio.Event) -> None:
        """The worker's loop."""
        poll = self.invoicing.poll_interval_s
        while not stop.is_set():
            self._wake.clear()
            delay = poll
            try:
                result = await self.run_once()
                if result.more:
                    delay = 0.0
                elif result.held:
                    delay = min(poll, HELD_RECHECK_S)  # consumer commits also wake the loop
                elif result.next_due is not None:
                    delay = min(poll, max(0.01, (result.next_due - self.db.clock.now()).total_seconds()))
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.exception("billing.issuer_failed", error=repr(e))
                delay = 2.0
            if delay > 0:
                await _wait(stop, self._wake, delay)

    async def job(self, now: datetime) -> int:
        """The scheduled job (``POST /_ops/tick``): invoices and credits made."""
        result = await self.run_once()
        return result.invoices + result.credits

    # -- one run ---------------------------------------------------------------------------

    async def run_once(self) -> RunResult:
        async with self._lock:
            now = self.db.clock.now()
            async with self.db.uow() as uow:
                if self.db.is_postgres:
                    got = (await uow.session.execute(select(func.pg_try_advisory_xact_lock(ISSUER_LOCK_KEY)))).scalar()
                    if not got:
                        return RunResult(skipped=True)
                result = await self._run(uow, now, inputs_applied=self.inputs_applied is None)
                if result.held and await self._inputs_applied():
                    # asked after that read: the next one sees what the consumers applied before answering
                    result = result.plus(await self._run(uow, now, inputs_applied=True))
                await uow.commit()
        if result.invoices or result.credits:
            log.info(
                "billing.issued",
                invoices=result.invoices,
                lines=result.lines,
                credits=result.credits,
                deferred=result.deferred,
            )
        return result

    async def _inputs_applied(self) -> bool:
        if self.inputs_applied is None:
            return True
        try:
            return await self.inputs_applied()
        except Exception as e:  # NATS unreachable: the groups wait (at most max_wait_s)
            log.warning("billing.inputs_unknown", error=repr(e))
            return False

    async def _run(self, uow: UnitOfWork, now: datetime, inputs_applied: bool) -> RunResult:
        session = uow.session
        rows = (
            await session.execute(
                select(assignments)
                .where(A.needs_billing == true())
                .order_by(A.tenant_id, A.assignment_id)
                .limit(MAX_ROWS_PER_RUN + 1)
            )
        ).all()
        truncated = len(rows) > MAX_ROWS_PER_RUN
        result = RunResult()
        rows = rows[:MAX_ROWS_PER_RUN]
        if not rows:
            return result
        existing = await _existing_lines(session, rows)
        companies = await load_company_billing(session, {r.tenant_id for r in rows}, self.settings.defaults)

        groups: dict[tuple[str, str], list[_Item]] = defaultdict(list)
        credits: list[tuple[Any, AssignmentBilling, CreditDecision]] = []
        for row in rows:
            a = _billing_row(row)
            plan = plan_billing(a, existing.get((row.tenant_id, row.assignment_id), []))
            for charge in plan.charges:
                assert a.po_number is not None
                groups[(a.tenant_id, a.po_number)].append(_Item(row, a, charge))
            credits.extend((row, a, c) for c in plan.credits)

        due_groups, deferred = self._due_groups(groups, now, inputs_applied, result)
        result.deferred = len(deferred)

        # a row's credits and charges go together (a re-timing credits and charges at once)
        credits = [c for c in credits if (c[0].tenant_id, c[0].assignment_id) not in deferred]
        # one bad group must not stop billing for everyone: each part runs in a savepoint, and
        # the rows of a part that failed keep their flag (retried next run, and logged)
        failed: set[tuple[str, str]] = set()
        if credits:
            try:
                async with uow.savepoint():
                    result.credits = await self._apply_credits(uow, credits, now)
            except Exception as e:
                log.exception("billing.credits_failed", error=repr(e), rows=len(credits))
                failed.update((row.tenant_id, row.assignment_id) for row, _, _ in credits)
        for tenant, po, items in due_groups:
            items = [i for i in items if (i.row.tenant_id, i.row.assignment_id) not in failed]
            if not items:
                continue
            try:
                async with uow.savepoint():
                    made, lines = await self._issue_group(uow, tenant, po, items, companies[tenant], now)
            except Exception as e:
                failures = self._failing.get((tenant, po), (0, now))[0] + 1
                retry_in = min(300.0, 2.0**failures)
                self._failing[(tenant, po)] = (failures, now + timedelta(seconds=retry_in))
                log.exception(
                    "billing.invoice_failed",
                    tenant_id=tenant,
                    po_number=po,
                    error=repr(e),
                    failures=failures,
                    retry_in_s=retry_in,
                )
                failed.update((i.row.tenant_id, i.row.assignment_id) for i in items)
                continue
            self._failing.pop((tenant, po), None)
            result.invoices += made
            result.lines += lines
        skip = deferred | failed

        planned = [(r.tenant_id, r.assignment_id, r.revision) for r in rows if (r.tenant_id, r.assignment_id) not in skip]
        # run again at once only if this run made progress (all-deferred rows wait for next_due)
        result.more = truncated and bool(planned)
        for chunk in _chunks(planned, 1000):
            # A row changed since it was read keeps its flag (revision), so the next run plans it
            # again. Rows a consumer holds locked right now are skipped, not waited for: they are
            # changing anyway, and waiting on consumers (who wait on us) could deadlock.
            unlocked = (
                select(A.tenant_id, A.assignment_id)
                .where(tuple_(A.tenant_id, A.assignment_id, A.revision).in_(list(chunk)))
                .with_for_update(skip_locked=True)
            )
            await session.execute(
                update(assignments).where(tuple_(A.tenant_id, A.assignment_id).in_(unlocked)).values(needs_billing=False)
            )
        return result

    def _due_groups(
        self, groups: dict[tuple[str, str], list[_Item]], now: datetime, inputs_applied: bool, result: RunResult
    ) -> tuple[list[tuple[str, str, list[_Item]]], set[tuple[str, str]]]:
        """The groups to issue now, and the rows of the others (they stay flagged). Sets
        ``result.next_due`` and ``result.held``."""
        deferred: set[tuple[str, str]] = set()
        due_groups: list[tuple[str, str, list[_Item]]] = []
        for (tenant, po), items in groups.items():
            changed = [i.row.changed_at for i in items]
            due = group_is_due(changed, now, self.invoicing.settle_s, self.invoicing.max_wait_s)
            backoff = self._failing.get((tenant, po))
            if due is None and backoff is not None and backoff[1] > now:
                due = backoff[1]  # it failed lately: retry later, not on every run
            if due is None and not inputs_applied and not group_waited_longest(changed, now, self.invoicing.max_wait_s):
                result.held += 1  # quiet, but more of its lines may be waiting in billing's inbox
                deferred.update((i.row.tenant_id, i.row.assignment_id) for i in items)
            elif due is None:
                due_groups.append((tenant, po, items))
            else:
                deferred.update((i.row.tenant_id, i.row.assignment_id) for i in items)
                result.next_due = due if result.next_due is None else min(result.next_due, due)
        return due_groups, deferred

    # -- credits ---------------------------------------------------------------------------

    async def _apply_credits(
        self, uow: UnitOfWork, credits: list[tuple[Any, AssignmentBilling, CreditDecision]], now: datetime
    ) -> int:
        if not credits:
            return 0
        session = uow.session
        rows: list[dict[str, Any]] = [
            {
                "id": new_id("cr"),
                "tenant_id": a.tenant_id,
                "invoice_seq": c.line.invoice_seq,
                "line_id": c.line.line_id,
                "assignment_id": a.assignment_id,
                "amount_cents": c.line.amount_cents,
                "reason": c.reason,
                "created_at": now,
            }
            for _, a, c in credits
        ]
        await session.execute(invoice_credits.insert(), rows)
        for chunk in _chunks([c.line.line_id for _, _, c in credits], 1000):
            await session.execute(update(invoice_lines).where(invoice_lines.c.id.in_(list(chunk))).values(credited=True))
        per_invoice: dict[int, int] = defaultdict(int)
        for _, _, c in credits:
            per_invoice[c.line.invoice_seq] += c.line.amount_cents
        versions: dict[int, int] = {}
        for seq, amount in per_invoice.items():
            versions[seq] = (
                await session.execute(
                    update(invoices)
                    .where(invoices.c.seq == seq)
                    .values(credited_cents=invoices.c.credited_cents + amount, version=invoices.c.version + 1)
                    .returning(invoices.c.version)
                )
            ).scalar_one()
        for credit, (_, a, c) in zip(rows, credits, strict=True):
            uow.emit(
                InvoiceCreditedV1(
                    credit_id=str(credit["id"]),
                    invoice_id=c.line.invoice_id,
                    invoice_number=c.line.invoice_number,
                    assignment_id=a.assignment_id,
                    amount_cents=c.line.amount_cents,
                    reason=c.reason,
                ),
                tenant_id=a.tenant_id,
                aggregate_id=c.line.invoice_id,
                aggregate_version=versions[c.line.invoice_seq],
            )
        return len(credits)

    # -- invoices --------------------------------------------------------------------------

    async def _issue_group(
        self, uow: UnitOfWork, tenant: str, po: str, items: list[_Item], company: CompanyBilling, now: datetime
    ) -> tuple[int, int]:
        session = uow.session
        period = billing_period(now)
        first = (
            await session.execute(
                select(invoices.c.id, invoices.c.number)
                .where(
                    invoices.c.tenant_id == tenant,
                    invoices.c.po_number == po,
                    invoices.c.period == period,
                    invoices.c.status != "void",
                )
                .order_by(invoices.c.seq)
                .limit(1)
            )
        ).first()
        issued_before = (
            await session.execute(
                select(func.count()).select_from(invoices).where(invoices.c.tenant_id == tenant, invoices.c.period == period)
            )
        ).scalar_one()
        settings = company.settings
        items = sorted(items, key=lambda i: (i.a.contractor_name.lower(), i.a.assignment_id, i.charge.charge_seq))

        priced: list[tuple[_Item, dict[str, Any], InvoiceLine]] = []
        for item in items:
            a, charge = item.a, item.charge
            payer = premium_payer_for(a, settings.premium_payer)
            amounts = line_amounts(
                charge.pay_cents, a.net_rate, settings.platform_fee_bps, company_pays_premium=payer == "company"
            )
            description = line_description(a, charge, payer)
            row = {
                "tenant_id": tenant,
                "assignment_id": a.assignment_id,
                "charge_seq": charge.charge_seq,
                "kind": charge.kind,
                "contractor_id": a.contractor_id,
                "contractor_name": a.contractor_name,
                "description": description[:1000],
                "wage_cents": a.wage_cents,
                "wage_type": a.wage_type,
                "span_start": charge.span_start,
                "span_end": charge.span_end,
                "pay_cents": amounts.pay_cents,
                "net_rate": a.net_rate,
                "premium_payer": payer,
                "premium_full_cents": amounts.premium_full_cents,
                "premium_cents": amounts.premium_cents,
                "platform_fee_bps": settings.platform_fee_bps,
                "platform_fee_cents": amounts.platform_fee_cents,
                "amount_cents": amounts.amount_cents,
                "credited": False,
            }
            message_line = InvoiceLine(
                assignment_id=a.assignment_id,
                contractor_name=a.contractor_name,
                description=description,
                pay_cents=amounts.pay_cents,
                net_rate=a.net_rate,
                premium_cents=amounts.premium_cents,
                platform_fee_cents=amounts.platform_fee_cents,
                amount_cents=amounts.amount_cents,
            )
            priced.append((item, row, message_line))

        chunks = _split_for_messages(priced, self.invoicing.max_lines)
        supplements_id = first.id if first else None
        supplements_number = first.number if first else None
        for n, chunk in enumerate(chunks):
            invoice_id = new_id("in")
            number = invoice_number(period, issued_before + n + 1)
            to_email, cc_emails = recipients((i.a.po_contact_email for i, _, _ in chunk), settings.effective_billing_email)
            lines = [m for _, _, m in chunk]
            totals = {
                "pay_cents": sum(r["pay_cents"] for _, r, _ in chunk),
                "premium_cents": sum(r["premium_cents"] for _, r, _ in chunk),
                "platform_fee_cents": sum(r["platform_fee_cents"] for _, r, _ in chunk),
                "total_cents": sum(r["amount_cents"] for _, r, _ in chunk),
            }
            due = due_date(now, self.invoicing.due_days)
            filename = f"ten99_invoice_{number}.pdf"
            document = InvoiceDocument(
                issuer_name=self.invoicing.issuer_name,
                company_name=company.company_name or tenant,
                number=number,
                period=period,
                po_number=po,
                issued_at=now,
                due_date=due,
                to_email=to_email,
                cc_emails=cc_emails,
                premium_payer=settings.premium_payer,
                platform_fee_bps=settings.platform_fee_bps,
                lines=[
                    InvoicePdfLine(
                        contractor_name=m.contractor_name,
                        description=m.description,
                        pay_cents=m.pay_cents,
                        net_rate=m.net_rate,
                        premium_cents=m.premium_cents,
                        platform_fee_cents=m.platform_fee_cents,
                        amount_cents=m.amount_cents,
                    )
                    for m in lines
                ],
                supplements_number=supplements_number,
                part=(n + 1, len(chunks)) if len(chunks) > 1 else None,
                **totals,
            )
            pdf = await asyncio.to_thread(self.render, document)
            seq = (
                await session.execute(
                    invoices.insert()
                    .values(
                        id=invoice_id,
                        tenant_id=tenant,
                        number=number,
                        period=period,
                        po_number=po,
                        supplements_id=supplements_id,
                        to_email=to_email,
                        cc_emails=cc_emails,
                        status="open",
                        currency="usd",
                        issued_at=now,
                        due_date=due,
                        premium_payer=settings.premium_payer,
                        platform_fee_bps=settings.platform_fee_bps,
                        line_count=len(chunk),
                        credited_cents=0,
                        version=1,
                        filename=filename,
                        pdf=pdf,
                        **totals,
                    )
                    .returning(invoices.c.seq)
                )
            ).scalar_one()
            await session.execute(invoice_lines.insert(), [{**r, "invoice_seq": seq} for _, r, _ in chunk])
            uow.emit(
                InvoiceIssuedV1(
                    invoice_id=invoice_id,
                    invoice_number=number,
                    po_number=po,
                    period=period,
                    to_email=to_email,
                    cc_emails=cc_emails,
                    issued_at=now,
                    due_date=due,
                    premium_cents=totals["premium_cents"],
                    platform_fee_cents=totals["platform_fee_cents"],
                    total_cents=totals["total_cents"],
                    lines=lines,
                    filename=filename,
                    pdf=pdf,
                ),
                tenant_id=tenant,
                aggregate_id=invoice_id,
                aggregate_version=1,
            )
            if supplements_id is None:  # the rest of a split group supplements its first part
                supplements_id, supplements_number = invoice_id, number
        return len(chunks), len(priced)


def _split_for_messages(priced: list[Any], max_lines: int) -> list[list[Any]]:
    """Invoices of at most ``max_lines`` lines whose message stays within the byte budget."""
    chunks: list[list[Any]] = [[]]
    size = 0
    for entry in priced:
        line_size = len(_encoder.encode(entry[2])) + 80  # the line in JSON, and its share of the PDF
        if chunks[-1] and (len(chunks[-1]) >= max_lines or size + line_size > MESSAGE_LINES_BUDGET):
            chunks.append([])
            size = 0
        chunks[-1].append(entry)
        size += line_size
    return chunks


async def _existing_lines(session: AsyncSession, rows: Sequence[Row[Any]]) -> dict[tuple[str, str], list[ExistingLine]]:
    """Lines already charged for the given assignments, with their invoice's status."""
    by_tenant: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        by_tenant[r.tenant_id].append(r.assignment_id)
    L = invoice_lines.c
    out: dict[tuple[str, str], list[ExistingLine]] = defaultdict(list)
    for tenant, ids in by_tenant.items():
        for chunk in _chunks(ids, 2000):
            result = await session.execute(
                select(
                    L.id,
                    L.assignment_id,
                    L.charge_seq,
                    L.kind,
                    L.span_start,
                    L.span_end,
                    L.amount_cents,
                    L.credited,
                    L.invoice_seq,
                    invoices.c.status,
                    invoices.c.id.label("invoice_id"),
                    invoices.c.number,
                )
                .join(invoices, invoices.c.seq == L.invoice_seq)
                .where(L.tenant_id == tenant, L.assignment_id.in_(list(chunk)))
            )
            for line in result:
                out[(tenant, line.assignment_id)].append(
                    ExistingLine(
                        line_id=line.id,
                        charge_seq=line.charge_seq,
                        kind=line.kind,
                        span_start=line.span_start,
                        span_end=line.span_end,
                        amount_cents=line.amount_cents,
                        credited=line.credited,
                        invoice_void=line.status == "void",
                        invoice_seq=line.invoice_seq,
                        invoice_id=line.invoice_id,
                        invoice_number=line.number,
                    )
                )
    return out


async def _wait(stop: asyncio.Event, wake: asyncio.Event, timeout: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
