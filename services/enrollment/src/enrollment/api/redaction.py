"""Keep opt-in tokens out of logs.

The token in ``/v1/opt-in/<token>`` is a secret (whoever holds it can answer for the
contractor). The kit's request log writes the request path once the response is sent; this
middleware runs inside that log, after routing, and replaces the token in the path it will read.
"""

from __future__ import annotations

import re

from litestar.types import ASGIApp, Receive, Scope, Send

__all__ = ["REDACTED", "redact_opt_in_tokens"]

REDACTED = "<token>"
_TOKEN_PATH = re.compile(r"(/v1/opt-in/)[^/?]+")


def redact_opt_in_tokens(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await app(scope, receive, send)
        finally:
            path = scope.get("path", "")
            if scope["type"] == "http" and "/v1/opt-in/" in path:
                scope["path"] = _TOKEN_PATH.sub(rf"\g<1>{REDACTED}", path)
                scope["raw_path"] = scope["path"].encode()

    return middleware
