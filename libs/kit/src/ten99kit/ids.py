"""Public ids in 1099Policy's style: a short prefix and 128 random bits (``cn_3kQ...``)."""

from __future__ import annotations

import re
import secrets
import uuid

from ulid import ULID

__all__ = ["PREFIXES", "is_id", "new_id", "new_message_id", "new_ulid_id"]

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

#: prefixes in use, so that a typo fails loudly
PREFIXES = frozenset(
    # tenants and people: company, user, API key; 1099Policy's resources; ours
    "co us ak en cn jb jc an qt ias pl in ev whe ci ib inv cv coi cr dl ml ikey wh dc fl ca".split()
)


def _base62(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        n, r = divmod(n, 62)
        out.append(_ALPHABET[r])
    return "".join(reversed(out))


def new_id(prefix: str) -> str:
    """``<prefix>_`` followed by 22 base62 characters (128 bits from `secrets`)."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    return f"{prefix}_{_base62(secrets.randbits(128), 22)}"


def new_ulid_id(prefix: str) -> str:
    """``<prefix>_`` + a ULID (time-ordered, 80 random bits), as 1099Policy's ``ias_`` ids."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    return f"{prefix}_{ULID()}"


_ID_RE = re.compile(r"^([a-z]+)_[0-9A-Za-z]{20,40}$")


def is_id(value: str, prefix: str) -> bool:
    m = _ID_RE.match(value or "")
    return bool(m and m.group(1) == prefix)


def new_message_id() -> str:
    return str(uuid.uuid4())
