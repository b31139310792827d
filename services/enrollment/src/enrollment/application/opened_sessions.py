"""What the API caller who opened an application session asked of it (``POST /v1/apply/sessions``):
the quote to bind exactly as priced, and where the hosted page sends the contractor afterwards
(``success_url`` after completing; ``cancel_url`` when ineligible, abandoned or expired). The opt-in
form reads it to show the quote and to answer with the right address."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from ten99kit.db import Row

from ..adapters.db import application_sessions, quotes
from .jobs import find_job

__all__ = ["Opened", "latest_session_of_invitation", "open_session_of_invitation", "opened"]

_sc = application_sessions.c


@dataclass(frozen=True)
class Opened:
    """A session's quote (None: an opt-in through the link alone) with its job's name and end
    client for display, and its redirect addresses."""

    quote: Row | None = None
    job_name: str = ""
    entity_name: str = ""
    success_url: str | None = None
    cancel_url: str | None = None

    def redirect_for(self, outcome: str | None) -> str | None:
        return self.success_url if outcome == "completed" else self.cancel_url


async def opened(session: Any, tenant_id: str, session_id: str | None) -> Opened:
    """What session ``session_id`` was opened with; empty for None or an unknown session."""
    if not session_id:
        return Opened()
    found = (
        await session.execute(
            select(_sc.quote_id, _sc.success_url, _sc.cancel_url).where(_sc.tenant_id == tenant_id, _sc.id == session_id)
        )
    ).first()
    if found is None:
        return Opened()
    quote = None
    if found.quote_id:
        q = select(quotes).where(quotes.c.tenant_id == tenant_id, quotes.c.id == found.quote_id, quotes.c.source == "api")
        quote = (await session.execute(q)).mappings().first()
    job = await find_job(session, tenant_id, quote["job_id"]) if quote is not None else None
    return Opened(
        quote=quote,
        job_name=job["name"] if job else "",
        entity_name=job["entity_name"] if job else "",
        success_url=found.success_url,
        cancel_url=found.cancel_url,
    )


async def open_session_of_invitation(session: Any, tenant_id: str, invitation_id: str) -> str | None:
    q = select(_sc.id).where(_sc.tenant_id == tenant_id, _sc.invitation_id == invitation_id, _sc.status == "open").limit(1)
    return (await session.execute(q)).scalar()


async def latest_session_of_invitation(session: Any, tenant_id: str, invitation_id: str) -> str | None:
    """The newest session that waited on the link (whatever became of it)."""
    q = (
        select(_sc.id)
        .where(_sc.tenant_id == tenant_id, _sc.invitation_id == invitation_id)
        .order_by(_sc.created_at.desc(), _sc.id.desc())
        .limit(1)
    )
    return (await session.execute(q)).scalar()
