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
from typing import Any

from sqlalchemy import insert, select, update
from ten99_contracts.contractor_v1 import AssignmentExtendedV1
from ten99kit import ApiError, NotFound, UnitOfWork, get_logger, insert_ignore, new_id, utcnow

from ..adapters.db import assignments, contractors, integration_links, integration_secrets, jobs
from ..domain import rules
from ..domain.integrations import PROVIDERS, IntakeEvent, is_accepted, parse_payload, verify_signature
from ..domain.values import name_key
from .context import Context, lock_intake
from .intake import ensure_entities
from .messages import emit_assignment_state, emit_contractor, emit_po_set, job_snapshot

__all__ = ["read_secret", "receive_webhook", "rotate_secret"]

log = get_logger(__name__)


def _check_provider(provider: str) -> None:
    if provider not in PROVIDERS:
        raise NotFound(f"No integration {provider!r} (there are: {', '.join(PROVIDERS)})")


SECRET_PREFIX = "whsec_"  # noqa: S105 (the prefix every secret shows)


def _new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _secret_view(ctx: Context, provider: str, row: dict[str, Any] | None, *, reveal: bool = False) -> dict[str, Any]:
    """What anyone with access to Settings may see: whether a secret is set, since when, and its
    last four characters. The secret itself only with ``reveal`` (the answer to a rotation)."""
    secret = ctx.secrets.decrypt(row["secret_encrypted"]) if row else None
    view: dict[str, Any] = {
        "object": "integration_secret",
        "provider": provider,
        "configured": secret is not None,
        "hint": f"{SECRET_PREFIX}…{secret[-4:]}" if secret else None,
        "signature_header": "X-Ten99-Signature",
        "signature_scheme": 't=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>',
        "created_at": row["created_at"].isoformat() if row else None,
        "rotated_at": row["rotated_at"].isoformat() if row and row["rotated_at"] else None,
    }
    if reveal:
        view["secret"] = secret
    return view


async def _secret_row(uow: UnitOfWork, tenant_id: str, provider: str) -> dict[str, Any] | None:
    t = integration_secrets.c
    row = (
        (await uow.session.execute(select(integration_secrets).where(t.tenant_id == tenant_id, t.provider == provider)))
        .mappings()
        .first()
    )
    return dict(row) if row else None


async def read_secret(ctx: Context, tenant_id: str, provider: str) -> dict[str, Any]:
    """Whether the company has a signing secret for ``provider``, and its hint; never the secret
    (it is shown once, when made: `rotate_secret`)."""
    _check_provider(provider)
    async with ctx.db.uow() as uow:
        row = await _secret_row(uow, tenant_id, provider)
    return _secret_view(ctx, provider, row)


async def rotate_secret(ctx: Context, tenant_id: str, provider: str) -> dict[str, Any]:
    """A new secret (the first one, or a replacement: the old one stops working at once), shown
    in this answer and never again."""
    _check_provider(provider)
    now = ctx.now()
    async with ctx.db.uow() as uow:
        row = await _secret_row(uow, tenant_id, provider)
        encrypted = ctx.secrets.encrypt(_new_secret())
        if row is None:  # (if a concurrent first request wins, its secret is the one in force, and shown)
            await uow.session.execute(
                insert_ignore(integration_secrets, uow.db.dialect).values(
                    tenant_id=tenant_id, provider=provider, secret_encrypted=encrypted, created_at=now, rotated_at=None
                )
            )
        else:
            t = integration_secrets.c
            await uow.session.execute(
                update(integration_secrets)
                .where(t.tenant_id == tenant_id, t.provider == provider)
                .values(secret_encrypted=encrypted, rotated_at=now)
            )
        await uow.commit()
        row = await _secret_row(uow, tenant_id, provider)
    assert row is not None
    return _secret_view(ctx, provider, row, reveal=True)


async def receive_webhook(ctx: Context, tenant_id: str, provider: str, body: bytes, signature: str | None) -> dict[str, Any]:
    _check_provider(provider)
    async with ctx.db.session() as s:
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
        return {"status": "ignored", "reason": "only deliveries for an accepted engagement are synced"}
    event = parse_payload(provider, payload, ctx.today())
    async with ctx.db.uow() as uow:
        result = await _sync(uow, ctx, tenant_id, event, hashlib.sha256(body).hexdigest())
        await uow.commit()
    log.info("integrations.synced", provider=provider, status=result["status"], assignment=result["assignment"])
    return result


async def _sync(uow: UnitOfWork, ctx: Context, tenant_id: str, event: IntakeEvent, payload_hash: str) -> dict[str, Any]:
    await lock_intake(uow, tenant_id)
    s = uow.session
    now, today = ctx.now(), ctx.today()
    lt = integration_links.c
    link = (
        (
            await s.execute(
                select(integration_links).where(
                    lt.tenant_id == tenant_id, lt.provider == event.provider, lt.external_id == event.external_id
                )
            )
        )
        .mappings()
        .first()
    )
    changed: set[str] = set()

    # contractor: the linked one, else the one with this email, else a new one
    contractor = None
    if link:
        contractor = (await s.execute(select(contractors).where(contractors.c.id == link["contractor_id"]))).mappings().first()
    if contractor is None:
        contractor = (
            (
                await s.execute(
                    select(contractors).where(
                        contractors.c.tenant_id == tenant_id, contractors.c.email_key == event.email.casefold()
                    )
                )
            )
            .mappings()
            .first()
        )
    details: dict[str, Any] = {
        "first_name": event.first_name,
        "last_name": event.last_name,
        "email": event.email,
        "email_key": event.email.casefold(),
        "address": event.address,
    }
    if event.phone:
        details["phone"] = event.phone
    if event.company_name:
        details["company_name"] = event.company_name
    if contractor is None:
        c: dict[str, Any] = {
            "id": new_id("cn"),
            "tenant_id": tenant_id,
            "middle_name": None,
            "phone": None,
            "company_name": None,
            **details,
            "tax_id_encrypted": None,
            "tax_id_masked": None,
            "custom_metadata": event.contractor_metadata,
            "withhold_premium": None,
            "source": event.provider,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        await s.execute(insert(contractors).values(**c))
        emit_contractor(uow, c, created=True)
        changed.add("contractor")
    else:
        c = dict(contractor)
        diff: dict[str, Any] = {k: val for k, val in details.items() if c.get(k) != val}
        if "email_key" in diff:
            taken = (
                await s.execute(
                    select(contractors.c.id).where(
                        contractors.c.tenant_id == tenant_id,
                        contractors.c.email_key == diff["email_key"],
                        contractors.c.id != c["id"],
                    )
                )
            ).first()
            if taken:
                raise ApiError(f"Another contractor already has the email {event.email}", error_code="duplicate_email")
        metadata = {**(c["custom_metadata"] or {}), **event.contractor_metadata}
        if metadata != c["custom_metadata"]:
            diff["custom_metadata"] = metadata
        if diff:
            diff.update(version=c["version"] + 1, updated_at=now)
            await s.execute(update(contractors).where(contractors.c.id == c["id"]).values(**diff))
            c.update(diff)
            emit_contractor(uow, c, created=False)
            changed.add("contractor")

    # end client and job (one job per external engagement: each carries its own pay)
    entity = (await ensure_entities(uow, tenant_id, {name_key(event.entity_name): event.entity_name}, now))[
        name_key(event.entity_name)
    ]
    natural_key = f"{event.provider}:{event.external_id}"
    job_values: dict[str, Any] = {
        "entity_id": entity["id"],
        "category_code": event.category_code,
        "name": event.job_name,
        "description": event.description,
        "wage": event.wage_cents,
        "wage_type": event.wage_type,
        "work_state": event.work_state,
    }
    job = (
        (await s.execute(select(jobs).where(jobs.c.tenant_id == tenant_id, jobs.c.natural_key == natural_key))).mappings().first()
    )
    if job is None:
        j: dict[str, Any] = {
            "id": new_id("jb"),
            "tenant_id": tenant_id,
            **job_values,
            "years_experience": None,
            "address": None,
            "custom_metadata": event.job_metadata,
            "withhold_premium": None,
            "natural_key": natural_key,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        await s.execute(insert(jobs).values(**j))
    else:
        j = dict(job)
        job_diff: dict[str, Any] = {k: val for k, val in job_values.items() if j.get(k) != val}
        if job_diff:
            job_diff.update(version=j["version"] + 1, updated_at=now)
            await s.execute(update(jobs).where(jobs.c.id == j["id"]).values(**job_diff))
            j.update(job_diff)
            changed.add("job")
    snapshot = job_snapshot(j, entity)

    # the assignment
    a: dict[str, Any] | None = None
    if link:
        found = (await s.execute(select(assignments).where(assignments.c.id == link["assignment_id"]))).mappings().first()
        a = dict(found) if found else None
    status = "updated"
    if a is None:
        a = {
            "id": new_id("an"),
            "tenant_id": tenant_id,
            "contractor_id": c["id"],
            "job_id": j["id"],
            "effective_date": event.effective_date,
            "end_date": event.end_date,
            "dedupe_key": f"{event.effective_date.isoformat()}:{event.end_date.isoformat()}",
            "coverage_types": rules.coverage_types_for(entity["required_coverage"]),
            "po_number": event.po_number,
            "po_contact_email": event.po_contact_email,
            "campaign": event.campaign,
            "po_set_at": now if event.po_number else None,
            "po_set_by": event.provider if event.po_number else None,
            "status": "pending",
            "cancel_reason": None,
            "cancelled_at": None,
            "deleted_at": None,
            "import_batch_id": None,
            "source": event.provider,
            "version": 1,
            "coverage_bound_at": None,
            "created_at": now,
            "updated_at": now,
        }
        await s.execute(insert(assignments).values(**a))
        emit_assignment_state(uow, a, c, snapshot, created=True)
        if a["po_number"]:
            emit_po_set(uow, a, previous_po_number=None, set_by=event.provider)
        status = "created"
    elif a["status"] == "cancelled" or a["deleted_at"] is not None:
        status = "updated" if changed else "unchanged"
    else:
        previous = dict(a)
        a_diff: dict[str, Any] = {}
        extended_from = None
        started = today >= a["effective_date"] or a["coverage_bound_at"] is not None
        if not started and (event.effective_date, event.end_date) != (a["effective_date"], a["end_date"]):
            a_diff.update(effective_date=event.effective_date, end_date=event.end_date)
        elif started and event.end_date > a["end_date"] and event.end_date <= rules.latest_end(a["effective_date"]):
            extended_from = a["end_date"]
            a_diff["end_date"] = event.end_date
        for key, val in (
            ("po_number", event.po_number),
            ("po_contact_email", event.po_contact_email),
            ("campaign", event.campaign),
        ):
            if val and a[key] != val:
                a_diff[key] = val
        if a_diff or "job" in changed:
            a_diff.update(version=a["version"] + 1, updated_at=now)
            if "po_number" in a_diff:
                a_diff.update(po_set_at=now, po_set_by=event.provider)
            await s.execute(update(assignments).where(assignments.c.id == a["id"]).values(**a_diff))
            a.update(a_diff)
            if extended_from is not None:
                uow.emit(
                    AssignmentExtendedV1(
                        assignment_id=a["id"],
                        contractor_id=a["contractor_id"],
                        previous_end_date=extended_from,
                        end_date=a["end_date"],
                    ),
                    tenant_id=tenant_id,
                    aggregate_id=a["id"],
                    aggregate_version=a["version"],
                )
            if set(a_diff) - {"version", "updated_at", "po_set_at", "po_set_by", "end_date", "po_number", "po_contact_email"} or (
                "job" in changed or ("end_date" in a_diff and extended_from is None)
            ):
                emit_assignment_state(uow, a, c, snapshot, created=False)
            if {"po_number", "po_contact_email", "campaign"} & set(a_diff) and a["po_number"]:
                emit_po_set(uow, a, previous_po_number=previous["po_number"], set_by=event.provider)
            changed.add("assignment")
        status = "updated" if changed else "unchanged"

    if link is None:
        await s.execute(
            insert(integration_links).values(
                tenant_id=tenant_id,
                provider=event.provider,
                external_id=event.external_id,
                contractor_id=c["id"],
                job_id=j["id"],
                assignment_id=a["id"],
                payload_sha256=payload_hash,
                created_at=now,
                updated_at=now,
            )
        )
    elif link["payload_sha256"] != payload_hash:
        await s.execute(
            update(integration_links)
            .where(integration_links.c.pk == link["pk"])
            .values(payload_sha256=payload_hash, contractor_id=c["id"], updated_at=now)
        )
    return {"status": status, "provider": event.provider, "external_id": event.external_id,
            "contractor": c["id"], "job": j["id"], "assignment": a["id"]}  # fmt: skip
