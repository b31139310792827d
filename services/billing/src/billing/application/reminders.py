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

from sqlalchemy import and_, func, or_, select, update
from ten99_contracts.billing_v1 import MissingPoAssignment, PoReminderDueV1
from ten99kit import Database, get_logger

from ..adapters.db import assignments, import_batches
from ..domain.settings import is_email
from ..settings import BillingSettings
from .settings import load_company_billing

__all__ = ["PoReminders", "reminder_recipients"]

log = get_logger(__name__)

A = assignments.c
B = import_batches.c
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


class PoReminders:
    def __init__(self, db: Database, settings: BillingSettings) -> None:
        self.db = db
        self.settings = settings

    async def job(self, now: datetime) -> int:
        """Send the reminders due at ``now``; returns how many were sent."""
        sent = 0
        async with self.db.uow() as uow:
            session = uow.session
            batches = (
                await session.execute(
                    select(import_batches)
                    .where(B.reminder_state == "pending", B.reminder_due_at <= now)
                    .order_by(B.reminder_due_at)
                    .limit(BATCHES_PER_RUN)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not batches:
                return 0
            companies = await load_company_billing(session, {b.tenant_id for b in batches}, self.settings.defaults)
            for batch in batches:
                missing = and_(
                    A.tenant_id == batch.tenant_id,
                    A.import_batch_id == batch.import_batch_id,
                    A.snapshot_known.is_(True),
                    A.cancelled.is_(False),
                    or_(A.po_number.is_(None), A.po_number == ""),
                )
                count = (await session.execute(select(func.count()).select_from(assignments).where(missing))).scalar_one()
                state = "not_needed"
                if count:
                    to = reminder_recipients(batch.uploaded_by, companies[batch.tenant_id].settings.effective_billing_email)
                    if not to:
                        state = "no_recipient"
                        log.warning("billing.po_reminder_without_recipient", import_batch_id=batch.import_batch_id)
                    else:
                        state = "sent"
                        listed = (
                            await session.execute(
                                select(
                                    A.assignment_id,
                                    A.contractor_name,
                                    A.contractor_email,
                                    A.job_name,
                                    A.effective_date,
                                    A.end_date,
                                )
                                .where(missing)
                                .order_by(A.contractor_name, A.assignment_id)
                                .limit(self.settings.po_reminder.max_listed)
                            )
                        ).all()
                        uow.emit(
                            PoReminderDueV1(
                                import_batch_id=batch.import_batch_id,
                                filename=batch.filename,
                                uploaded_at=batch.uploaded_at,
                                to_emails=to,
                                assignments=[
                                    MissingPoAssignment(
                                        assignment_id=r.assignment_id,
                                        contractor_name=r.contractor_name,
                                        contractor_email=r.contractor_email,
                                        job_name=r.job_name,
                                        effective_date=r.effective_date,
                                        end_date=r.end_date,
                                    )
                                    for r in listed
                                    if r.effective_date and r.end_date
                                ],
                                missing_count=count,
                            ),
                            tenant_id=batch.tenant_id,
                            aggregate_id=batch.import_batch_id,
                            aggregate_version=1,
                        )
                        sent += 1
                await session.execute(
                    update(import_batches)
                    .where(B.tenant_id == batch.tenant_id, B.import_batch_id == batch.import_batch_id)
                    .values(reminder_state=state, reminder_sent_at=now if state == "sent" else None, reminder_missing_count=count)
                )
            await uow.commit()
        return sent
