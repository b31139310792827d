"""Structured JSON logs (structlog) carrying a correlation id that also travels in message envelopes."""

from __future__ import annotations

import logging
import random
import re
import sys
from collections.abc import MutableMapping
from contextvars import ContextVar
from typing import Any

import structlog
from ten99_contracts import valid_actor

from .settings import LogSettings

__all__ = [
    "actor",
    "bind_actor",
    "bind_correlation",
    "causation_id",
    "configure_logging",
    "correlation_id",
    "get_logger",
    "new_correlation_id",
    "redact_path",
]

#: the correlation id of the request or message being handled
correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
#: the id of the message being handled (the cause of whatever it publishes)
causation_id: ContextVar[str | None] = ContextVar("causation_id", default=None)
#: who asked for what is being done (`ten99_contracts.valid_actor`): written into every envelope
#: emitted meanwhile, so that a change and all its reactions name the requester (docs/audit-ledger.md)
actor: ContextVar[str | None] = ContextVar("actor", default=None)


def bind_actor(value: str | None) -> str | None:
    """Bind ``value`` as the actor if it is one (`valid_actor`), else nothing; returns what is bound."""
    value = value if valid_actor(value) else None
    actor.set(value)
    return value


_SENSITIVE = ("tax_identification", "tax_id", "password", "token", "secret", "authorization", "api_key")


def new_correlation_id() -> str:
    """32 hex digits, unique enough to find one request's lines (not a secret: no system call for
    randomness on every request, which `uuid.uuid4` makes)."""
    return f"{random.getrandbits(128):032x}"


def bind_correlation(value: str | None) -> str:
    value = value or new_correlation_id()
    correlation_id.set(value)
    structlog.contextvars.bind_contextvars(correlation_id=value)
    return value


#: URL path segments that are bearer secrets: the opt-in link's token (whoever holds it answers
#: for the contractor), wherever such a path is logged (request logs of the gateway and of
#: enrollment, the gateway's warnings about a service call)
_SECRET_PATH = re.compile(r"(/opt-in/)[^/?#\s\"']+")
REDACTED_SEGMENT = "<token>"


def redact_path(value: str) -> str:
    return _SECRET_PATH.sub(rf"\g<1>{REDACTED_SEGMENT}", value) if "/opt-in/" in value else value


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Never log a secret or a tax id, whatever a caller passes."""
    for key, value in list(event.items()):
        if any(s in key.lower() for s in _SENSITIVE):
            event[key] = "[redacted]"
        elif isinstance(value, str) and "/opt-in/" in value:
            event[key] = redact_path(value)
    return event


def _processors(timestamp_format: str, *rest: Any) -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt=timestamp_format, utc=True),
        _redact,
        *rest,
    ]


if not structlog.is_configured():
    # until a process configures its logs (tests that run a service in-process, scripts): structlog's
    # console defaults, with the redaction in place
    structlog.configure(processors=_processors("%Y-%m-%d %H:%M:%S", structlog.dev.ConsoleRenderer()))


def configure_logging(settings: LogSettings, service: str) -> None:
    level = getattr(logging, settings.level.upper(), logging.INFO)
    renderer: Any = structlog.processors.JSONRenderer() if settings.json_format else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=_processors("iso", structlog.processors.format_exc_info, renderer),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.bind_contextvars(service=service)
    # libraries that use the standard logging module: warnings and above, plain
    logging.basicConfig(level=max(level, logging.WARNING), stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
