"""Bearer secrets in stored copies of messages.

Some messages carry a secret that works for whoever holds it (an opt-in link opens a
contractor's pre-filled form and lets them opt in). It travels once, in clear, to the one who
uses it; the copies kept afterwards keep a redacted version. A contract names such fields of its
data in ``SECRET_FIELDS``; the relay (`ten99kit.outbox`) redacts them in an outbox row when it
marks the row sent, and a service redacts the same way what it stores after use (notification:
the body of an email once sent).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import msgspec
from ten99_contracts import message_type

__all__ = ["REDACTED", "redact_secret", "redacted_payload", "secret_fields"]

REDACTED = "[redacted]"

#: shorter secrets lose their tail too (four characters of them would be too many)
_SHOWN_TAIL_FROM = 16


def redact_secret(value: str) -> str:
    """``https://x.test/opt-in/Zk3...wxyz`` -> ``https://x.test/opt-in/[redacted]…wxyz``: where a
    link pointed and the last four characters of its secret (to tell links apart when helping
    someone), never one that works. What follows the last ``/`` is the secret."""
    head, slash, secret = value.rpartition("/")
    if secret.startswith(REDACTED):
        return value
    tail = "…" + secret[-4:] if len(secret) >= _SHOWN_TAIL_FROM else ""
    return f"{head}{slash}{REDACTED}{tail}"


@functools.cache
def secret_fields(subject: str) -> tuple[str, ...]:
    """The fields of ``subject``'s data that hold a secret (none for a subject without a contract)."""
    try:
        return tuple(message_type(subject).SECRET_FIELDS)
    except KeyError:
        return ()


def redacted_payload(payload: bytes, fields: Sequence[str]) -> bytes | None:
    """The encoded envelope ``payload`` with the secret ``fields`` of its data redacted, or None
    if it holds none of them. Everything else is kept as it was, unknown fields included."""
    envelope = msgspec.json.decode(payload)
    data = envelope.get("data") if isinstance(envelope, dict) else None
    if not isinstance(data, dict):
        return None
    changed = False
    for name in fields:
        value = data.get(name)
        if isinstance(value, str) and value:
            data[name] = redact_secret(value)
            changed = True
    return msgspec.json.encode(envelope) if changed else None
