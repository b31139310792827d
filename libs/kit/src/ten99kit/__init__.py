"""ten99's runtime kit: what every service stands on, and nothing domain-specific."""

from .bus import Bus, ensure_streams
from .clock import Clock, SettableClock, SystemClock, utcnow
from .db import (
    BigIntPK,
    Database,
    JSONDoc,
    PublicId,
    UtcDateTime,
    create_engine,
    dialect_insert,
    insert_ignore,
    make_metadata,
)
from .emails import InvalidEmail, parse_email
from .errors import ApiError, Conflict, InvalidInput, NotFound
from .ids import is_id, new_id, new_ulid_id
from .inbox import InboxConsumer, Subscription
from .logging import get_logger
from .outbox import OutboxRelay
from .pagination import ListEnvelope, Page, PageRequest, fetch_page
from .runtime import Command, Runtime, ServiceDefinition, ServiceParts, kit_tables
from .scheduler import ScheduledJob, Scheduler
from .settings import ServiceSettings, service_settings_config
from .uow import UnitOfWork
from .warmup import warm_up_once
from .workers import Backoff, PollingWorker, wait_first

__all__ = [
    "ApiError",
    "Backoff",
    "BigIntPK",
    "Bus",
    "Clock",
    "Command",
    "Conflict",
    "Database",
    "InboxConsumer",
    "InvalidEmail",
    "InvalidInput",
    "JSONDoc",
    "ListEnvelope",
    "NotFound",
    "OutboxRelay",
    "Page",
    "PageRequest",
    "PollingWorker",
    "PublicId",
    "Runtime",
    "ScheduledJob",
    "Scheduler",
    "ServiceDefinition",
    "ServiceParts",
    "ServiceSettings",
    "SettableClock",
    "Subscription",
    "SystemClock",
    "UnitOfWork",
    "UtcDateTime",
    "create_engine",
    "dialect_insert",
    "ensure_streams",
    "fetch_page",
    "get_logger",
    "insert_ignore",
    "is_id",
    "kit_tables",
    "make_metadata",
    "new_id",
    "new_ulid_id",
    "parse_email",
    "service_settings_config",
    "utcnow",
    "wait_first",
    "warm_up_once",
]
