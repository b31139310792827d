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

The worker runs it on the kit's ``PollingWorker`` (bootstrap declares it: `InvoiceIssuer.step`
every ``poll_interval_s``, and at once after a consumer commit that touched a billable row), and
as the scheduled job ``issue_invoices`` (``POST /_ops/tick``).

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
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime, timedelta
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
    chunked,
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

ISSUER_LOCK_KEY = zlib.crc32(b"ten99-billing-invoice-issuer")
#: flagged rows planned per run (a run that reads this many runs again at once)
MAX_ROWS_PER_RUN = 10_000
#: an InvoiceIssuedV1 stays under this many bytes of lines (NATS refuses messages over 1 MB)
MESSAGE_LINES_BUDGET = 600_000
#: seconds between two questions to the consumers while quiet groups wait for them to catch up
HELD_RECHECK_S = 0.1
#: a failing group is retried after 2 s, 4 s, ... up to this
GROUP_RETRY_CAP_S = 300.0
_encoder = msgspec.json.Encoder()

#: True when billing's consumers have applied every message published to them so far
InputsApplied = Callable[[], Awaitable[bool]]
#: (tenant, assignment): one row of billing's local copy
RowKey = tuple[str, str]
#: (tenant, PO number): one group of charges, one invoice (or a few when it is large)
GroupKey = tuple[str, str]


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
class _Planned:
    """Something planned for a flagged row of billing's local copy."""

    assignment: AssignmentBilling

    @property
    def key(self) -> RowKey:
        return (self.assignment.tenant_id, self.assignment.assignment_id)


@dataclass(frozen=True)
class _Charge(_Planned):
    charge: NewCharge
    #: when the row last changed (a group is due once quiet for the settle window)
    changed_at: datetime


@dataclass(frozen=True)
class _Credit(_Planned):
    decision: CreditDecision


@dataclass(frozen=True)
class _Group:
    tenant: str
    po: str
    charges: list[_Charge]


@dataclass(frozen=True)
class _Plan:
    """What one pass read and decided: the flagged rows, their charges by group, their credits."""

    rows: Sequence[Row[Any]]
    truncated: bool
    groups: dict[GroupKey, list[_Charge]]
    credits: list[_Credit]
    companies: dict[str, CompanyBilling]


@dataclass(frozen=True)
class _PricedLine:
    """A charge priced: its ``invoice_lines`` row (but the invoice) and its line in the message."""

    values: dict[str, Any]
    message: InvoiceLine
    po_contact_email: str | None = None


@dataclass(frozen=True)
class _Totals:
    pay_cents: int
    premium_cents: int
    platform_fee_cents: int
    total_cents: int

    @classmethod
    def of(cls, lines: Sequence[_PricedLine]) -> _Totals:
        return cls(
            pay_cents=sum(line.message.pay_cents for line in lines),
            premium_cents=sum(line.message.premium_cents for line in lines),
            platform_fee_cents=sum(line.message.platform_fee_cents for line in lines),
            total_cents=sum(line.message.amount_cents for line in lines),
        )


@dataclass(frozen=True)
class _InvoiceHeader:
    """What every part of a group's invoice shares."""

    tenant: str
    po: str
    period: str
    issued_at: datetime
    due: date
    company: CompanyBilling


_BILLING_FIELDS = tuple(f.name for f in fields(AssignmentBilling))
_EXISTING_FIELDS = tuple(f.name for f in fields(ExistingLine))


def _billing_row(row: Row[Any]) -> AssignmentBilling:
    """The domain's view of a row of billing's local copy (the columns of the same names)."""
    mapping = row._mapping
    return AssignmentBilling(**{name: mapping[name] for name in _BILLING_FIELDS})


def _row_key(row: Row[Any]) -> RowKey:
    return (row.tenant_id, row.assignment_id)


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
        #: the worker's wake-up (bootstrap gives it to the `PollingWorker` that runs `step`)
        self.wake_event = asyncio.Event()
        self._lock = asyncio.Lock()
        #: (company, PO) -> (failures in a row, retry not before): a failing group backs off
        self._failing: dict[GroupKey, tuple[int, datetime]] = {}

    # -- triggering ------------------------------------------------------------------------

    def wake(self) -> None:
        self.wake_event.set()

    def wake_after_commit(self, uow: UnitOfWork) -> None:
        """Run the issuer right after ``uow`` commits (consumers call this)."""
        session = uow.session.sync_session
        if session.info.get("billing_wake_issuer"):
            return
        session.info["billing_wake_issuer"] = True
        event.listen(session, "after_commit", lambda _s: self.wake_event.set(), once=True)

    async def step(self) -> float | None:
        """One run of the worker; returns the seconds until the next one at the latest (None:
        the poll interval)."""
        result = await self.run_once()
        if result.more:
            return 0.0
        if result.held:
            return HELD_RECHECK_S  # consumer commits also wake the worker
        if result.next_due is not None:
            return max(0.01, (result.next_due - self.db.clock.now()).total_seconds())
        return None

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
        """One pass: plan the flagged rows, issue the groups that are due, clear the flags of
        what was done. One bad group must not stop billing for everyone: credits and each group
        run in a savepoint, and the rows of a part that failed keep their flag (retried next
        run, and logged)."""
        result = RunResult()
        plan = await self._plan_flagged(uow.session)
        if plan is None:
            return result
        due_groups, deferred = self._due_groups(plan.groups, now, inputs_applied, result)
        result.deferred = len(deferred)
        # a row's credits and charges go together (a re-timing credits and charges at once)
        credits = [credit for credit in plan.credits if credit.key not in deferred]
        failed = await self._apply_credits_safely(uow, credits, now, result)
        for group in due_groups:
            charges = [charge for charge in group.charges if charge.key not in failed]
            if charges:
                failed |= await self._issue_group_safely(uow, _Group(group.tenant, group.po, charges), plan, now, result)
        skip = deferred | failed
        done = [(row.tenant_id, row.assignment_id, row.revision) for row in plan.rows if _row_key(row) not in skip]
        # run again at once only if this run made progress (all-deferred rows wait for next_due)
        result.more = plan.truncated and bool(done)
        await _clear_flags(uow.session, done)
        return result

    async def _plan_flagged(self, session: AsyncSession) -> _Plan | None:
        """Read the flagged rows (at most ``MAX_ROWS_PER_RUN``) and plan each against what was
        already charged for it; None when nothing is flagged."""
        columns = assignments.c
        rows = (
            await session.execute(
                select(assignments)
                .where(columns.needs_billing == true())
                .order_by(columns.tenant_id, columns.assignment_id)
                .limit(MAX_ROWS_PER_RUN + 1)
            )
        ).all()
        truncated = len(rows) > MAX_ROWS_PER_RUN
        rows = rows[:MAX_ROWS_PER_RUN]
        if not rows:
            return None
        existing = await _existing_lines(session, rows)
        companies = await load_company_billing(session, {row.tenant_id for row in rows}, self.settings.defaults)
        groups: dict[GroupKey, list[_Charge]] = defaultdict(list)
        credits: list[_Credit] = []
        for row in rows:
            billing = _billing_row(row)
            plan = plan_billing(billing, existing.get(_row_key(row), []))
            for charge in plan.charges:
                assert billing.po_number is not None
                groups[(billing.tenant_id, billing.po_number)].append(_Charge(billing, charge, row.changed_at))
            credits.extend(_Credit(billing, decision) for decision in plan.credits)
        return _Plan(rows, truncated, groups, credits, companies)

    def _due_groups(
        self, groups: dict[GroupKey, list[_Charge]], now: datetime, inputs_applied: bool, result: RunResult
    ) -> tuple[list[_Group], set[RowKey]]:
        """The groups to issue now, and the rows of the others (they stay flagged). Sets
        ``result.next_due`` and ``result.held``."""
        deferred: set[RowKey] = set()
        due_groups: list[_Group] = []
        for (tenant, po), charges in groups.items():
            changed = [charge.changed_at for charge in charges]
            due = group_is_due(changed, now, self.invoicing.settle_s, self.invoicing.max_wait_s)
            backoff = self._failing.get((tenant, po))
            if due is None and backoff is not None and backoff[1] > now:
                due = backoff[1]  # it failed lately: retry later, not on every run
            if due is None and not inputs_applied and not group_waited_longest(changed, now, self.invoicing.max_wait_s):
                result.held += 1  # quiet, but more of its lines may be waiting in billing's inbox
                deferred.update(charge.key for charge in charges)
            elif due is None:
                due_groups.append(_Group(tenant, po, charges))
            else:
                deferred.update(charge.key for charge in charges)
                result.next_due = due if result.next_due is None else min(result.next_due, due)
        return due_groups, deferred

    async def _apply_credits_safely(
        self, uow: UnitOfWork, credits: list[_Credit], now: datetime, result: RunResult
    ) -> set[RowKey]:
        """Apply the credits in a savepoint; returns the rows they failed for."""
        if not credits:
            return set()
        try:
            async with uow.savepoint():
                result.credits = await _apply_credits(uow, credits, now)
        except Exception as e:
            log.exception("billing.credits_failed", error=repr(e), rows=len(credits))
            return {credit.key for credit in credits}
        return set()

    async def _issue_group_safely(
        self, uow: UnitOfWork, group: _Group, plan: _Plan, now: datetime, result: RunResult
    ) -> set[RowKey]:
        """Issue the group in a savepoint; returns its rows if it failed (then it backs off:
        2 s, 4 s, ... up to ``GROUP_RETRY_CAP_S``)."""
        key = (group.tenant, group.po)
        try:
            async with uow.savepoint():
                made, lines = await self._issue_group(uow, group, plan.companies[group.tenant], now)
        except Exception as e:
            failures = self._failing.get(key, (0, now))[0] + 1
            retry_in = min(GROUP_RETRY_CAP_S, 2.0**failures)
            self._failing[key] = (failures, now + timedelta(seconds=retry_in))
            log.exception(
                "billing.invoice_failed",
                tenant_id=group.tenant,
                po_number=group.po,
                error=repr(e),
                failures=failures,
                retry_in_s=retry_in,
            )
            return {charge.key for charge in group.charges}
        self._failing.pop(key, None)
        result.invoices += made
        result.lines += lines
        return set()

    # -- invoices --------------------------------------------------------------------------

    async def _issue_group(self, uow: UnitOfWork, group: _Group, company: CompanyBilling, now: datetime) -> tuple[int, int]:
        """One invoice for the group's charges (several when it is larger than an invoice may
        be: the rest supplement the first); returns (invoices, lines)."""
        period = billing_period(now)
        supplements, issued_before = await _period_so_far(uow.session, group.tenant, group.po, period)
        header = _InvoiceHeader(group.tenant, group.po, period, now, due_date(now, self.invoicing.due_days), company)
        charges = sorted(
            group.charges,
            key=lambda c: (c.assignment.contractor_name.lower(), c.assignment.assignment_id, c.charge.charge_seq),
        )
        priced = [_price(charge, company) for charge in charges]
        parts = _split_for_messages(priced, self.invoicing.max_lines)
        for n, part in enumerate(parts):
            number = invoice_number(period, issued_before + n + 1)
            invoice_id = await self._issue_invoice(uow, header, number, part, supplements, (n + 1, len(parts)))
            supplements = supplements or (invoice_id, number)  # the rest of a split group supplements its first part
        return len(parts), len(priced)

    async def _issue_invoice(
        self,
        uow: UnitOfWork,
        header: _InvoiceHeader,
        number: str,
        lines: list[_PricedLine],
        supplements: tuple[str, str] | None,
        part: tuple[int, int],
    ) -> str:
        """Render, store and emit one invoice; returns its id."""
        invoice = _Invoice(
            id=new_id("in"),
            number=number,
            header=header,
            lines=lines,
            recipients=recipients((line.po_contact_email for line in lines), header.company.settings.effective_billing_email),
            totals=_Totals.of(lines),
            supplements=supplements,
        )
        document = invoice.document(self.invoicing.issuer_name, part if part[1] > 1 else None)
        pdf = await asyncio.to_thread(self.render, document)
        await _store_invoice(uow.session, invoice, pdf)
        uow.emit(invoice.issued(pdf), tenant_id=header.tenant, aggregate_id=invoice.id, aggregate_version=1)
        return invoice.id


@dataclass(frozen=True)
class _Invoice:
    """One invoice being issued: what the PDF, the row and the message are made of."""

    id: str
    number: str
    header: _InvoiceHeader
    lines: list[_PricedLine]
    #: (to, cc)
    recipients: tuple[str, list[str]]
    totals: _Totals
    #: the first invoice of the PO and period (id, number), if this one supplements it
    supplements: tuple[str, str] | None

    @property
    def filename(self) -> str:
        return f"ten99_invoice_{self.number}.pdf"

    def _addressed(self) -> dict[str, Any]:
        """What the PDF and the message both say, under the same names: PO, period, dates, recipients."""
        header = self.header
        return {
            "po_number": header.po,
            "period": header.period,
            "issued_at": header.issued_at,
            "due_date": header.due,
            "to_email": self.recipients[0],
            "cc_emails": self.recipients[1],
        }

    def document(self, issuer_name: str, part: tuple[int, int] | None) -> InvoiceDocument:
        header, settings = self.header, self.header.company.settings
        return InvoiceDocument(
            issuer_name=issuer_name,
            company_name=header.company.company_name or header.tenant,
            number=self.number,
            premium_payer=settings.premium_payer,
            platform_fee_bps=settings.platform_fee_bps,
            lines=[_pdf_line(line.message) for line in self.lines],
            supplements_number=self.supplements[1] if self.supplements else None,
            part=part,
            **asdict(self.totals),
            **self._addressed(),
        )

    def issued(self, pdf: bytes) -> InvoiceIssuedV1:
        return InvoiceIssuedV1(
            invoice_id=self.id,
            invoice_number=self.number,
            premium_cents=self.totals.premium_cents,
            platform_fee_cents=self.totals.platform_fee_cents,
            total_cents=self.totals.total_cents,
            lines=[line.message for line in self.lines],
            filename=self.filename,
            pdf=pdf,
            **self._addressed(),
        )


async def _store_invoice(session: AsyncSession, invoice: _Invoice, pdf: bytes) -> None:
    """The invoice's row (status ``open``, version 1) and its lines."""
    header, settings = invoice.header, invoice.header.company.settings
    seq = (
        await session.execute(
            invoices.insert()
            .values(
                id=invoice.id,
                tenant_id=header.tenant,
                number=invoice.number,
                period=header.period,
                po_number=header.po,
                supplements_id=invoice.supplements[0] if invoice.supplements else None,
                to_email=invoice.recipients[0],
                cc_emails=invoice.recipients[1],
                status="open",
                currency="usd",
                issued_at=header.issued_at,
                due_date=header.due,
                premium_payer=settings.premium_payer,
                platform_fee_bps=settings.platform_fee_bps,
                line_count=len(invoice.lines),
                credited_cents=0,
                version=1,
                filename=invoice.filename,
                pdf=pdf,
                **asdict(invoice.totals),
            )
            .returning(invoices.c.seq)
        )
    ).scalar_one()
    await session.execute(invoice_lines.insert(), [{**line.values, "invoice_seq": seq} for line in invoice.lines])


def _price(item: _Charge, company: CompanyBilling) -> _PricedLine:
    """The charge's amounts under the company's settings, as a stored line and a message line."""
    billing, charge, settings = item.assignment, item.charge, company.settings
    payer = premium_payer_for(billing, settings.premium_payer)
    amounts = line_amounts(charge.pay_cents, billing.net_rate, settings.platform_fee_bps, company_pays_premium=payer == "company")
    description = line_description(billing, charge, payer)
    values = {
        "tenant_id": billing.tenant_id,
        "assignment_id": billing.assignment_id,
        "charge_seq": charge.charge_seq,
        "kind": charge.kind,
        "contractor_id": billing.contractor_id,
        "contractor_name": billing.contractor_name,
        "description": description[:1000],
        "wage_cents": billing.wage_cents,
        "wage_type": billing.wage_type,
        "span_start": charge.span_start,
        "span_end": charge.span_end,
        "pay_cents": amounts.pay_cents,
        "net_rate": billing.net_rate,
        "premium_payer": payer,
        "premium_full_cents": amounts.premium_full_cents,
        "premium_cents": amounts.premium_cents,
        "platform_fee_bps": settings.platform_fee_bps,
        "platform_fee_cents": amounts.platform_fee_cents,
        "amount_cents": amounts.amount_cents,
        "credited": False,
    }
    message = InvoiceLine(
        assignment_id=billing.assignment_id,
        contractor_name=billing.contractor_name,
        description=description,
        pay_cents=amounts.pay_cents,
        net_rate=billing.net_rate,
        premium_cents=amounts.premium_cents,
        platform_fee_cents=amounts.platform_fee_cents,
        amount_cents=amounts.amount_cents,
    )
    return _PricedLine(values, message, billing.po_contact_email)


_PDF_LINE_FIELDS = tuple(f.name for f in fields(InvoicePdfLine))


def _pdf_line(line: InvoiceLine) -> InvoicePdfLine:
    """The PDF shows what the message says (the fields of the same names)."""
    return InvoicePdfLine(**{name: getattr(line, name) for name in _PDF_LINE_FIELDS})


def _split_for_messages(priced: list[_PricedLine], max_lines: int) -> list[list[_PricedLine]]:
    """Invoices of at most ``max_lines`` lines whose message stays within the byte budget."""
    parts: list[list[_PricedLine]] = [[]]
    size = 0
    for line in priced:
        line_size = len(_encoder.encode(line.message)) + 80  # the line in JSON, and its share of the PDF
        if parts[-1] and (len(parts[-1]) >= max_lines or size + line_size > MESSAGE_LINES_BUDGET):
            parts.append([])
            size = 0
        parts[-1].append(line)
        size += line_size
    return parts


async def _period_so_far(session: AsyncSession, tenant: str, po: str, period: str) -> tuple[tuple[str, str] | None, int]:
    """The PO's first invoice of the period that is not void (id, number), if any, and how
    many invoices the company was issued in the period (the next number follows them)."""
    columns = invoices.c
    first = (
        await session.execute(
            select(columns.id, columns.number)
            .where(columns.tenant_id == tenant, columns.po_number == po, columns.period == period, columns.status != "void")
            .order_by(columns.seq)
            .limit(1)
        )
    ).first()
    issued = select(func.count()).select_from(invoices).where(columns.tenant_id == tenant, columns.period == period)
    issued_before = (await session.execute(issued)).scalar_one()
    return ((first.id, first.number) if first else None), int(issued_before)


# -- credits -------------------------------------------------------------------------------


async def _apply_credits(uow: UnitOfWork, credits: list[_Credit], now: datetime) -> int:
    """Store the credits, mark their lines credited, add them to their invoices and emit
    ``InvoiceCreditedV1`` for each; returns how many."""
    session = uow.session
    credit_ids = [new_id("cr") for _ in credits]
    await session.execute(
        invoice_credits.insert(),
        [
            {
                "id": credit_id,
                "tenant_id": credit.assignment.tenant_id,
                "invoice_seq": credit.decision.line.invoice_seq,
                "line_id": credit.decision.line.line_id,
                "assignment_id": credit.assignment.assignment_id,
                "amount_cents": credit.decision.line.amount_cents,
                "reason": credit.decision.reason,
                "created_at": now,
            }
            for credit_id, credit in zip(credit_ids, credits, strict=True)
        ],
    )
    for chunk in chunked([credit.decision.line.line_id for credit in credits], 1000):
        await session.execute(update(invoice_lines).where(invoice_lines.c.id.in_(list(chunk))).values(credited=True))
    versions = await _add_credits_to_invoices(session, (credit.decision.line for credit in credits))
    for credit_id, credit in zip(credit_ids, credits, strict=True):
        line = credit.decision.line
        credited = InvoiceCreditedV1(
            credit_id=credit_id,
            invoice_id=line.invoice_id,
            invoice_number=line.invoice_number,
            assignment_id=credit.assignment.assignment_id,
            amount_cents=line.amount_cents,
            reason=credit.decision.reason,
        )
        uow.emit(
            credited,
            tenant_id=credit.assignment.tenant_id,
            aggregate_id=line.invoice_id,
            aggregate_version=versions[line.invoice_seq],
        )
    return len(credits)


async def _add_credits_to_invoices(session: AsyncSession, lines: Iterable[ExistingLine]) -> dict[int, int]:
    """Add the credited lines' amounts to their invoices; returns each invoice's new version."""
    per_invoice: dict[int, int] = defaultdict(int)
    for line in lines:
        per_invoice[line.invoice_seq] += line.amount_cents
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
    return versions


# -- reading and clearing flagged rows -----------------------------------------------------


async def _clear_flags(session: AsyncSession, done: list[tuple[str, str, int]]) -> None:
    """Clear the flag of the rows planned, as they were read: ``(tenant, assignment, revision)``.

    A row changed since it was read keeps its flag (revision), so the next run plans it again.
    Rows a consumer holds locked right now are skipped, not waited for: they are changing
    anyway, and waiting on consumers (who wait on us) could deadlock."""
    if not done:
        return
    columns = assignments.c
    for chunk in chunked(done, 1000):
        unlocked = (
            select(columns.tenant_id, columns.assignment_id)
            .where(tuple_(columns.tenant_id, columns.assignment_id, columns.revision).in_(list(chunk)))
            .with_for_update(skip_locked=True)
        )
        await session.execute(
            update(assignments).where(tuple_(columns.tenant_id, columns.assignment_id).in_(unlocked)).values(needs_billing=False)
        )


async def _existing_lines(session: AsyncSession, rows: Sequence[Row[Any]]) -> dict[RowKey, list[ExistingLine]]:
    """Lines already charged for the given assignments, with their invoice's status."""
    by_tenant: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        by_tenant[row.tenant_id].append(row.assignment_id)
    columns = invoice_lines.c
    out: dict[RowKey, list[ExistingLine]] = defaultdict(list)
    for tenant, ids in by_tenant.items():
        for chunk in chunked(ids, 2000):
            found = await session.execute(
                select(
                    columns.assignment_id,
                    columns.id.label("line_id"),
                    columns.charge_seq,
                    columns.kind,
                    columns.span_start,
                    columns.span_end,
                    columns.amount_cents,
                    columns.credited,
                    (invoices.c.status == "void").label("invoice_void"),
                    columns.invoice_seq,
                    invoices.c.id.label("invoice_id"),
                    invoices.c.number.label("invoice_number"),
                )
                .join(invoices, invoices.c.seq == columns.invoice_seq)
                .where(columns.tenant_id == tenant, columns.assignment_id.in_(list(chunk)))
            )
            for line in found:
                mapping = line._mapping
                out[(tenant, line.assignment_id)].append(ExistingLine(**{name: mapping[name] for name in _EXISTING_FIELDS}))
    return out
