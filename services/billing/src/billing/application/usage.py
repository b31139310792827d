"""Usage-based invoices (1099Policy's ``/invoices``): create from reported pay, list, read,
re-price while unpaid, pay, void. The rules are in ``billing.domain.usage``.

A usage invoice is priced at the ``net_rate`` of the contractor's coverage for that job in force
during the pay cycle (its span overlaps the cycle's days): coverage bound on an assignment of the
job (billing's ``assignments`` copy: not cancelled) or a quote of the job bound as priced
without an assignment (``quoted_coverages``); the one that started last wins. None:
``no_active_policy``. The contractor and the job must be known to billing (from the contractor
service's messages): else ``invalid_contractor_id`` / ``invalid_job_id``.

One live invoice per contractor, job and pay cycle (``invoice_exists``; a void one may be
replaced). ``purchase_order_number``: absent -> the job's default PO; a value wins; ``""`` clears
it. Status ``open`` -> ``paid`` | ``void``; a paid invoice is not edited or voided
(``invoice_already_paid``), a void one not edited or paid (``invoice_void``). Every query filters
by the tenant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from ten99kit import ApiError, Database, InvalidInput, NotFound, Page, PageRequest, UnitOfWork, fetch_page, new_id
from ten99kit.db import Row
from ten99kit.request_keys import claim_request_key

from ..adapters.db import assignments, known_contractors, known_jobs, quoted_coverages, request_keys, usage_invoices
from ..domain.usage import PayCycle, check_gross_pay, pay_cycle, usage_premium

__all__ = [
    "NewUsageInvoice",
    "UsageChange",
    "UsageFilter",
    "create_usage_invoice",
    "delete_usage_invoice",
    "find_usage_invoice",
    "list_usage_invoices",
    "pay_usage_invoice",
    "reprice_usage_invoice",
    "void_usage_invoice",
]

STATUSES = ("open", "paid", "void")


@dataclass(frozen=True)
class NewUsageInvoice:
    contractor: str
    job: str
    gross_pay: int
    paycycle_startdate: int
    paycycle_enddate: int
    #: None: the job's default PO; "": none
    purchase_order_number: str | None = None


@dataclass(frozen=True)
class UsageChange:
    """``PUT``: the fields given (None: unchanged; ``purchase_order_number=""`` clears it)."""

    gross_pay: int | None = None
    paycycle_startdate: int | None = None
    paycycle_enddate: int | None = None
    purchase_order_number: str | None = None


@dataclass(frozen=True)
class UsageFilter:
    contractor: str | None = None
    job: str | None = None
    status: str | None = None

    def where(self, tenant_id: str) -> list[ColumnElement[bool]]:
        if self.status is not None and self.status not in STATUSES:
            raise InvalidInput({"status": f"must be one of {', '.join(STATUSES)}"})
        where = [usage_invoices.c.tenant_id == tenant_id]
        if self.contractor:
            where.append(usage_invoices.c.contractor_id == self.contractor)
        if self.job:
            where.append(usage_invoices.c.job_id == self.job)
        if self.status:
            where.append(usage_invoices.c.status == self.status)
        return where


@dataclass(frozen=True)
class Rate:
    net_rate: int
    priced_on: str


# -- what billing knows -------------------------------------------------------------------------


async def _contractor_known(uow: UnitOfWork, tenant_id: str, contractor_id: str) -> bool:
    known = known_contractors.c
    registered = (
        await uow.session.execute(select(known.deleted).where(known.tenant_id == tenant_id, known.contractor_id == contractor_id))
    ).first()
    if registered is not None:
        return not registered.deleted
    by_assignment = exists().where(assignments.c.tenant_id == tenant_id, assignments.c.contractor_id == contractor_id)
    by_quote = exists().where(quoted_coverages.c.tenant_id == tenant_id, quoted_coverages.c.contractor_id == contractor_id)
    return bool((await uow.session.execute(select(or_(by_assignment, by_quote)))).scalar())


async def _job(uow: UnitOfWork, tenant_id: str, job_id: str) -> tuple[bool, str | None]:
    """Whether billing knows the job, and its default PO."""
    job = (
        await uow.session.execute(
            select(known_jobs.c.deleted, known_jobs.c.po_number).where(
                known_jobs.c.tenant_id == tenant_id, known_jobs.c.job_id == job_id
            )
        )
    ).first()
    if job is not None:
        return not job.deleted, job.po_number
    by_assignment = exists().where(assignments.c.tenant_id == tenant_id, assignments.c.job_id == job_id)
    by_quote = exists().where(quoted_coverages.c.tenant_id == tenant_id, quoted_coverages.c.job_id == job_id)
    return bool((await uow.session.execute(select(or_(by_assignment, by_quote)))).scalar()), None


async def _rate(uow: UnitOfWork, tenant_id: str, contractor_id: str, job_id: str, cycle: PayCycle) -> Rate:
    """The net rate of the coverage in force during the cycle (the one that started last)."""
    first, last = cycle.first_day, cycle.last_day
    found: list[tuple[date, int, str]] = []
    a = assignments.c
    by_assignment = select(a.coverage_effective_date, a.net_rate, a.coverage_id).where(
        a.tenant_id == tenant_id,
        a.contractor_id == contractor_id,
        a.job_id == job_id,
        a.coverage_id.is_not(None),
        ~a.cancelled,
        ~a.coverage_cancelled,
        and_(a.coverage_effective_date <= last, a.coverage_end_date >= first),
    )
    q = quoted_coverages.c
    by_quote = select(q.effective_date, q.net_rate, q.quote_id).where(
        q.tenant_id == tenant_id,
        q.contractor_id == contractor_id,
        q.job_id == job_id,
        and_(q.effective_date <= last, q.end_date >= first),
    )
    for query in (by_assignment, by_quote):
        found.extend(tuple(row) for row in await uow.session.execute(query))  # type: ignore[misc]
    if not found:
        raise ApiError(
            f"Contractor {contractor_id} has no active policy for job {job_id} during this pay cycle",
            error_code="no_active_policy",
        )
    _, net_rate, priced_on = max(found)
    return Rate(net_rate, priced_on)


# -- use cases ----------------------------------------------------------------------------------


async def create_usage_invoice(db: Database, tenant_id: str, wanted: NewUsageInvoice, *, request_key: str | None) -> Row:
    check_gross_pay(wanted.gross_pay)
    async with db.uow() as uow:
        invoice_id = new_id("in")
        earlier = await claim_request_key(uow, request_keys, tenant_id, request_key, invoice_id)
        if earlier is not None:
            return await _read(uow, tenant_id, earlier)
        cycle = pay_cycle(wanted.paycycle_startdate, wanted.paycycle_enddate, uow.clock.now())
        if not await _contractor_known(uow, tenant_id, wanted.contractor):
            raise ApiError(f"No contractor {wanted.contractor}", error_code="invalid_contractor_id")
        job_known, job_po = await _job(uow, tenant_id, wanted.job)
        if not job_known:
            raise ApiError(f"No job {wanted.job}", error_code="invalid_job_id")
        rate = await _rate(uow, tenant_id, wanted.contractor, wanted.job, cycle)
        po = job_po if wanted.purchase_order_number is None else wanted.purchase_order_number
        now = uow.clock.now()
        values = {
            "id": invoice_id,
            "tenant_id": tenant_id,
            "contractor_id": wanted.contractor,
            "job_id": wanted.job,
            "gross_pay_cents": wanted.gross_pay,
            "paycycle_start": cycle.start,
            "paycycle_end": cycle.end,
            "net_rate": rate.net_rate,
            "premium_cents": usage_premium(wanted.gross_pay, rate.net_rate),
            "priced_on": rate.priced_on,
            "po_number": po or None,
            "status": "open",
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        await _insert(uow, values)
        await uow.commit()
    return await find_usage_invoice(db, tenant_id, invoice_id, required=True)  # type: ignore[return-value]


def _other_live_invoice_of_the_cycle(values: dict[str, Any]) -> Any:
    """The id of another live (not void) invoice of the same contractor, job and pay cycle."""
    c = usage_invoices.c
    return select(c.id).where(
        c.tenant_id == values["tenant_id"],
        c.contractor_id == values["contractor_id"],
        c.job_id == values["job_id"],
        c.paycycle_start == values["paycycle_start"],
        c.paycycle_end == values["paycycle_end"],
        c.status != "void",
        c.id != values["id"],
    )


async def _insert(uow: UnitOfWork, values: dict[str, Any]) -> None:
    """Insert; another live invoice for the same contractor, job and cycle is ``invoice_exists``."""
    same_cycle = _other_live_invoice_of_the_cycle(values)
    existing = (await uow.session.execute(same_cycle)).scalar()
    if existing is None:
        try:
            async with uow.session.begin_nested():
                await uow.session.execute(usage_invoices.insert().values(**values))
            return
        except IntegrityError:  # created at the same moment by another request
            existing = (await uow.session.execute(same_cycle)).scalar()
    raise ApiError(
        f"Invoice {existing} already exists for this contractor, job and pay cycle; update it instead",
        error_code="invoice_exists",
    )


async def _read(uow: UnitOfWork, tenant_id: str, invoice_id: str) -> Row:
    row = (
        (
            await uow.session.execute(
                select(usage_invoices).where(usage_invoices.c.tenant_id == tenant_id, usage_invoices.c.id == invoice_id)
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"No invoice {invoice_id}", error_code="invalid_invoice_id")
    return row


async def find_usage_invoice(db: Database, tenant_id: str, invoice_id: str, *, required: bool = False) -> Row | None:
    async with db.reads() as session:
        query = select(usage_invoices).where(usage_invoices.c.tenant_id == tenant_id, usage_invoices.c.id == invoice_id)
        row = (await session.execute(query)).mappings().first()
    if row is None and required:
        raise NotFound(f"No invoice {invoice_id}", error_code="invalid_invoice_id")
    return row


async def list_usage_invoices(db: Database, tenant_id: str, filters: UsageFilter, request: PageRequest) -> Page:
    where = filters.where(tenant_id)
    async with db.reads() as session:
        return await fetch_page(
            session,
            select(usage_invoices),
            keys=(usage_invoices.c.seq,),
            id_column=usage_invoices.c.id,
            where=where,
            request=request,
        )


#: (what was asked, the invoice's status) -> (message, error code) of the refusal
_REFUSALS = {
    ("edit", "paid"): ("Invoice {id} is paid and can no longer be changed", "invoice_already_paid"),
    ("edit", "void"): ("Invoice {id} is void and cannot be changed", "invoice_void"),
    ("pay", "paid"): ("Invoice {id} is already paid", "invoice_already_paid"),
    ("pay", "void"): ("Invoice {id} is void and cannot be paid", "invoice_void"),
    ("void", "paid"): ("Invoice {id} is paid and cannot be voided", "invoice_already_paid"),
    ("void", "void"): ("Invoice {id} is already void", "invoice_void"),
}


async def _open(uow: UnitOfWork, tenant_id: str, invoice_id: str, action: str) -> Row:
    """The invoice, locked, if it is open; else the refusal of ``action``."""
    query = (
        select(usage_invoices).where(usage_invoices.c.tenant_id == tenant_id, usage_invoices.c.id == invoice_id).with_for_update()
    )
    row = (await uow.session.execute(query)).mappings().first()
    if row is None:
        raise NotFound(f"No invoice {invoice_id}", error_code="invalid_invoice_id")
    refusal = _REFUSALS.get((action, row["status"]))
    if refusal is not None:
        message, error_code = refusal
        raise ApiError(message.format(id=invoice_id), error_code=error_code)
    return row


async def _change(db: Database, tenant_id: str, invoice_id: str, action: str, **values: Any) -> Row:
    async with db.uow() as uow:
        row = await _open(uow, tenant_id, invoice_id, action)
        now = uow.clock.now()
        values = {key: (now if value is _NOW else value) for key, value in values.items()}
        await uow.session.execute(
            update(usage_invoices)
            .where(usage_invoices.c.seq == row["seq"])
            .values(version=row["version"] + 1, updated_at=now, **values)
        )
        await uow.commit()
    return await find_usage_invoice(db, tenant_id, invoice_id, required=True)  # type: ignore[return-value]


_NOW = object()


async def pay_usage_invoice(db: Database, tenant_id: str, invoice_id: str) -> Row:
    return await _change(db, tenant_id, invoice_id, "pay", status="paid", paid_at=_NOW)


async def void_usage_invoice(db: Database, tenant_id: str, invoice_id: str, reason: str) -> Row:
    return await _change(db, tenant_id, invoice_id, "void", status="void", voided_at=_NOW, void_reason=reason)


async def delete_usage_invoice(db: Database, tenant_id: str, invoice_id: str) -> Row:
    """1099Policy's ``DELETE /invoices/{id}``: the invoice is voided (kept, as every invoice is)."""
    return await void_usage_invoice(db, tenant_id, invoice_id, "deleted")


async def reprice_usage_invoice(db: Database, tenant_id: str, invoice_id: str, change: UsageChange) -> Row:
    """Edit an open invoice in place (same id, next version): the pay or the cycle re-prices it at
    the rate in force for the (new) cycle; the PO is kept unless given."""
    if change.gross_pay is not None:
        check_gross_pay(change.gross_pay)
    async with db.uow() as uow:
        row = await _open(uow, tenant_id, invoice_id, "edit")
        start = row["paycycle_start"] if change.paycycle_startdate is None else change.paycycle_startdate
        end = row["paycycle_end"] if change.paycycle_enddate is None else change.paycycle_enddate
        cycle = pay_cycle(start, end, uow.clock.now())
        gross = row["gross_pay_cents"] if change.gross_pay is None else change.gross_pay
        rate = await _rate(uow, tenant_id, row["contractor_id"], row["job_id"], cycle)
        po = row["po_number"] if change.purchase_order_number is None else (change.purchase_order_number or None)
        values = {
            **row,
            "gross_pay_cents": gross,
            "paycycle_start": cycle.start,
            "paycycle_end": cycle.end,
            "net_rate": rate.net_rate,
            "premium_cents": usage_premium(gross, rate.net_rate),
            "priced_on": rate.priced_on,
            "po_number": po,
            "version": row["version"] + 1,
            "updated_at": uow.clock.now(),
        }
        await _replace(uow, values)
        await uow.commit()
    return await find_usage_invoice(db, tenant_id, invoice_id, required=True)  # type: ignore[return-value]


async def _replace(uow: UnitOfWork, values: dict[str, Any]) -> None:
    """Write the edited invoice; a cycle moved onto another live invoice's is ``invoice_exists``."""
    c = usage_invoices.c
    existing = (await uow.session.execute(_other_live_invoice_of_the_cycle(values))).scalar()
    if existing is not None:
        raise ApiError(f"Invoice {existing} already exists for this pay cycle", error_code="invoice_exists")
    changed = {key: value for key, value in values.items() if key not in ("seq", "id", "tenant_id")}
    await uow.session.execute(update(usage_invoices).where(c.seq == values["seq"]).values(**changed))
