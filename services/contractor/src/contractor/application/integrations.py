"""Integration webhooks (Worksuite, CreatorIQ): signing secrets per company and provider, and the
sync of one accepted engagement into a contractor, a job and an assignment.

Idempotent per external id: the first delivery creates (or, for the contractor, matches by email),
and ``integration_links`` remembers what the external id became; a repeated delivery changes
nothing and emits nothing; an updated one updates in place (contractor details, the job, the
assignment's dates while it has not started, a later end date as an extension, the PO fields).
Payload shapes and the signature scheme: domain/integrations.py.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType
from sqlalchemy import Table, insert, select, update
from ten99_contracts import JobSnapshot
from ten99_contracts.contractor_v1 import AssignmentExtendedV1, IntegrationSecretRotatedV1
from ten99kit import ApiError, NotFound, UnitOfWork, get_logger, insert_ignore, new_id, utcnow
from ten99kit.db import Row

from ..adapters.bulk import insert_assignments
from ..adapters.db import assignments, contractors, integration_links, integration_secrets, jobs
from ..domain import rules
from ..domain.assignments import PoFields, new_assignment
from ..domain.integrations import PROVIDERS, IntakeEvent, is_accepted, parse_payload, verify_signature
from ..domain.values import email_key, name_key
from .context import Context, lock_intake
from .directory import email_taken
from .intake import ensure_entities
from .messages import announce_new_assignment, emit_assignment_state, emit_contractor, emit_job, emit_po_set, job_snapshot

__all__ = ["IntegrationSecretView", "WebhookAnswer", "read_secret", "receive_webhook", "rotate_secret"]

log = get_logger(__name__)


def _check_provider(provider: str) -> None:
    if provider not in PROVIDERS:
        raise NotFound(f"No integration {provider!r} (there are: {', '.join(PROVIDERS)})")


SECRET_PREFIX = "whsec_"  # noqa: S105 (the prefix every secret shows)


def _new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


class IntegrationSecretView(msgspec.Struct, kw_only=True):
    """What anyone with access to Settings may see of a signing secret; ``secret`` itself only in
    the answer to a rotation."""

    object: str = "integration_secret"
    provider: str
    configured: bool
    #: ``whsec_…`` and the secret's last four characters
    hint: str | None
    signature_header: str = "X-Ten99-Signature"
    signature_scheme: str = 't=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>'
    created_at: str | None
    rotated_at: str | None
    secret: str | UnsetType = UNSET


class WebhookAnswer(msgspec.Struct, kw_only=True):
    """A delivery's outcome: ``ignored`` (with the reason), or ``created``/``updated``/``unchanged``
    with what the external id is here."""

    status: str
    reason: str | UnsetType = UNSET
    provider: str | UnsetType = UNSET
    external_id: str | UnsetType = UNSET
    contractor: str | UnsetType = UNSET
    job: str | UnsetType = UNSET
    assignment: str | UnsetType = UNSET


def _secret_view(ctx: Context, provider: str, row: Row | None, *, reveal: bool = False) -> IntegrationSecretView:
    """Whether a secret is set, since when, and its last four characters; the secret itself only
    with ``reveal`` (the answer to a rotation)."""
    secret = ctx.secrets.decrypt(row["secret_encrypted"]) if row else None
    return IntegrationSecretView(
        provider=provider,
        configured=secret is not None,
        hint=f"{SECRET_PREFIX}…{secret[-4:]}" if secret else None,
        created_at=row["created_at"].isoformat() if row else None,
        rotated_at=row["rotated_at"].isoformat() if row and row["rotated_at"] else None,
        secret=secret if reveal and secret is not None else UNSET,
    )


async def _secret_row(uow: UnitOfWork, tenant_id: str, provider: str) -> dict[str, Any] | None:
    t = integration_secrets.c
    row = (
        (await uow.session.execute(select(integration_secrets).where(t.tenant_id == tenant_id, t.provider == provider)))
        .mappings()
        .first()
    )
    return dict(row) if row else None


async def read_secret(ctx: Context, tenant_id: str, provider: str) -> IntegrationSecretView:
    """Whether the company has a signing secret for ``provider``, and its hint; never the secret
    (it is shown once, when made: `rotate_secret`)."""
    _check_provider(provider)
    async with ctx.db.uow() as uow:
        row = await _secret_row(uow, tenant_id, provider)
    return _secret_view(ctx, provider, row)


async def rotate_secret(ctx: Context, tenant_id: str, provider: str) -> IntegrationSecretView:
    """A new secret (the first one, or a replacement: the old one stops working at once), shown
    in this answer and never again; `IntegrationSecretRotatedV1` (its hint) tells the audit ledger."""
    _check_provider(provider)
    now = ctx.now()
    async with ctx.db.uow() as uow:
        row = await _secret_row(uow, tenant_id, provider)
        secret = _new_secret()
        encrypted = ctx.secrets.encrypt(secret)
        if row is None:  # (if a concurrent first request wins, its secret is the one in force, and shown)
            result = await uow.session.execute(
                insert_ignore(integration_secrets, uow.db.dialect).values(
                    tenant_id=tenant_id, provider=provider, secret_encrypted=encrypted, created_at=now, rotated_at=None
                )
            )
        else:
            t = integration_secrets.c
            result = await uow.session.execute(
                update(integration_secrets)
                .where(t.tenant_id == tenant_id, t.provider == provider)
                .values(secret_encrypted=encrypted, rotated_at=now)
            )
        if result.rowcount:  # type: ignore[attr-defined]
            message = IntegrationSecretRotatedV1(
                provider=provider, hint=f"{SECRET_PREFIX}…{secret[-4:]}", first=row is None, rotated_at=now
            )
            uow.emit(message, tenant_id=tenant_id, aggregate_id=f"integration_secret:{provider}")
        await uow.commit()
        row = await _secret_row(uow, tenant_id, provider)
    assert row is not None
    return _secret_view(ctx, provider, row, reveal=True)


async def receive_webhook(ctx: Context, tenant_id: str, provider: str, body: bytes, signature: str | None) -> WebhookAnswer:
    _check_provider(provider)
    async with ctx.db.reads() as s:
        t = integration_secrets.c
        encrypted = (await s.execute(select(t.secret_encrypted).where(t.tenant_id == tenant_id, t.provider == provider))).scalar()
    if encrypted is None:  # no secret yet: nothing can be signed correctly
        raise ApiError("Missing or invalid webhook signature", error_code="invalid_webhook_signature", status_code=401)
    verify_signature(
        signature,
        ctx.secrets.decrypt(encrypted),
        body,
        # the service clock, and the wall clock: a demo or test may have moved the service clock
        # while the sender signs with real time
        (int(ctx.now().timestamp()), int(utcnow().timestamp())),
        ctx.settings.integrations.signature_tolerance_s,
    )
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError("The webhook body is not JSON", error_code="invalid_input") from None
    if not is_accepted(provider, payload):
        return WebhookAnswer(status="ignored", reason="only deliveries for an accepted engagement are synced")
    event = parse_payload(provider, payload, ctx.today())
    async with ctx.db.uow() as uow:
        result = await _sync(uow, ctx, tenant_id, event, hashlib.sha256(body).hexdigest())
        await uow.commit()
    log.info("integrations.synced", provider=provider, status=result.status, assignment=result.assignment)
    return result


@dataclass
class _Sync:
    """One delivery being synced, and what its steps found or made."""

    uow: UnitOfWork
    tenant_id: str
    event: IntakeEvent
    now: datetime
    today: date
    #: what this external id became on an earlier delivery
    link: Row | None
    #: which of contractor, job, assignment this delivery changed
    changed: set[str] = field(default_factory=set)


async def _sync(uow: UnitOfWork, ctx: Context, tenant_id: str, event: IntakeEvent, payload_hash: str) -> WebhookAnswer:
    await lock_intake(uow, tenant_id)
    links = integration_links.c
    link_query = select(integration_links).where(
        links.tenant_id == tenant_id, links.provider == event.provider, links.external_id == event.external_id
    )
    link = (await uow.session.execute(link_query)).mappings().first()
    sync = _Sync(uow, tenant_id, event, ctx.now(), ctx.today(), link)
    contractor = await _sync_contractor(sync)
    entity, job = await _sync_job(sync)
    assignment, status = await _sync_assignment(sync, contractor, job_snapshot(job, entity), entity)
    await _remember(sync, contractor["id"], job["id"], assignment["id"], payload_hash)
    return WebhookAnswer(
        status=status,
        provider=event.provider,
        external_id=event.external_id,
        contractor=contractor["id"],
        job=job["id"],
        assignment=assignment["id"],
    )


async def _linked(sync: _Sync, table: Table, link_column: str) -> Row | None:
    """The row an earlier delivery of this external id made (if it is still there)."""
    if sync.link is None:
        return None
    query = select(table).where(table.c.id == sync.link[link_column])
    return (await sync.uow.session.execute(query)).mappings().first()


async def _sync_contractor(sync: _Sync) -> dict[str, Any]:
    """The linked contractor, else the one with this email (details updated), else a new one."""
    session, event = sync.uow.session, sync.event
    contractor = await _linked(sync, contractors, "contractor_id")
    if contractor is None:
        query = select(contractors).where(
            contractors.c.tenant_id == sync.tenant_id, contractors.c.email_key == email_key(event.email)
        )
        contractor = (await session.execute(query)).mappings().first()
    details: dict[str, Any] = {
        "first_name": event.first_name,
        "last_name": event.last_name,
        "email": event.email,
        "email_key": email_key(event.email),
        "address": event.address,
    }
    if event.phone:
        details["phone"] = event.phone
    if event.company_name:
        details["company_name"] = event.company_name
    if contractor is None:
        return await _create_contractor(sync, details)
    return await _update_contractor(sync, dict(contractor), details)


async def _create_contractor(sync: _Sync, details: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": new_id("cn"),
        "tenant_id": sync.tenant_id,
        "middle_name": None,
        "phone": None,
        "company_name": None,
        **details,
        "tax_id_encrypted": None,
        "tax_id_masked": None,
        "custom_metadata": sync.event.contractor_metadata,
        "withhold_premium": None,
        "source": sync.event.provider,
        "version": 1,
        "created_at": sync.now,
        "updated_at": sync.now,
    }
    await sync.uow.session.execute(insert(contractors).values(**row))
    emit_contractor(sync.uow, row, created=True)
    sync.changed.add("contractor")
    return row


async def _update_contractor(sync: _Sync, current: dict[str, Any], details: dict[str, Any]) -> dict[str, Any]:
    diff: dict[str, Any] = {k: val for k, val in details.items() if current.get(k) != val}
    if "email_key" in diff and await email_taken(sync.uow, sync.tenant_id, diff["email_key"], other_than=current["id"]):
        raise ApiError(f"Another contractor already has the email {sync.event.email}", error_code="duplicate_email")
    metadata = {**(current["custom_metadata"] or {}), **sync.event.contractor_metadata}
    if metadata != current["custom_metadata"]:
        diff["custom_metadata"] = metadata
    if not diff:
        return current
    diff.update(version=current["version"] + 1, updated_at=sync.now)
    await sync.uow.session.execute(update(contractors).where(contractors.c.id == current["id"]).values(**diff))
    current.update(diff)
    emit_contractor(sync.uow, current, created=False)
    sync.changed.add("contractor")
    return current


async def _sync_job(sync: _Sync) -> tuple[dict[str, Any], dict[str, Any]]:
    """The end client (matched by name) and the job: one per external engagement, since each
    carries its own pay."""
    event, session = sync.event, sync.uow.session
    entity_key = name_key(event.entity_name)
    entity = (await ensure_entities(sync.uow, sync.tenant_id, {entity_key: event.entity_name}, sync.now))[entity_key]
    natural_key = f"{event.provider}:{event.external_id}"
    values: dict[str, Any] = {
        "entity_id": entity["id"],
        "category_code": event.category_code,
        "name": event.job_name,
        "description": event.description,
        "wage": event.wage_cents,
        "wage_type": event.wage_type,
        "work_state": event.work_state,
    }
    query = select(jobs).where(jobs.c.tenant_id == sync.tenant_id, jobs.c.natural_key == natural_key)
    found = (await session.execute(query)).mappings().first()
    if found is None:
        job: dict[str, Any] = {
            "id": new_id("jb"),
            "tenant_id": sync.tenant_id,
            **values,
            "years_experience": None,
            "address": None,
            "custom_metadata": event.job_metadata,
            "withhold_premium": None,
            "natural_key": natural_key,
            "version": 1,
            "created_at": sync.now,
            "updated_at": sync.now,
        }
        await session.execute(insert(jobs).values(**job))
        emit_job(sync.uow, job, entity, created=True, source=event.provider)
        return entity, job
    job = dict(found)
    diff: dict[str, Any] = {k: val for k, val in values.items() if job.get(k) != val}
    if diff:
        diff.update(version=job["version"] + 1, updated_at=sync.now)
        await session.execute(update(jobs).where(jobs.c.id == job["id"]).values(**diff))
        job.update(diff)
        emit_job(sync.uow, job, entity, created=False, source=event.provider)
        sync.changed.add("job")
    return entity, job


async def _sync_assignment(
    sync: _Sync, contractor: dict[str, Any], snapshot: JobSnapshot, entity: Row
) -> tuple[dict[str, Any], str]:
    """The linked assignment (updated while it may change), else a new one; and the delivery's
    status: created, updated or unchanged."""
    session, event = sync.uow.session, sync.event
    current = await _linked(sync, assignments, "assignment_id")
    if current is None:
        row = new_assignment(
            tenant_id=sync.tenant_id,
            contractor_id=contractor["id"],
            job_id=snapshot.job_id,
            effective=event.effective_date,
            end=event.end_date,
            required_coverage=entity["required_coverage"],
            po=PoFields(event.po_number, event.po_contact_email, event.campaign, set_by=event.provider),
            source=event.provider,
            now=sync.now,
        )
        if row["id"] in await insert_assignments(session, [row], sync.uow.db.dialect):
            announce_new_assignment(sync.uow, row, contractor, snapshot, set_by=event.provider)
            return row, "created"
        # the same contractor, job and dates are there already (a link lost): sync that one
        query = select(assignments).where(
            assignments.c.tenant_id == sync.tenant_id,
            assignments.c.contractor_id == row["contractor_id"],
            assignments.c.job_id == row["job_id"],
            assignments.c.dedupe_key == row["dedupe_key"],
        )
        current = (await session.execute(query)).mappings().one()
    assignment = dict(current)
    if assignment["status"] != "cancelled" and assignment["deleted_at"] is None:
        await _update_assignment(sync, assignment, contractor, snapshot)
    return assignment, "updated" if sync.changed else "unchanged"


@dataclass(frozen=True)
class _AssignmentChange:
    values: dict[str, Any]
    #: the end date before, when the change is an extension
    extended_from: date | None


def _assignment_change(sync: _Sync, assignment: Row) -> _AssignmentChange:
    """What the delivery changes of a live assignment: its dates while it has not started, a later
    end date (within the year) as an extension once it has, and the PO fields it brings."""
    event = sync.event
    values: dict[str, Any] = {}
    extended_from = None
    started = sync.today >= assignment["effective_date"] or assignment["coverage_bound_at"] is not None
    if not started and (event.effective_date, event.end_date) != (assignment["effective_date"], assignment["end_date"]):
        values.update(effective_date=event.effective_date, end_date=event.end_date)
    elif started and assignment["end_date"] < event.end_date <= rules.latest_end(assignment["effective_date"]):
        extended_from = assignment["end_date"]
        values["end_date"] = event.end_date
    for key, val in (("po_number", event.po_number), ("po_contact_email", event.po_contact_email), ("campaign", event.campaign)):
        if val and assignment[key] != val:
            values[key] = val
    return _AssignmentChange(values, extended_from)


async def _update_assignment(sync: _Sync, assignment: dict[str, Any], contractor: Row, snapshot: JobSnapshot) -> None:
    """Apply the delivery's change to live assignment ``a`` (in place) and say what changed: an
    extension, the new state, the PO."""
    change = _assignment_change(sync, assignment)
    diff = dict(change.values)
    if not diff and "job" not in sync.changed:
        return
    previous_po_number = assignment["po_number"]
    diff.update(version=assignment["version"] + 1, updated_at=sync.now)
    if "po_number" in diff:
        diff.update(po_set_at=sync.now, po_set_by=sync.event.provider)
    await sync.uow.session.execute(update(assignments).where(assignments.c.id == assignment["id"]).values(**diff))
    assignment.update(diff)
    if change.extended_from is not None:
        extended = AssignmentExtendedV1(
            assignment_id=assignment["id"],
            contractor_id=assignment["contractor_id"],
            previous_end_date=change.extended_from,
            end_date=assignment["end_date"],
        )
        sync.uow.emit(extended, tenant_id=sync.tenant_id, aggregate_id=assignment["id"], aggregate_version=assignment["version"])
    state_changed = set(diff) - {"version", "updated_at", "po_set_at", "po_set_by", "end_date", "po_number", "po_contact_email"}
    if state_changed or "job" in sync.changed or ("end_date" in diff and change.extended_from is None):
        emit_assignment_state(sync.uow, assignment, contractor, snapshot, created=False)
    if {"po_number", "po_contact_email", "campaign"} & set(diff) and assignment["po_number"]:
        emit_po_set(sync.uow, assignment, previous_po_number=previous_po_number, set_by=sync.event.provider)
    sync.changed.add("assignment")


async def _remember(sync: _Sync, contractor_id: str, job_id: str, assignment_id: str, payload_hash: str) -> None:
    """What the external id became (kept for the next delivery of it)."""
    event, session, link = sync.event, sync.uow.session, sync.link
    if link is None:
        await session.execute(
            insert(integration_links).values(
                tenant_id=sync.tenant_id,
                provider=event.provider,
                external_id=event.external_id,
                contractor_id=contractor_id,
                job_id=job_id,
                assignment_id=assignment_id,
                payload_sha256=payload_hash,
                created_at=sync.now,
                updated_at=sync.now,
            )
        )
    elif link["payload_sha256"] != payload_hash:
        await session.execute(
            update(integration_links)
            .where(integration_links.c.pk == link["pk"])
            .values(payload_sha256=payload_hash, contractor_id=contractor_id, updated_at=sync.now)
        )
