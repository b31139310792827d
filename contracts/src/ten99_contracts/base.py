"""The message base class, the envelope every message travels in, and the subject registry.

Messages are frozen, keyword-only msgspec Structs. They never forbid unknown fields, so a
producer may append a field with a default without breaking a consumer (ARCHITECTURE.md §3).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

import msgspec

__all__ = [
    "ACTOR_OPERATOR",
    "ACTOR_SYSTEM",
    "REGISTRY",
    "Envelope",
    "Message",
    "actor_of",
    "decode_envelope",
    "encode_envelope",
    "message_type",
    "valid_actor",
]

#: subject -> message type, filled in as message modules are imported (see `registry.py`).
REGISTRY: dict[str, type[Message]] = {}


class Message(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every contract message. A concrete message sets ``SUBJECT`` and ``EXAMPLE``."""

    SUBJECT: ClassVar[str]
    #: fields of the message that carry a bearer secret (a link that works for whoever holds it):
    #: stored copies keep them redacted once used (`ten99kit.redaction`); never a field of the schema
    SECRET_FIELDS: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        subject = cls.__dict__.get("SUBJECT")
        if subject is not None:
            if subject in REGISTRY and REGISTRY[subject] is not cls:
                raise TypeError(f"subject {subject} is registered twice")
            REGISTRY[subject] = cls


T = TypeVar("T")


class Envelope(msgspec.Struct, Generic[T], frozen=True, kw_only=True):
    """What travels on the bus. ``id`` is also the ``Nats-Msg-Id`` and the consumer's inbox key."""

    id: str
    subject: str
    occurred_at: datetime
    tenant_id: str
    aggregate_id: str
    aggregate_version: int = 0
    correlation_id: str | None = None
    causation_id: str | None = None
    data: T
    #: who asked for the change (`valid_actor`), set where it was requested and kept by every
    #: reaction; None from a producer older than the field (read as unknown, not as "system")
    actor: str | None = None


#: a person or credential of the company: ``user:us_...`` (dashboard user), ``api_key:ak_...``
#: (public API), ``contractor:cn_...`` (opt-in page or portal); or ``operator`` (an operator
#: credential on ``/_ops``), ``system`` (the clock, or a reaction with no requester)
_ACTOR = re.compile(r"(?:user:us|api_key:ak|contractor:cn)_[0-9A-Za-z]{1,40}|operator|system")
ACTOR_OPERATOR = "operator"
ACTOR_SYSTEM = "system"


def valid_actor(value: str | None) -> bool:
    return value is not None and _ACTOR.fullmatch(value) is not None


def actor_of(kind: str, entity_id: str) -> str:
    """``actor_of("user", "us_...")`` -> ``"user:us_..."``; ValueError if that is no actor."""
    value = f"{kind}:{entity_id}"
    if not valid_actor(value):
        raise ValueError(f"not an actor: {value!r}")
    return value


def message_type(subject: str) -> type[Message]:
    from . import registry  # noqa: F401  (imports every message module)

    try:
        return REGISTRY[subject]
    except KeyError:
        raise KeyError(f"no contract for subject {subject!r}") from None


_decoders: dict[str, msgspec.json.Decoder[Any]] = {}
_encoder = msgspec.json.Encoder()


def decode_envelope(raw: bytes, subject: str) -> Envelope[Any]:
    """Decode a message of ``subject``; raises ``msgspec.DecodeError``/``ValidationError`` on bad input."""
    decoder = _decoders.get(subject)
    if decoder is None:
        decoder = _decoders[subject] = msgspec.json.Decoder(Envelope[message_type(subject)])  # type: ignore[misc]
    return decoder.decode(raw)


def encode_envelope(envelope: Envelope[Any]) -> bytes:
    return _encoder.encode(envelope)
