"""Opt-in invitations: issue, attach, reissue (revoking the old link), show on the profile page,
and the clock-driven expiry and reminders.

An invitation is ``pending`` until the contractor answers (``answered``), it runs out
(``expired``, by the clock) or the company reissues it (``revoked``). A contractor has at most
one pending invitation (a partial unique index guarantees it); further assignments are attached
to it without a new email.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import bindparam, case, func, select, update
from ten99_contracts.enrollment_v1 import InvitationExpiredV1, InvitationIssuedV1, InvitationReminderDueV1, InvitationRevokedV1
from ten99kit import ApiError, Database, UnitOfWork, get_logger, new_id
from ten99kit.db import Row

from ..adapters import store
from ..adapters.db import application_sessions, contractors, invitation_assignments, invitations
from .links import OptInLinks

__all__ = [
    "InvitationView",
    "NewInvitation",
    "attach_assignments",
    "close_as_expired",
    "current_invitation",
    "effective_status",
    "emit_issued",
    "expire_due_invitations",
    "issue_invitation",
    "latest_invitation",
    "new_invitation",
    "reissue_invitation",
    "revoke_invitation",
    "send_due_reminders",
]

log = get_logger(__name__)


def effective_status(invitation: Row, now: datetime) -> str:
    """``pending`` until the clock passes ``expires_at`` (the expiry job records it later)."""
    if invitation["status"] == "pending" and invitation["expires_at"] <= now:
        return "expired"
    return str(invitation["status"])


@dataclass(frozen=True)
class NewInvitation:
    """A pending invitation about to be written, with the link it carries (never stored)."""

    row: Row
    url: str


def new_invitation(
    links: OptInLinks, now: datetime, *, tenant_id: str, contractor: Row, reissue: bool = False, invitation_id: str | None = None
) -> NewInvitation:
    invitation_id = invitation_id or new_id("inv")
    token = links.issue(invitation_id)
    expires_at = now + links.ttl
    row = {
        "id": invitation_id,
        "tenant_id": tenant_id,
        "contractor_id": contractor["contractor_id"],
        "email": contractor["email"],
        "nonce": token.nonce,
        "token_hash": token.token_hash,
        "status": "pending",
        "reissue": reissue,
        "issued_at": now,
        "expires_at": expires_at,
        "answered_at": None,
        "closed_at": None,
        "replaced_by": None,
        "session_id": None,
        "reminders_sent": 0,
        "reminder_slot": 0,
        "next_reminder_at": links.reminder_at(now, expires_at, 0),
        "version": 1,
    }
    return NewInvitation(row, links.url(token.token))


def emit_issued(uow: UnitOfWork, invitation: NewInvitation, contractor: Row, assignment_ids: Sequence[str]) -> None:
    row = invitation.row
    uow.emit(
        InvitationIssuedV1(
            invitation_id=row["id"],
            contractor_id=row["contractor_id"],
            email=row["email"],
            first_name=contractor["first_name"],
            last_name=contractor["last_name"],
            opt_in_url=invitation.url,
            expires_at=row["expires_at"],
            assignment_ids=list(assignment_ids),
            reissue=row["reissue"],
        ),
        tenant_id=row["tenant_id"],
        aggregate_id=row["id"],
        aggregate_version=1,
    )


async def issue_invitation(
    uow: UnitOfWork,
    links: OptInLinks,
    *,
    tenant_id: str,
    contractor: Row,
    assignment_ids: Sequence[str],
    reissue: bool = False,
    invitation_id: str | None = None,
) -> NewInvitation:
    """A new pending invitation for ``assignment_ids``, and the email it causes."""
    invitation = new_invitation(
        links, uow.clock.now(), tenant_id=tenant_id, contractor=contractor, reissue=reissue, invitation_id=invitation_id
    )
    await uow.session.execute(invitations.insert().values(invitation.row))
    await attach_assignments(uow, tenant_id, invitation.row["id"], assignment_ids)
    emit_issued(uow, invitation, contractor, assignment_ids)
    return invitation


async def attach_assignments(uow: UnitOfWork, tenant_id: str, invitation_id: str, assignment_ids: Sequence[str]) -> None:
    if not assignment_ids:
        return
    await uow.session.execute(
        store.dialect_insert(uow.session, invitation_assignments).on_conflict_do_nothing(),
        [{"invitation_id": invitation_id, "assignment_id": a, "tenant_id": tenant_id} for a in assignment_ids],
    )
    await store.mark_assignments(uow.session, tenant_id, assignment_ids, "invited")


async def revoke_invitation(uow: UnitOfWork, invitation: Row, *, replaced_by: str | None) -> None:
    now = uow.clock.now()
    version = invitation["version"] + 1
    await uow.session.execute(
        update(invitations)
        .where(invitations.c.id == invitation["id"], invitations.c.tenant_id == invitation["tenant_id"])
        .values(status="revoked", closed_at=now, replaced_by=replaced_by, next_reminder_at=None, version=version)
    )
    uow.emit(
        InvitationRevokedV1(invitation_id=invitation["id"], contractor_id=invitation["contractor_id"], replaced_by=replaced_by),
        tenant_id=invitation["tenant_id"],
        aggregate_id=invitation["id"],
        aggregate_version=version,
    )


async def reissue_invitation(db: Database, links: OptInLinks, tenant_id: str, contractor_id: str) -> InvitationView:
    """Revoke the contractor's open link (if any) and email a new one for the same assignments."""
    async with db.uow() as uow:
        who = await store.contractor(uow.session, tenant_id, contractor_id, lock=True)
        if who is None:
            raise ApiError(f"No contractor {contractor_id}", error_code="invalid_contractor_id", status_code=404)
        old = await store.open_invitation(uow.session, tenant_id, contractor_id, lock=True)
        if old is not None:
            ids = [r["assignment_id"] for r in await store.live_assignments_of_invitation(uow.session, tenant_id, old["id"])]
        else:
            ids = await store.assignments_awaiting_opt_in(uow.session, tenant_id, contractor_id, uow.clock.today())
        if not ids:
            latest = await latest_invitation(uow.session, tenant_id, contractor_id)
            if latest is not None and latest["status"] == "answered":
                raise ApiError(
                    "The contractor has answered their invitation and no assignment awaits an opt-in",
                    error_code="application_already_complete",
                    status_code=409,
                )
            raise ApiError("The contractor has no assignment awaiting an opt-in", error_code="conflict", status_code=409)
        new_invitation_id = new_id("inv")
        if old is not None:
            # first, since a contractor may have only one pending link
            await revoke_invitation(uow, old, replaced_by=new_invitation_id)
        issued = await issue_invitation(
            uow, links, tenant_id=tenant_id, contractor=who, assignment_ids=ids, reissue=True, invitation_id=new_invitation_id
        )
        if old is not None:
            # an API-created session that was waiting on the old link follows it to the new one
            await store.update_open_sessions_of(uow.session, tenant_id, old["id"], invitation_id=new_invitation_id)
        await uow.commit()
    return invitation_view(issued.row, links, issued.row["issued_at"], ids)


async def latest_invitation(session: Any, tenant_id: str, *contractor_ids: str) -> Row | None:
    """The open invitation of the contractor(s) if any, else the latest to be issued."""
    q = (
        select(invitations)
        .where(invitations.c.tenant_id == tenant_id, invitations.c.contractor_id.in_(contractor_ids))
        # the open one if any, else the latest to be issued (then closed)
        .order_by(
            case((invitations.c.status == "pending", 0), else_=1),
            invitations.c.issued_at.desc(),
            func.coalesce(invitations.c.answered_at, invitations.c.closed_at).desc(),
            invitations.c.id.desc(),
        )
        .limit(1)
    )
    return (await session.execute(q)).mappings().first()


class InvitationView(msgspec.Struct, kw_only=True):
    """The profile page's view of an invitation (dashboard JSON, ISO times)."""

    invitation_id: str
    contractor_id: str
    status: str  # pending | answered | expired | revoked | declined
    #: None only after the token secret was rotated (reissue then)
    opt_in_url: str | None
    opt_in_url_unavailable: str | None
    email: str
    expires_at: str | None
    sent_at: str | None
    answered_at: str | None
    reminders_sent: int
    reissue: bool
    session_id: str | None
    assignment_ids: list[str]
    #: a declined invitation's: when, why (has_own_insurance | does_not_want | other) and the note
    declined_at: str | None = None
    decline_reason: str | None = None
    decline_note: str | None = None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def invitation_view(invitation: Row, links: OptInLinks, now: datetime, assignment_ids: Sequence[str]) -> InvitationView:
    url = links.url_of(invitation)
    return InvitationView(
        invitation_id=invitation["id"],
        contractor_id=invitation["contractor_id"],
        status=effective_status(invitation, now),
        opt_in_url=url,
        opt_in_url_unavailable=None if url else "The link cannot be shown since the token secret changed; reissue it.",
        email=invitation["email"],
        expires_at=_iso(invitation["expires_at"]),
        sent_at=_iso(invitation["issued_at"]),
        answered_at=_iso(invitation["answered_at"]),
        reminders_sent=invitation["reminders_sent"],
        reissue=invitation["reissue"],
        session_id=invitation["session_id"],
        assignment_ids=list(assignment_ids),
        declined_at=_iso(invitation.get("declined_at")),
        decline_reason=invitation.get("decline_reason"),
        decline_note=invitation.get("decline_note"),
    )


async def current_invitation(db: Database, links: OptInLinks, tenant_id: str, contractor_id: str) -> InvitationView:
    """The contractor's latest invitation, for the profile page (404 when there is none)."""
    async with db.reads() as s:
        latest = await latest_invitation(s, tenant_id, contractor_id)
        if latest is None:
            raise ApiError(f"No invitation for contractor {contractor_id}", error_code="resource_not_found", status_code=404)
        ids = list(
            (
                await s.execute(
                    select(invitation_assignments.c.assignment_id)
                    .where(
                        invitation_assignments.c.tenant_id == tenant_id,
                        invitation_assignments.c.invitation_id == latest["id"],
                    )
                    .order_by(invitation_assignments.c.assignment_id)
                )
            ).scalars()
        )
    return invitation_view(latest, links, db.clock.now(), ids)


async def _in_batches(db: Database, batch: int, handle: Callable[[UnitOfWork], Awaitable[tuple[int, int]]]) -> int:
    """Run ``handle`` (which reads at most ``batch`` due rows, handles them and says how many it
    read and how many count) in one transaction after another until a batch comes back short."""
    total = 0
    while True:
        async with db.uow() as uow:
            read, counted = await handle(uow)
            if not read:
                return total
            await uow.commit()
        total += counted
        if read < batch:
            return total


async def expire_due_invitations(db: Database, now: datetime, batch: int) -> int:
    """Close pending invitations whose time ran out (and the open sessions waiting on them)."""
    inv = invitations.c
    due = (
        select(inv.id, inv.tenant_id, inv.contractor_id, inv.version)
        .where(inv.status == "pending", inv.expires_at <= now)
        .order_by(inv.expires_at)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )

    async def expire(uow: UnitOfWork) -> tuple[int, int]:
        rows = (await uow.session.execute(due)).mappings().all()
        if rows:
            await close_as_expired(uow, rows, now)
        return len(rows), len(rows)

    return await _in_batches(db, batch, expire)


async def close_as_expired(uow: UnitOfWork, rows: Sequence[Row], now: datetime) -> None:
    """Record that pending invitations ran out (and the open sessions waiting on them)."""
    ids = [row["id"] for row in rows]
    inv = invitations.c
    await uow.session.execute(
        update(invitations)
        .where(inv.id.in_(ids), inv.status == "pending")
        .values(status="expired", closed_at=now, next_reminder_at=None, version=inv.version + 1)
    )
    await uow.session.execute(
        update(application_sessions)
        .where(application_sessions.c.invitation_id.in_(ids), application_sessions.c.status == "open")
        .values(status="expired", expired_at=now, version=application_sessions.c.version + 1)
    )
    for row in rows:
        uow.emit(
            InvitationExpiredV1(invitation_id=row["id"], contractor_id=row["contractor_id"]),
            tenant_id=row["tenant_id"],
            aggregate_id=row["id"],
            aggregate_version=row["version"] + 1,
        )


_RECORD_REMINDER = (
    update(invitations)
    .where(invitations.c.id == bindparam("b_id"))
    .values(
        reminders_sent=bindparam("b_sent"),
        reminder_slot=bindparam("b_slot"),
        next_reminder_at=bindparam("b_next"),
        version=bindparam("b_version"),
    )
)


async def send_due_reminders(db: Database, links: OptInLinks, now: datetime, batch: int) -> int:
    """One reminder per pending invitation whose next reminder is due. If the worker was away
    past several slots, only the latest due one is sent (never a burst of stale reminders)."""
    inv, person = invitations.c, contractors.c
    due = (
        select(invitations, person.first_name, person.last_name, person.email.label("current_email"))
        .join(contractors, (person.tenant_id == inv.tenant_id) & (person.contractor_id == inv.contractor_id))
        .where(inv.status == "pending", inv.next_reminder_at <= now, inv.expires_at > now)
        .order_by(inv.next_reminder_at)
        .limit(batch)
        .with_for_update(of=invitations, skip_locked=True)
    )

    async def remind(uow: UnitOfWork) -> tuple[int, int]:
        rows = (await uow.session.execute(due)).mappings().all()
        if not rows:
            return 0, 0
        reminders = [_remind(uow, links, invitation, now) for invitation in rows]
        await uow.session.execute(_RECORD_REMINDER, [r.record for r in reminders])
        return len(rows), sum(1 for r in reminders if r.sent)

    return await _in_batches(db, batch, remind)


@dataclass(frozen=True)
class _Reminder:
    sent: bool
    #: the parameters of `_RECORD_REMINDER`
    record: dict[str, Any]


def _remind(uow: UnitOfWork, links: OptInLinks, invitation: Row, now: datetime) -> _Reminder:
    """Emit the invitation's reminder (unless its link cannot be recomputed since the secret
    was rotated) and say how to record it."""
    slot = max(links.slots_due(invitation["issued_at"], now), invitation["reminder_slot"] + 1)
    url = links.url_of(invitation)
    if url is not None:
        uow.emit(
            InvitationReminderDueV1(
                invitation_id=invitation["id"],
                contractor_id=invitation["contractor_id"],
                email=invitation["current_email"],  # the company may have corrected it since
                first_name=invitation["first_name"],
                last_name=invitation["last_name"],
                opt_in_url=url,
                expires_at=invitation["expires_at"],
                reminder_number=slot,
            ),
            tenant_id=invitation["tenant_id"],
            aggregate_id=invitation["id"],
            aggregate_version=invitation["version"] + 1,
        )
    else:
        log.warning("invitation.reminder_skipped_secret_rotated", invitation_id=invitation["id"])
    sent = url is not None
    record = {
        "b_id": invitation["id"],
        "b_sent": invitation["reminders_sent"] + (1 if sent else 0),
        "b_slot": slot,
        "b_next": links.reminder_at(invitation["issued_at"], invitation["expires_at"], slot),
        "b_version": invitation["version"] + 1,
    }
    return _Reminder(sent, record)
