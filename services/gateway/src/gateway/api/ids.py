"""What may stand in a URL the gateway passes on: prefixed ids, opt-in tokens, signed-link tokens,
integration names. Checked before a value is used or forwarded, so that nothing a caller writes in
a path (``..``, an encoded ``/`` or ``\\``, ``;``, control characters, non-ASCII) reaches a service
or an httpx URL.

Patterns are matched with `re.fullmatch`: a ``$`` would also accept a trailing newline.
"""

from __future__ import annotations

import re

from litestar.exceptions import NotFoundException

__all__ = [
    "INTEGRATION_PROVIDERS",
    "is_id",
    "is_integration_provider",
    "is_opt_in_token",
    "is_signed_link_token",
    "require_id",
]

#: ``<prefix>_`` and 20 to 40 ASCII letters and digits: `ten99kit.ids.new_id` (22 base62 characters)
#: and `new_ulid_id` (26 Crockford base32 characters) both fit
_ID = re.compile(r"([a-z]{2,4})_[0-9A-Za-z]{20,40}")
#: the enrollment service's opt-in tokens are 43 base64url characters; some room either way
_OPT_IN_TOKEN = re.compile(r"[A-Za-z0-9_-]{8,128}")
#: itsdangerous' URL-safe signed tokens (base64url and dots), as the certificate emails carry
_SIGNED_LINK_TOKEN = re.compile(r"[A-Za-z0-9_.-]{1,2000}")

INTEGRATION_PROVIDERS = ("worksuite", "creatoriq")


def is_id(value: object, prefix: str) -> bool:
    """Whether ``value`` is an id with ``prefix`` (``is_id("cn_3kQ...", "cn")``)."""
    if not isinstance(value, str):
        return False
    found = _ID.fullmatch(value)
    return found is not None and found.group(1) == prefix


def require_id(value: object, prefix: str, what: str) -> str:
    """``value`` if it is an id with ``prefix``; else a 404 (the page's error handler shows it)."""
    if not is_id(value, prefix):
        raise NotFoundException(f"There is no {what} at this address.")
    assert isinstance(value, str)
    return value


def is_opt_in_token(value: object) -> bool:
    return isinstance(value, str) and _OPT_IN_TOKEN.fullmatch(value) is not None


def is_signed_link_token(value: object) -> bool:
    return isinstance(value, str) and _SIGNED_LINK_TOKEN.fullmatch(value) is not None


def is_integration_provider(value: object) -> bool:
    return value in INTEGRATION_PROVIDERS
