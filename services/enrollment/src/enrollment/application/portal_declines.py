"""A contractor declining coverage from the portal (issue 15), one company at a time, and what the
portal shows of their answer there.

The portal session names an email; the company must have a (non-deleted) contractor under that
email, else 404 as for a company that does not exist (corrections.py does the same), so a session
can never reach another company's or another person's invitation. Declining takes the open
invitation(s) of the email's contractors at that company through `declines.decline_once`, as the
opt-in page does: the same reasons and note, the same ``ApplicationDeclinedV1`` once, declining
again changes nothing, and after the assignment's end 409 ``assignment_ended``. With no open and no
declined invitation there is nothing to decline (409 ``nothing_to_decline``).

The answer view names the opt-in page (the link recomputed, as the profile page's) while it can
still be used: to opt in (an open link) or to opt in after all (a decline that can still change).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import msgspec
from sqlalchemy import bindparam, func, select
from ten99_contracts import actor_of
from ten99kit import ApiError, Database, NotFound
from ten99kit.db import Row
from ten99kit.ids import is_id
from ten99kit.logging import bind_actor

from ..adapters import store
from ..adapters.db import contractors
from .declines import DeclineSubmission, changeable_until, check_decline, decline_once
from .invitations import effective_status, latest_invitation
from .links import OptInLinks
from .opened_sessions import open_session_of_invitation
from .portal import session_of

__all__ = ["PortalCoverageAnswer", "coverage_answer", "decline_from_portal"]

_NOT_YOURS = "You have no details at this company."

#: the email's contractor ids at a company, locked (every writer locks the contractor first)
_CONTRACTORS_OF_EMAIL = (
    select(contractors.c.contractor_id)
    .where(
        contractors.c.tenant_id == bindparam("tid"),
        func.lower(contractors.c.email) == bindparam("email"),
        contractors.c.deleted_at.is_(None),
    )
    .order_by(contractors.c.contractor_id)
)


class PortalCoverageAnswer(msgspec.Struct, kw_only=True):
    """The contractor's answer to a company's invitation, as the portal shows it."""

    #: none (never invited) | pending | declined | answered | expired | revoked
    status: str
    #: an open link: the contractor may decline it here
    can_decline: bool
    declined_at: datetime | None = None
    #: has_own_insurance | does_not_want | other
    decline_reason: str | None = None
    decline_note: str | None = None
    #: a decline can still change while an assignment of its link has not ended (until that day)
    can_change: bool = False
    changeable_until: date | None = None
    #: the opt-in page: to opt in (an open link) or to opt in after all (a decline that can change)
    opt_in_url: str | None = None
    #: a decline just asked for: whether it changed anything (False: it was declined already)
    changed: bool = False


async def _contractor_ids(session: Any, tenant_id: str, email: str, *, lock: bool) -> list[str]:
    """The session's email's contractors at the company (404 when it has none)."""
    if not is_id(tenant_id, "co"):
        raise NotFound(_NOT_YOURS)
    query = _CONTRACTORS_OF_EMAIL.with_for_update() if lock else _CONTRACTORS_OF_EMAIL
    ids = list((await session.execute(query, {"tid": tenant_id, "email": email})).scalars())
    if not ids:
        raise NotFound(_NOT_YOURS)
    return ids


async def _answer(session: Any, links: OptInLinks, invitation: Row | None, now: datetime) -> PortalCoverageAnswer:
    if invitation is None:
        return PortalCoverageAnswer(status="none", can_decline=False)
    status = effective_status(invitation, now)
    if status != "declined":
        url = links.url_of(invitation) if status == "pending" else None
        return PortalCoverageAnswer(status=status, can_decline=status == "pending", opt_in_url=url)
    live = await store.live_assignments_of_invitation(session, invitation["tenant_id"], invitation["id"])
    until = changeable_until(live)
    can_change = until is not None and until >= now.date()
    return PortalCoverageAnswer(
        status=status,
        can_decline=False,
        declined_at=invitation["declined_at"],
        decline_reason=invitation["decline_reason"],
        decline_note=invitation["decline_note"],
        can_change=can_change,
        changeable_until=until,
        opt_in_url=links.url_of(invitation) if can_change else None,
    )


async def coverage_answer(db: Database, links: OptInLinks, session_token: str, tenant_id: str) -> PortalCoverageAnswer:
    """The portal session's contractor's answer at ``tenant_id`` (404 if not theirs)."""
    async with db.reads() as s:
        now = db.clock.now()
        who = await session_of(s, session_token, now)
        ids = await _contractor_ids(s, tenant_id, who.email, lock=False)
        return await _answer(s, links, await latest_invitation(s, tenant_id, *ids), now)


async def _declinable(session: Any, tenant_id: str, contractor_ids: list[str], now: datetime) -> list[Row]:
    """The contractors' open invitations, locked; else their latest if it is a decline (declining
    again changes nothing); 409 when there is neither. Each with its ``open_session_id``."""
    found = [await store.open_invitation(session, tenant_id, cid, lock=True) for cid in contractor_ids]
    pending = [i for i in found if i is not None and effective_status(i, now) == "pending"]
    if not pending and (latest := await latest_invitation(session, tenant_id, *contractor_ids)) is not None:
        pending = [latest] if latest["status"] == "declined" else []
    if pending:
        # the application session an API caller opened for the link, as the opt-in page reads it
        return [{**i, "open_session_id": await open_session_of_invitation(session, tenant_id, i["id"])} for i in pending]
    raise ApiError("There is no open invitation to decline at this company.", error_code="nothing_to_decline", status_code=409)


async def decline_from_portal(
    db: Database, links: OptInLinks, session_token: str, tenant_id: str, form: DeclineSubmission
) -> PortalCoverageAnswer:
    """Decline the portal session's contractor's open invitation(s) at ``tenant_id``, as the opt-in
    page would; the answer as it now stands."""
    async with db.uow() as uow:
        now = uow.clock.now()
        who = await session_of(uow.session, session_token, now)
        reason, note = check_decline(form)
        # lock order everywhere: the contractor, then their invitation
        ids = await _contractor_ids(uow.session, tenant_id, who.email, lock=True)
        changed = False
        for invitation in await _declinable(uow.session, tenant_id, ids, now):
            bind_actor(actor_of("contractor", str(invitation["contractor_id"])))  # the portal's contractor asked
            changed = (await decline_once(uow, invitation, reason, note)) is not invitation or changed
        answer = await _answer(uow.session, links, await latest_invitation(uow.session, tenant_id, *ids), now)
        answer.changed = changed
        await uow.commit()
    return answer
