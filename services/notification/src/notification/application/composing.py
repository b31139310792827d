"""Which email each message becomes: recipients, business key, template context, attachments.
Pure functions of the message, the company's name (None when unknown) and the dashboard URL."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from ten99_contracts.billing_v1 import InvoiceIssuedV1, PoReminderDueV1
from ten99_contracts.contractor_v1 import CoverageGapAlertDueV1
from ten99_contracts.enrollment_v1 import InvitationIssuedV1, InvitationReminderDueV1, PortalLinkRequestedV1
from ten99_contracts.policy_v1 import CertificateIssuedV1, CoverageCancelledV1, CoverageExtendedV1

from ..domain import Attachment, OutgoingEmail, clean_addresses

__all__ = ["EmailComposer", "Renderer"]


class Rendered(Protocol):
    @property
    def subject(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def html(self) -> str: ...


class Renderer(Protocol):
    """Renders a template with its context (bootstrap gives the Jinja one, adapters/rendering.py)."""

    def render(self, template: str, context: dict[str, Any]) -> Rendered: ...


#: invoice lines listed in the email body (the PDF has them all)
INVOICE_MAX_LINES = 50


class EmailComposer:
    def __init__(self, renderer: Renderer, *, dashboard_url: str, missing_po_path: str, po_reminder_max_rows: int = 50) -> None:
        self.renderer = renderer
        self.dashboard_url = dashboard_url.rstrip("/")
        self.missing_po_path = "/" + missing_po_path.lstrip("/")
        self.po_reminder_max_rows = po_reminder_max_rows

    def _email(self, template: str, key: str, context: dict[str, Any], **fields: Any) -> OutgoingEmail:
        rendered = self.renderer.render(template, context)
        return OutgoingEmail(
            template=template,
            dedupe_key=f"{template}:{key}",
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            **fields,
        )

    def _invitation_email(
        self,
        template: str,
        key: str,
        m: InvitationIssuedV1 | InvitationReminderDueV1,
        company_name: str | None,
        **context: Any,
    ) -> OutgoingEmail:
        """An invitation or its reminder: to the contractor, with the opt-in link."""
        context |= {
            "company_name": company_name,
            "first_name": m.first_name,
            "last_name": m.last_name,
            "opt_in_url": m.opt_in_url,
            "expires_at": m.expires_at,
        }
        return self._email(
            template,
            key,
            context,
            to=clean_addresses([m.email]),
            related_id=m.invitation_id,
            contractor_id=m.contractor_id,
        )

    def invitation(self, m: InvitationIssuedV1, company_name: str | None) -> OutgoingEmail:
        key = f"{m.invitation_id}:{'reissue' if m.reissue else 'first'}"
        return self._invitation_email("invitation", key, m, company_name, reissue=m.reissue)

    def invitation_reminder(self, m: InvitationReminderDueV1, company_name: str | None) -> OutgoingEmail:
        key = f"{m.invitation_id}:{m.reminder_number}"
        return self._invitation_email("invitation_reminder", key, m, company_name, reminder_number=m.reminder_number)

    def portal_link(self, m: PortalLinkRequestedV1) -> OutgoingEmail:
        """A portal sign-in link, to the address that asked for it (one email per link)."""
        context = {"first_name": m.first_name, "sign_in_url": m.sign_in_url, "expires_at": m.expires_at}
        return self._email("portal_link", m.link_id, context, to=clean_addresses([m.email]), related_id=m.link_id)

    def certificate(self, m: CertificateIssuedV1, company_name: str | None) -> OutgoingEmail:
        context = {
            "company_name": company_name,
            "contractor_name": m.contractor_name,
            "certificate_number": m.certificate_number,
            "holder_name": m.holder_name,
            "coverage_types": m.coverage_types,
            "effective_date": m.effective_date,
            "end_date": m.end_date,
            "policy_number": m.policy_number,
            "download_url": m.download_url,
            "supersedes": m.supersedes,
        }
        filename = m.filename or f"certificate-{m.certificate_number}.pdf"
        return self._email(
            "certificate",
            m.certificate_id,
            context,
            to=clean_addresses([m.contractor_email]),
            attachments=[Attachment(filename, "application/pdf", m.pdf)],
            related_id=m.certificate_id,
            contractor_id=m.contractor_id,
        )

    def _coverage_email(
        self, template: str, key: str, m: CoverageCancelledV1 | CoverageExtendedV1, company_name: str | None, **context: Any
    ) -> OutgoingEmail:
        """A change to a coverage, told to the contractor it covers."""
        terms = m.terms
        context |= {
            "company_name": company_name,
            "contractor_name": m.contractor_name,
            "coverage_types": terms.coverage_types,
            "effective_date": terms.effective_date,
            "end_date": terms.end_date,
        }
        return self._email(
            template,
            key,
            context,
            to=clean_addresses([m.contractor_email]),
            related_id=terms.coverage_id,
            contractor_id=terms.contractor_id,
        )

    def coverage_cancelled(self, m: CoverageCancelledV1, company_name: str | None) -> OutgoingEmail:
        return self._coverage_email("coverage_cancelled", m.terms.coverage_id, m, company_name, reason=m.reason)

    def coverage_extended(self, m: CoverageExtendedV1, company_name: str | None) -> OutgoingEmail:
        key = f"{m.terms.coverage_id}:{m.terms.end_date.isoformat()}"
        return self._coverage_email("coverage_extended", key, m, company_name, previous_end_date=m.previous_end_date)

    def po_reminder(self, m: PoReminderDueV1, company_name: str | None) -> OutgoingEmail:
        shown = m.assignments[: self.po_reminder_max_rows]
        context = {
            "company_name": company_name,
            "filename": m.filename,
            "uploaded_at": m.uploaded_at,
            "assignments": shown,
            "total": len(m.assignments),
            "more": len(m.assignments) - len(shown),
            "missing_po_url": self.dashboard_url + self.missing_po_path,
        }
        return self._email(
            "po_reminder", m.import_batch_id, context, to=clean_addresses(m.to_emails), related_id=m.import_batch_id
        )

    def coverage_gap(self, m: CoverageGapAlertDueV1, company_name: str | None, to: list[str]) -> OutgoingEmail:
        """The daily coverage-gap alert, to the company; one per company and UTC day (the key)."""
        shown = m.gaps[: self.po_reminder_max_rows]
        total = max(m.gap_count, len(m.gaps))
        context = {
            "company_name": company_name,
            "day": m.day,
            "within_days": m.within_days,
            "gaps": shown,
            "total": total,
            "more": total - len(shown),
            "gaps_url": self.dashboard_url + "/contractors?gaps=1",
        }
        day = m.day.isoformat()
        return self._email("coverage_gap", day, context, to=clean_addresses(to), related_id=f"coverage_gaps:{day}")

    def invoice(self, m: InvoiceIssuedV1, company_name: str | None) -> OutgoingEmail:
        to = clean_addresses([m.to_email])
        cc = clean_addresses(m.cc_emails, exclude=to)
        if not to:  # no PO contact: the billing email becomes the addressee
            to, cc = cc, []
        shown = m.lines[:INVOICE_MAX_LINES]
        context = {
            "company_name": company_name,
            "invoice_number": m.invoice_number,
            "po_number": m.po_number,
            "period": m.period,
            "issued_at": m.issued_at,
            "due_date": m.due_date,
            "currency": m.currency,
            "premium_cents": m.premium_cents,
            "platform_fee_cents": m.platform_fee_cents,
            "total_cents": m.total_cents,
            "lines": shown,
            "line_count": len(m.lines),
            "more": len(m.lines) - len(shown),
        }
        return self._email(
            "invoice",
            m.invoice_id,
            context,
            to=to,
            cc=cc,
            attachments=[Attachment(m.filename or f"invoice-{m.invoice_number}.pdf", "application/pdf", m.pdf)],
            related_id=m.invoice_id,
        )

    def webhook_disabled(
        self,
        *,
        endpoint_id: str,
        url: str,
        failing_since: datetime,
        disabled_at: datetime,
        company_name: str | None,
        to: list[str],
    ) -> OutgoingEmail:
        """To the company's owner: an endpoint failed for days and was disabled."""
        context = {
            "company_name": company_name,
            "endpoint_id": endpoint_id,
            "url": url,
            "failing_since": failing_since,
            "disabled_at": disabled_at,
            "webhooks_url": f"{self.dashboard_url}/webhooks",
        }
        return self._email("webhook_disabled", f"{endpoint_id}:{disabled_at.isoformat()}", context, to=to, related_id=endpoint_id)
