"""The PO reminder: a clock-driven job (``po_reminders``).

Three days (``BILLING_PO_REMINDER__DELAY_HOURS``) after an upload (``ImportCompletedV1``; its
``occurred_at`` is the upload time), if some of that upload's assignments (``import_batch_id`` =
the batch, not cancelled) still have no PO number, the company is emailed the list:
``PoReminderDueV1`` to the uploader and the billing email (deduplicated, empty ones skipped).
At most once per upload: the batch's reminder state moves from ``pending`` to ``sent``,
``not_needed`` (every assignment has a PO by then) or ``no_recipient``, in the same transaction
as the message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, func, or_, select, update
from ten99_contracts.billing_v1 import MissingPoAssignment, PoReminderDueV1
from ten99kit import Database, UnitOfWork, get_logger
from ten99kit.emails import is_email

from ..adapters.db import assignments, import_batches
from ..settings import BillingSettings
from .settings import CompanyBilling, load_company_billing

__all__ = ["PoReminders", "reminder_recipients"]

log = get_logger(__name__)

BATCHES_PER_RUN = 200


def reminder_recipients(*emails: str | None) -> list[str]:
    """Deduplicated (case-insensitive), in order, only plausible addresses."""
    out: list[str] = []
    seen: set[str] = set()
    for email in emails:
        email = (email or "").strip()
        if email and is_email(email) and email.lower() not in seen:
            seen.add(email.lower())
            out.append(email)
    return out


def _missing_po(batch: Row[Any]) -> ColumnElement[bool]:
    """The batch's assignments (known, not cancelled) that still have no PO number."""
    columns = assignments.c
    return and_(
        columns.tenant_id == batch.tenant_id,
        columns.import_batch_id == batch.import_batch_id,
        columns.snapshot_known.is_(True),
        columns.cancelled.is_(False),
        or_(columns.po_number.is_(None), columns.po_number == ""),
    )


class PoReminders:
    def __init__(self, db: Database, settings: BillingSettings) -> None:
        self.db = db
        self.settings = settings

    async def job(self, now: datetime) -> int:
        """Send the reminders due at ``now``; returns how many were sent."""
        async with self.db.uow() as uow:
            batches = await _due_batches(uow, now)
            if not batches:
                return 0
            companies = await load_company_billing(uow.session, {b.tenant_id for b in batches}, self.settings.defaults)
            states = [await self._remind(uow, batch, companies[batch.tenant_id], now) for batch in batches]
            await uow.commit()
        return states.count("sent")

    async def _remind(self, uow: UnitOfWork, batch: Row[Any], company: CompanyBilling, now: datetime) -> str:
        """Emit the batch's reminder if it is needed and has someone to go to; returns (and
        records) the batch's reminder state."""
        missing = _missing_po(batch)
        count = (await uow.session.execute(select(func.count()).select_from(assignments).where(missing))).scalar_one()
        state = "not_needed"
        if count:
            to = reminder_recipients(batch.uploaded_by, company.settings.effective_billing_email)
            if to:
                state = "sent"
                reminder = await self._reminder(uow, batch, missing, count, to)
                uow.emit(reminder, tenant_id=batch.tenant_id, aggregate_id=batch.import_batch_id, aggregate_version=1)
            else:
                state = "no_recipient"
                log.warning("billing.po_reminder_without_recipient", import_batch_id=batch.import_batch_id)
        columns = import_batches.c
        await uow.session.execute(
            update(import_batches)
            .where(columns.tenant_id == batch.tenant_id, columns.import_batch_id == batch.import_batch_id)
            .values(reminder_state=state, reminder_sent_at=now if state == "sent" else None, reminder_missing_count=count)
        )
        return state

    async def _reminder(
        self, uow: UnitOfWork, batch: Row[Any], missing: ColumnElement[bool], count: int, to: list[str]
    ) -> PoReminderDueV1:
        """The reminder, listing the first ``max_listed`` assignments without a PO."""
        columns = assignments.c
        listed = await uow.session.execute(
            select(
                columns.assignment_id,
                columns.contractor_name,
                columns.contractor_email,
                columns.job_name,
                columns.effective_date,
                columns.end_date,
            )
            .where(missing)
            .order_by(columns.contractor_name, columns.assignment_id)
            .limit(self.settings.po_reminder.max_listed)
        )
        return PoReminderDueV1(
            import_batch_id=batch.import_batch_id,
            filename=batch.filename,
            uploaded_at=batch.uploaded_at,
            to_emails=to,
            assignments=[MissingPoAssignment(**row._asdict()) for row in listed if row.effective_date and row.end_date],
            missing_count=count,
        )


async def _due_batches(uow: UnitOfWork, now: datetime) -> list[Row[Any]]:
    """Uploads whose reminder is due, locked (another worker skips them)."""
    columns = import_batches.c
    rows = await uow.session.execute(
        select(import_batches)
        .where(columns.reminder_state == "pending", columns.reminder_due_at <= now)
        .order_by(columns.reminder_due_at)
        .limit(BATCHES_PER_RUN)
        .with_for_update(skip_locked=True)
    )
    return list(rows.all())
