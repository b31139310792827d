"""A contractor declines coverage on their opt-in link, and may change their mind.

A decline (reason ``has_own_insurance`` | ``does_not_want`` | ``other``, an optional note of at
most 500 characters) moves the pending invitation to ``declined``: no reminder follows (the
reminder and expiry jobs only take pending invitations) and ``ApplicationDeclinedV1`` is emitted
once; declining again changes nothing. While an assignment of the link has not ended (its end date
is today or later, UTC) the same link shows the decline and reopens the form on request; an opt-in
then answers the invitation as usual (``ApplicationCompletedV1``). The link's own expiry does not
end that: the assignment's end does. After it, a decline is refused (409 ``assignment_ended``) and
the page says the answer can no longer be changed.

The opt-in page (a link) and the portal (a signed-in email, per company) both decline through
`decline_once`, so the rules and the message are the same wherever the contractor declines.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import msgspec
from sqlalchemy import bindparam, update
from ten99_contracts.enrollment_v1 import ApplicationDeclinedV1
from ten99kit import ApiError, InvalidInput, UnitOfWork
from ten99kit.db import Row

from ..adapters import store
from ..adapters.db import invitations

__all__ = [
    "NOTE_MAX",
    "REASONS",
    "DeclineSubmission",
    "changeable_until",
    "check_decline",
    "decline_once",
    "record_decline",
    "refuse_if_ended",
]

#: the reasons a contractor can give, as the page words them
REASONS = {
    "has_own_insurance": "I have my own insurance",
    "does_not_want": "I do not want this coverage",
    "other": "Other reason",
}
NOTE_MAX = 500


class DeclineSubmission(msgspec.Struct, kw_only=True):
    reason: str = ""
    note: str | None = None


def check_decline(form: DeclineSubmission) -> tuple[str, str | None]:
    """The reason and the note (stripped, None when empty); 400 ``invalid_input`` per field."""
    errors: dict[str, str] = {}
    if form.reason not in REASONS:
        errors["reason"] = "Choose one of: " + ", ".join(REASONS)
    note = (form.note or "").strip() or None
    if note is not None and len(note) > NOTE_MAX:
        errors["note"] = f"At most {NOTE_MAX} characters"
    if errors:
        raise InvalidInput(errors)
    return form.reason, note


def changeable_until(live: Sequence[Row]) -> date | None:
    """The last day the contractor may still decline or opt in: the latest end of the link's live
    assignments (None when none is left)."""
    return max((a["end_date"] for a in live), default=None)


def _ended(live: Sequence[Row], today: date) -> ApiError | None:
    until = changeable_until(live)
    if until is not None and until >= today:
        return None
    message = (
        f"Your assignment ended on {until.isoformat()}: your answer can no longer be changed."
        if until is not None
        else "There is no assignment left on this link: your answer can no longer be changed."
    )
    return ApiError(message, error_code="assignment_ended", status_code=409)


_DECLINE = (
    update(invitations)
    .where(invitations.c.id == bindparam("iid"), invitations.c.tenant_id == bindparam("tid"), invitations.c.status == "pending")
    .values(
        status="declined",
        declined_at=bindparam("at"),
        decline_reason=bindparam("reason"),
        decline_note=bindparam("note"),
        next_reminder_at=None,
        version=invitations.c.version + 1,
    )
)


async def record_decline(
    uow: UnitOfWork, invitation: Row, reason: str, note: str | None, open_session_id: str | None
) -> dict[str, Any]:
    """Decline the pending (locked) invitation and emit the message; the columns written."""
    tenant_id, invitation_id = invitation["tenant_id"], invitation["id"]
    now = uow.clock.now()
    live = await store.live_assignments_of_invitation(uow.session, tenant_id, invitation_id)
    if (refused := _ended(live, now.date())) is not None:
        raise refused
    params = {"iid": invitation_id, "tid": tenant_id, "at": now, "reason": reason, "note": note}
    await uow.session.execute(_DECLINE, params)
    version = invitation["version"] + 1
    uow.emit(
        ApplicationDeclinedV1(
            contractor_id=invitation["contractor_id"],
            invitation_id=invitation_id,
            session_id=open_session_id,
            reason=reason,
            note=note,
            declined_at=now,
            assignment_ids=[a["assignment_id"] for a in live],
        ),
        tenant_id=tenant_id,
        aggregate_id=invitation_id,
        aggregate_version=version,
    )
    return {"status": "declined", "declined_at": now, "decline_reason": reason, "decline_note": note, "version": version}


def refuse_if_ended(live: Sequence[Row], today: date) -> None:
    if (refused := _ended(live, today)) is not None:
        raise refused


async def decline_once(uow: UnitOfWork, invitation: Row, reason: str, note: str | None) -> Row:
    """Decline the (locked) pending invitation, or leave a declined one as it is (declining again
    changes nothing; 409 ``assignment_ended`` once its assignments have ended); the invitation as
    it now stands."""
    if invitation["status"] == "declined":
        live = await store.live_assignments_of_invitation(uow.session, invitation["tenant_id"], invitation["id"])
        refuse_if_ended(live, uow.clock.now().date())
        return invitation
    written = await record_decline(uow, invitation, reason, note, invitation["open_session_id"])
    return {**invitation, **written}
