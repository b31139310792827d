"""A contractor the company deleted (``ContractorDeletedV1``): nothing of theirs stays usable.

- The local copy is kept with ``deleted_at`` (a placeholder if the contractor was never seen), so
  that a registration or update arriving later on its own subject cannot bring them back; a new
  quote or application session for them is refused (``invalid_contractor_id``), and so is a new
  session or a change for a quote of theirs made before.
- Their pending opt-in link expires (``InvitationExpiredV1``, 1099Policy's ``application.expired``)
  with the sessions that wait on it; an open API session expires too. Their link or session URL
  then answers the "expired" page, and the contractor is sent to the session's ``cancel_url``.
- Completed applications stay as they are (history: the policy service decides about policies).

Safe to run twice: every change is conditional on the state it changes.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update
from ten99_contracts import Envelope
from ten99_contracts.contractor_v1 import ContractorDeletedV1
from ten99kit import UnitOfWork

from ..adapters import store
from ..adapters.db import application_sessions, contractors
from .invitations import close_as_expired

__all__ = ["on_contractor_deleted"]


async def on_contractor_deleted(uow: UnitOfWork, envelope: Envelope[ContractorDeletedV1]) -> None:
    tenant_id, contractor_id = envelope.tenant_id, envelope.data.contractor_id
    now = uow.clock.now()
    await _keep_deleted(uow, tenant_id, envelope.data, now)
    # lock order everywhere: the contractor, then the invitation, then the session
    await store.contractor(uow.session, tenant_id, contractor_id, lock=True)
    invitation = await store.open_invitation(uow.session, tenant_id, contractor_id, lock=True)
    if invitation is not None:
        await close_as_expired(uow, [invitation], now)
    sessions = application_sessions.c
    await uow.session.execute(
        update(application_sessions)
        .where(sessions.tenant_id == tenant_id, sessions.contractor_id == contractor_id, sessions.status == "open")
        .values(status="expired", expired_at=now, version=sessions.version + 1)
    )


async def _keep_deleted(uow: UnitOfWork, tenant_id: str, data: ContractorDeletedV1, now: datetime) -> None:
    placeholder = {
        "tenant_id": tenant_id,
        "contractor_id": data.contractor_id,
        "first_name": "",
        "last_name": "",
        "email": data.email,
        "phone": None,
        "address": None,
        "company_name": None,
        # the oldest possible state: any registration or update that arrives later fills the details in
        "observed_at": datetime(1970, 1, 1, tzinfo=UTC),
        "version": 0,
        "deleted_at": now,
    }
    stmt = store.dialect_insert(uow.session, contractors).values(placeholder)
    stmt = stmt.on_conflict_do_update(
        index_elements=[contractors.c.tenant_id, contractors.c.contractor_id],
        set_={"deleted_at": now},
        where=contractors.c.deleted_at.is_(None),
    )
    await uow.session.execute(stmt)
