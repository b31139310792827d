"""Who asks: the gateway names the requester of every call it makes to a service (the kit's
``actor``, sent as ``X-Ten99-Actor`` and written into every message the change causes;
docs/audit-ledger.md). A client never names itself: whatever it sent in that header is dropped
before a route runs, and the dashboard's login, the API key or the portal session binds the actor."""

from __future__ import annotations

from typing import Any

from litestar.types import ASGIApp, Receive, Scope, Send
from ten99_contracts import actor_of
from ten99kit.logging import actor, bind_actor

__all__ = ["act_as_api_key", "act_as_contractor", "act_as_user", "forget_client_actor"]


def forget_client_actor(app: ASGIApp) -> ASGIApp:
    """The kit binds ``X-Ten99-Actor`` from the request (right for a service, which only the
    gateway calls); at the gateway that header comes from the internet, so it is forgotten."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        actor.set(None)
        await app(scope, receive, send)

    return middleware


def act_as_user(user_id: str) -> None:
    bind_actor(actor_of("user", user_id))


def act_as_api_key(key_id: str) -> None:
    bind_actor(actor_of("api_key", key_id))


def act_as_contractor(contractor_id: Any) -> None:
    """A contractor signed in to the portal, acting at one company."""
    bind_actor(actor_of("contractor", str(contractor_id)))
