"""The audit ledger's rules (docs/audit-ledger.md), no I/O: which messages are changes to record
(`LEDGER`: subject -> entity kind, entity id, action), the fields an entry keeps (flattened,
secrets and tax ids masked, documents left out), the diff against the entity's last snapshot, and
the hash chain: each entry's ``hash`` is sha256 over the canonical encoding of the entry (msgspec
JSON, keys sorted) including the previous entry's hash, so that an altered, removed or reordered
entry breaks every hash after it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
from ten99_contracts import Envelope
from ten99_contracts.billing_v1 import (
    BillingSettingsUpdatedV1,
    InvoiceCreditedV1,
    InvoiceIssuedV1,
    InvoicePaidV1,
    InvoiceVoidedV1,
)
from ten99_contracts.contractor_v1 import (
    AssignmentCancelledV1,
    AssignmentCreatedV1,
    AssignmentExtendedV1,
    AssignmentUpdatedV1,
    ContractorDeletedV1,
    ContractorRegisteredV1,
    ContractorUpdatedV1,
    ImportCompletedV1,
    IntegrationSecretRotatedV1,
    PoNumberSetV1,
)
from ten99_contracts.enrollment_v1 import (
    ApplicationCompletedV1,
    ApplicationDeclinedV1,
    ApplicationIneligibleV1,
    ContractorDetailsCorrectedV1,
    InvitationIssuedV1,
)
from ten99_contracts.gateway_v1 import (
    ApiKeyCreatedV1,
    ApiKeyRevokedV1,
    CompanyCreatedV1,
    FacilityLinkCreatedV1,
    FacilityLinkRevokedV1,
    UserAddedV1,
)
from ten99_contracts.notification_v1 import WebhookEndpointChangedV1
from ten99_contracts.policy_v1 import (
    CertificateIssuedV1,
    CoverageActivatedV1,
    CoverageBoundV1,
    CoverageCancelledV1,
    CoverageExpiredV1,
    CoverageExtendedV1,
    CoverageRetimedV1,
    PolicyActivatedV1,
    PolicyCancelledV1,
    PolicyReactivatedV1,
    UploadedCertificateReviewedV1,
)
from ten99kit.crypto import mask_tax_id
from ten99kit.redaction import REDACTED, redact_secret, secret_fields

__all__ = [
    "ENTITY_KINDS",
    "GENESIS",
    "LEDGER",
    "Change",
    "LedgerEntry",
    "change_of",
    "diff",
    "entry_hash",
    "instant",
    "masked_fields",
]

#: the previous hash of a company's first entry
GENESIS = "0" * 64

#: keys (last dotted part) whose values are tax ids: only the last four digits are kept
_TAX_ID_KEYS = ("tax_id", "tax_identification", "ssn", "ein")
#: keys whose values are secrets or personal data an audit trail does not need: never kept
_SECRET_KEYS = ("password", "secret", "token", "api_key", "key_hash", "authorization", "date_of_birth")
_PRIVATE_KEYS = frozenset({"ip_address", "user_agent"})
#: bearer links (whoever holds one can use it): where they pointed, never one that works
_LINK_KEYS = frozenset({"opt_in_url", "download_url", "sign_in_url"})
#: documents and long lists that are no field of the entity (the PDF, quotes, invoice lines)
_OMITTED = frozenset({"pdf", "assignments", "lines", "quote", "not_covered", "gaps", "send_email"})


@dataclass(frozen=True)
class _Rule:
    kind: str
    action: str
    entity_id: Callable[[Envelope[Any]], str]
    #: the message's field that names the action, for a message of several (``action`` then
    #: names none); the field is the entry's action, not one of the entity's fields
    action_field: str | None = None

    def action_of(self, envelope: Envelope[Any]) -> str:
        return str(getattr(envelope.data, self.action_field)) if self.action_field else self.action


def _field(name: str) -> Callable[[Envelope[Any]], str]:
    return lambda envelope: str(getattr(envelope.data, name))


def _terms(envelope: Envelope[Any]) -> str:
    return str(envelope.data.terms.coverage_id)


def _company(envelope: Envelope[Any]) -> str:
    return envelope.tenant_id


def _rules(kind: str, entity_id: Callable[[Envelope[Any]], str], **actions: type) -> dict[str, _Rule]:
    return {message.SUBJECT: _Rule(kind, action, entity_id) for action, message in actions.items()}  # type: ignore[attr-defined]


#: subject -> what its message changed. Messages about a contractor's enrollment are changes to
#: the contractor; coverage messages are keyed by the coverage id in their terms.
LEDGER: dict[str, _Rule] = {
    CompanyCreatedV1.SUBJECT: _Rule("company", "created", _company),
    UserAddedV1.SUBJECT: _Rule("user", "added", _field("user_id")),
    **_rules("api_key", _field("key_id"), created=ApiKeyCreatedV1, revoked=ApiKeyRevokedV1),
    **_rules("facility_link", _field("link_id"), created=FacilityLinkCreatedV1, revoked=FacilityLinkRevokedV1),
    # created, updated, enabled, disabled, deleted or secret_rotated: the message's ``change``
    WebhookEndpointChangedV1.SUBJECT: _Rule("webhook_endpoint", "", _field("endpoint_id"), action_field="change"),
    # keyed by the provider: a company has one signing secret per integration
    IntegrationSecretRotatedV1.SUBJECT: _Rule("integration_secret", "rotated", _field("provider")),
    **_rules(
        "contractor",
        _field("contractor_id"),
        created=ContractorRegisteredV1,
        updated=ContractorUpdatedV1,
        deleted=ContractorDeletedV1,
        invited=InvitationIssuedV1,
        opted_in=ApplicationCompletedV1,
        declined=ApplicationDeclinedV1,
        ineligible=ApplicationIneligibleV1,
        details_corrected=ContractorDetailsCorrectedV1,
    ),
    **_rules(
        "assignment",
        _field("assignment_id"),
        created=AssignmentCreatedV1,
        updated=AssignmentUpdatedV1,
        cancelled=AssignmentCancelledV1,
        extended=AssignmentExtendedV1,
        po_number_set=PoNumberSetV1,
    ),
    ImportCompletedV1.SUBJECT: _Rule("import", "completed", _field("import_batch_id")),
    **_rules(
        "policy",
        _field("policy_id"),
        activated=PolicyActivatedV1,
        cancelled=PolicyCancelledV1,
        reactivated=PolicyReactivatedV1,
    ),
    **_rules(
        "coverage",
        _terms,
        bound=CoverageBoundV1,
        activated=CoverageActivatedV1,
        retimed=CoverageRetimedV1,
        extended=CoverageExtendedV1,
        cancelled=CoverageCancelledV1,
        expired=CoverageExpiredV1,
    ),
    CertificateIssuedV1.SUBJECT: _Rule("certificate", "issued", _field("certificate_id")),
    UploadedCertificateReviewedV1.SUBJECT: _Rule("uploaded_certificate", "reviewed", _field("upload_id")),
    BillingSettingsUpdatedV1.SUBJECT: _Rule("billing_settings", "updated", _company),
    **_rules(
        "invoice",
        _field("invoice_id"),
        issued=InvoiceIssuedV1,
        paid=InvoicePaidV1,
        voided=InvoiceVoidedV1,
        credited=InvoiceCreditedV1,
    ),
}


ENTITY_KINDS = frozenset(rule.kind for rule in LEDGER.values())


@dataclass(frozen=True)
class Change:
    """What one message changed: the entity, the action, its fields as the message tells them,
    and the contractor it concerns (for the contractor's timeline), if any."""

    kind: str
    entity_id: str
    action: str
    fields: dict[str, Any]
    contractor_id: str | None


def change_of(envelope: Envelope[Any]) -> Change | None:
    rule = LEDGER.get(envelope.subject)
    if rule is None:
        return None
    fields = masked_fields(msgspec.to_builtins(envelope.data), secret_fields(envelope.subject))
    if rule.action_field:
        fields.pop(rule.action_field, None)
    contractor_id = envelope.data.contractor_id if rule.kind == "contractor" else _contractor_of(fields)
    return Change(rule.kind, rule.entity_id(envelope), rule.action_of(envelope), fields, contractor_id)


def _contractor_of(fields: Mapping[str, Any]) -> str | None:
    for key in ("contractor_id", "contractor.contractor_id", "terms.contractor_id"):
        value = fields.get(key)
        if isinstance(value, str):
            return value
    return None


def masked_fields(data: Mapping[str, Any], secrets: tuple[str, ...] = ()) -> dict[str, Any]:
    """``data`` flattened (``job.name``), without documents, with every secret and tax id masked."""
    return {key: value for key, value in _flat(data, "", secrets) if key.rpartition(".")[2] not in _OMITTED}


def _flat(data: Mapping[str, Any], prefix: str, secrets: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
    for name, value in data.items():
        key = f"{prefix}{name}"
        if name in _OMITTED:
            continue
        if isinstance(value, Mapping) and name != "custom_metadata":
            yield from _flat(value, f"{key}.", secrets)
        else:
            yield key, _masked(name, value, secrets)


def _masked(name: str, value: Any, secrets: tuple[str, ...]) -> Any:
    lowered = name.lower()
    if value is None:
        return None
    if any(part in lowered for part in _TAX_ID_KEYS):
        return mask_tax_id(str(value))
    if name in _LINK_KEYS or name in secrets:
        return redact_secret(value) if isinstance(value, str) else REDACTED
    if lowered in _PRIVATE_KEYS or any(part in lowered for part in _SECRET_KEYS):
        return REDACTED
    return value


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fields that changed: their values before and after (a field new to the entity has no
    before value; none is ever dropped: a message tells what it knows, not what it forgot)."""
    changed = sorted(key for key, value in after.items() if key not in before or before[key] != value)
    return {key: before[key] for key in changed if key in before}, {key: after[key] for key in changed}


def instant(value: datetime) -> str:
    """One spelling of an instant whatever the database hands back (SQLite: naive UTC)."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LedgerEntry(msgspec.Struct, frozen=True, kw_only=True):
    """What the hash covers: every column of an entry but its own hash and when it was recorded."""

    tenant_id: str
    seq: int
    occurred_at: str
    actor: str | None
    entity_kind: str
    entity_id: str
    contractor_id: str | None
    action: str
    subject: str
    before: dict[str, Any]
    after: dict[str, Any]
    correlation_id: str | None
    envelope_id: str
    prev_hash: str


_canonical = msgspec.json.Encoder(order="sorted")


def entry_hash(entry: LedgerEntry) -> str:
    return hashlib.sha256(_canonical.encode(entry)).hexdigest()
