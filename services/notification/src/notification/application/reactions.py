"""Reactions to other contexts' messages. Each one only records a delivery (in the consumer's
transaction, with its inbox row); the sender sends it after the commit. Recording is keyed by
(tenant, template, business key), so the same business event never yields a second email."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ten99_contracts import Envelope
from ten99_contracts.billing_v1 import InvoiceIssuedV1, PoReminderDueV1
from ten99_contracts.contractor_v1 import CoverageGapAlertDueV1
from ten99_contracts.enrollment_v1 import InvitationIssuedV1, InvitationReminderDueV1, PortalLinkRequestedV1
from ten99_contracts.gateway_v1 import CompanyCreatedV1
from ten99_contracts.notification_v1 import EmailFailedV1
from ten99_contracts.policy_v1 import CertificateIssuedV1, CoverageCancelledV1, CoverageExtendedV1
from ten99kit import UnitOfWork, get_logger, new_id

from ..adapters.deliveries import delivery_row, find_company_name, insert_delivery, queue_delivery, upsert_company
from ..adapters.webhook_store import owner_email
from ..domain import DeliveryStatus, OutgoingEmail
from .composing import EmailComposer

__all__ = ["CompanyDirectory", "Reactions", "message_id_for"]

log = get_logger(__name__)


def message_id_for(delivery_id: str, from_address: str) -> str:
    """The RFC 5322 Message-ID of a delivery: the same on every attempt."""
    domain = from_address.rpartition("@")[2] or "ten99.local"
    return f"<{delivery_id}@{domain}>"


class CompanyDirectory:
    """Company names by tenant, from ``CompanyCreatedV1``. Names found are cached in-process
    (a company's name does not change through this channel); misses are asked again."""

    def __init__(self, max_cached: int = 10_000) -> None:
        self._names: dict[str, str] = {}
        self._max = max_cached

    def remember(self, tenant_id: str, name: str) -> None:
        if len(self._names) >= self._max:
            self._names.clear()
        self._names[tenant_id] = name

    async def name(self, uow: UnitOfWork, tenant_id: str) -> str | None:
        found = self._names.get(tenant_id)
        if found is None:
            found = await find_company_name(uow.session, tenant_id)
            if found is not None:
                self.remember(tenant_id, found)
        return found


class Reactions:
    def __init__(
        self, composer: EmailComposer, directory: CompanyDirectory, *, from_address: str, wake_sender: Callable[[], None]
    ) -> None:
        self.composer = composer
        self.directory = directory
        self.from_address = from_address
        self.wake_sender = wake_sender

    # -- the company directory --------------------------------------------------------------

    async def on_company_created(self, uow: UnitOfWork, envelope: Envelope[CompanyCreatedV1]) -> None:
        m = envelope.data
        tenant_id = m.company_id or envelope.tenant_id
        await upsert_company(uow.session, uow.db.dialect, tenant_id, m.name, m.owner_email, uow.clock.now())
        self.directory.remember(tenant_id, m.name)

    # -- emails -------------------------------------------------------------------------------

    async def on_invitation_issued(self, uow: UnitOfWork, envelope: Envelope[InvitationIssuedV1]) -> None:
        company = await self.directory.name(uow, envelope.tenant_id)
        await self.record(uow, envelope, self.composer.invitation(envelope.data, company))

    async def on_invitation_reminder_due(self, uow: UnitOfWork, envelope: Envelope[InvitationReminderDueV1]) -> None:
        company = await self.directory.name(uow, envelope.tenant_id)
        await self.record(uow, envelope, self.composer.invitation_reminder(envelope.data, company))

    async def on_portal_link_requested(self, uow: UnitOfWork, envelope: Envelope[PortalLinkRequestedV1]) -> None:
        await self.record(uow, envelope, self.composer.portal_link(envelope.data))

    async def on_certificate_issued(self, uow: UnitOfWork, envelope: Envelope[CertificateIssuedV1]) -> None:
        if not envelope.data.send_email:  # reissued for an extension the company asked not to announce
            return
        company = await self.directory.name(uow, envelope.tenant_id)
        await self.record(uow, envelope, self.composer.certificate(envelope.data, company))

    async def on_coverage_cancelled(self, uow: UnitOfWork, envelope: Envelope[CoverageCancelledV1]) -> None:
        company = await self.directory.name(uow, envelope.tenant_id)
        await self.record(uow, envelope, self.composer.coverage_cancelled(envelope.data, company))

    async def on_coverage_extended(self, uow: UnitOfWork, envelope: Envelope[CoverageExtendedV1]) -> None:
        if not envelope.data.send_email:
            return
        company = await self.directory.name(uow, envelope.tenant_id)
        await self.record(uow, envelope, self.composer.coverage_extended(envelope.data, company))

    async def on_po_reminder_due(self, uow: UnitOfWork, envelope: Envelope[PoReminderDueV1]) -> None:
        company = await self.directory.name(uow, envelope.tenant_id)
        await self.record(uow, envelope, self.composer.po_reminder(envelope.data, company))

    async def on_coverage_gap_alert_due(self, uow: UnitOfWork, envelope: Envelope[CoverageGapAlertDueV1]) -> None:
        """To the company's address (its owner's, from CompanyCreatedV1), keyed by the UTC day."""
        company, address = await owner_email(uow.session, envelope.tenant_id)
        await self.record(uow, envelope, self.composer.coverage_gap(envelope.data, company, [address] if address else []))

    async def on_invoice_issued(self, uow: UnitOfWork, envelope: Envelope[InvoiceIssuedV1]) -> None:
        company = await self.directory.name(uow, envelope.tenant_id)
        await self.record(uow, envelope, self.composer.invoice(envelope.data, company))

    # -- recording ----------------------------------------------------------------------------

    async def record(self, uow: UnitOfWork, envelope: Envelope[Any], email: OutgoingEmail) -> None:
        """Record the email unless this business event already has one (same tenant and key).

        Deliveries are written in bulk when the consumer's transaction commits, and the sender is
        woken right after. An email with no usable recipient is recorded as failed at once (and
        announced), so that the log shows it instead of it vanishing."""
        delivery_id = new_id("dl")
        deliverable = bool(email.to or email.cc)
        row = delivery_row(
            tenant_id=envelope.tenant_id,
            delivery_id=delivery_id,
            message_id=message_id_for(delivery_id, self.from_address),
            email=email,
            status=DeliveryStatus.QUEUED if deliverable else DeliveryStatus.FAILED,
            now=uow.clock.now(),
            source_message_id=envelope.id,
            last_error=None if deliverable else "no recipient address",
        )
        if deliverable:
            queue_delivery(uow.session, uow.db.dialect, row, email.attachments, after_commit=self.wake_sender)
            return
        if await insert_delivery(uow.session, uow.db.dialect, row, email.attachments):
            uow.emit(
                EmailFailedV1(
                    delivery_id=delivery_id,
                    template=email.template,
                    to=[],
                    error="no recipient address",
                    attempts=0,
                    related_id=email.related_id,
                ),
                tenant_id=envelope.tenant_id,
                aggregate_id=delivery_id,
            )
