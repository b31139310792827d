"""Every cookie the gateway sets is ``Secure`` outside the local development default: the session,
the login form's CSRF cookie and the flash message alike, so that no page can forget it."""

from __future__ import annotations

from typing import Any

from litestar.types import ASGIApp, Receive, Scope, Send

__all__ = ["secure_cookies"]


def _secured(value: bytes) -> bytes:
    attributes = {part.strip().lower() for part in value.split(b";")[1:]}
    return value if b"secure" in attributes else value + b"; Secure"


def secure_cookies(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def send_secure(message: Any) -> None:
            if message["type"] == "http.response.start" and message.get("headers"):
                message["headers"] = [
                    (name, _secured(value) if name.lower() == b"set-cookie" else value) for name, value in message["headers"]
                ]
            await send(message)

        await app(scope, receive, send_secure)

    return middleware
