"""The public event log and webhooks in the database: recording an event once per (tenant, key)
with its deliveries, the endpoints, claiming due deliveries fairly, recording attempts, and the
tenant's read views."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, case, delete, event, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from ten99kit import Database, insert_ignore
from ten99kit.pagination import Page, PageRequest, fetch_page

from ..domain.webhooks import DeliveryState, EndpointStatus
from .db import companies, events, webhook_attempts, webhook_deliveries, webhook_endpoints

__all__ = [
    "AttemptRecord",
    "ClaimedWebhook",
    "EventFilters",
    "after_commit",
    "claim_deliveries",
    "delete_endpoint",
    "enabled_endpoints",
    "fail_pending_deliveries",
    "get_endpoint",
    "get_event",
    "insert_deliveries",
    "insert_endpoint",
    "insert_event",
    "list_attempts",
    "list_endpoints",
    "list_events",
    "owner_email",
    "purge_events",
    "record_attempt",
    "record_event",
    "requeue_delivery",
    "update_endpoint",
]

_WAKE_KEY = "notification.webhooks_after_commit"


def after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Run ``callback`` once this session's transaction has committed (once per transaction)."""
    sync = session.sync_session
    if sync.info.get(_WAKE_KEY):
        return
    sync.info[_WAKE_KEY] = True

    def on_commit(s: Session) -> None:
        s.info.pop(_WAKE_KEY, None)
        callback()

    def on_rollback(s: Session) -> None:
        s.info.pop(_WAKE_KEY, None)
        if event.contains(s, "after_commit", on_commit):
            event.remove(s, "after_commit", on_commit)

    event.listen(sync, "after_commit", on_commit, once=True)
    event.listen(sync, "after_rollback", on_rollback, once=True)


# -- events -------------------------------------------------------------------------------------


async def insert_event(session: AsyncSession, dialect: str, row: dict[str, Any]) -> bool:
    """Insert the event unless its (tenant, dedupe key) exists. True if new."""
    result = await session.execute(insert_ignore(events, dialect).returning(events.c.id), row)
    return result.first() is not None


async def enabled_endpoints(session: AsyncSession, tenant_id: str) -> list[tuple[str, list[str]]]:
    """``(endpoint id, subscribed types)`` of the tenant's enabled endpoints."""
    e = webhook_endpoints
    rows = await session.execute(
        select(e.c.id, e.c.events).where(e.c.tenant_id == tenant_id, e.c.status == EndpointStatus.ENABLED.value)
    )
    return [(row.id, list(row.events)) for row in rows]


@functools.cache
def _record_event_then_endpoints() -> Any:
    """PostgreSQL: the event inserted unless its (tenant, key) exists, and, only if it was new, the
    tenant's enabled endpoints, in one statement (built once: a data-modifying CTE runs whether or
    not the query reads it)."""
    recorded = (
        insert_ignore(events, "postgresql")
        .values({name: bindparam(f"event_{name}") for name in _EVENT_ROW})
        .returning(events.c.id)
        .cte("recorded")
    )
    e = webhook_endpoints
    return (
        select(e.c.id, e.c.events)
        .add_cte(recorded)
        .where(
            e.c.tenant_id == bindparam("event_tenant_id"),
            e.c.status == EndpointStatus.ENABLED.value,
            exists(select(recorded.c.id)),
        )
    )


#: the columns of a new event's row
_EVENT_ROW = ("id", "tenant_id", "type", "dedupe_key", "source_subject", "object", "created_at")


async def record_event(session: AsyncSession, dialect: str, row: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """Insert the event unless its (tenant, dedupe key) exists; if it was new, ``(endpoint id,
    subscribed types)`` of the tenant's enabled endpoints (none: nothing to deliver either way).
    One round trip on PostgreSQL: most events are of companies without endpoints."""
    if dialect != "postgresql":
        return await enabled_endpoints(session, row["tenant_id"]) if await insert_event(session, dialect, row) else []
    rows = await session.execute(_record_event_then_endpoints(), {f"event_{name}": row[name] for name in _EVENT_ROW})
    return [(found.id, list(found.events)) for found in rows]


async def insert_deliveries(session: AsyncSession, dialect: str, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert_ignore(webhook_deliveries, dialect), rows)


@dataclass(frozen=True)
class EventFilters:
    """``type`` exact, or a family (``prefix`` ``policy.`` from ``policy.*``); times inclusive."""

    type: str | None = None
    prefix: str | None = None
    created_gte: datetime | None = None
    created_lte: datetime | None = None

    def conditions(self, tenant_id: str) -> list[ColumnElement[bool]]:
        c = events.c
        conditions: list[ColumnElement[bool]] = [c.tenant_id == tenant_id]
        if self.type:
            conditions.append(c.type == self.type)
        if self.prefix:
            conditions.append(c.type.startswith(self.prefix, autoescape=True))
        if self.created_gte is not None:
            conditions.append(c.created_at >= self.created_gte)
        if self.created_lte is not None:
            conditions.append(c.created_at <= self.created_lte)
        return conditions


_EVENT_COLUMNS = (events.c.seq, events.c.id, events.c.type, events.c.object, events.c.created_at)


async def list_events(db: Database, tenant_id: str, filters: EventFilters, request: PageRequest) -> Page:
    async with db.reads() as session:
        return await fetch_page(
            session,
            select(*_EVENT_COLUMNS),
            keys=(events.c.seq,),
            id_column=events.c.id,
            where=filters.conditions(tenant_id),
            request=request,
        )


async def get_event(db: Database, tenant_id: str, event_id: str) -> Mapping[str, Any] | None:
    async with db.reads() as session:
        query = select(*_EVENT_COLUMNS).where(events.c.tenant_id == tenant_id, events.c.id == event_id)
        row = (await session.execute(query)).mappings().first()
    return dict(row) if row is not None else None


async def purge_events(db: Database, older_than: datetime) -> int:
    """Drop events created before ``older_than``, with their deliveries (whatever their state:
    a resent one included) and the attempts of that age."""
    d, a = webhook_deliveries, webhook_attempts
    old = select(events.c.id).where(events.c.created_at < older_than)
    async with db.engine.begin() as conn:
        await conn.execute(delete(a).where(a.c.attempted_at < older_than))
        await conn.execute(delete(d).where(d.c.event_id.in_(old)))
        result = await conn.execute(delete(events).where(events.c.created_at < older_than))
    return int(result.rowcount or 0)


# -- endpoints ----------------------------------------------------------------------------------


async def insert_endpoint(session: AsyncSession, row: dict[str, Any]) -> None:
    await session.execute(webhook_endpoints.insert(), row)


async def list_endpoints(db: Database, tenant_id: str, request: PageRequest) -> Page:
    e = webhook_endpoints
    async with db.reads() as session:
        return await fetch_page(
            session, select(e), keys=(e.c.seq,), id_column=e.c.id, where=[e.c.tenant_id == tenant_id], request=request
        )


async def get_endpoint(
    session: AsyncSession, tenant_id: str, endpoint_id: str, *, lock: bool = False
) -> Mapping[str, Any] | None:
    e = webhook_endpoints
    query = select(e).where(e.c.tenant_id == tenant_id, e.c.id == endpoint_id)
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).mappings().first()
    return dict(row) if row is not None else None


async def update_endpoint(session: AsyncSession, endpoint_id: str, values: dict[str, Any]) -> None:
    await session.execute(update(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id).values(**values))


async def delete_endpoint(session: AsyncSession, endpoint_id: str) -> None:
    """The endpoint, its deliveries and their attempts."""
    await session.execute(delete(webhook_attempts).where(webhook_attempts.c.endpoint_id == endpoint_id))
    await session.execute(delete(webhook_deliveries).where(webhook_deliveries.c.endpoint_id == endpoint_id))
    await session.execute(delete(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id))


async def fail_pending_deliveries(session: AsyncSession, endpoint_id: str, now: datetime, reason: str) -> int:
    """Give up the endpoint's waiting deliveries (it was disabled). One being sent finishes."""
    d = webhook_deliveries
    result = await session.execute(
        update(d)
        .where(d.c.endpoint_id == endpoint_id, d.c.status == DeliveryState.PENDING.value)
        .values(status=DeliveryState.FAILED.value, next_attempt_at=None, last_error=reason, updated_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def owner_email(session: AsyncSession, tenant_id: str) -> tuple[str | None, str | None]:
    """The company's name and owner's address, as ``CompanyCreatedV1`` told them."""
    row = (
        await session.execute(select(companies.c.name, companies.c.owner_email).where(companies.c.tenant_id == tenant_id))
    ).first()
    return (row.name, row.owner_email) if row else (None, None)


# -- delivering -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimedWebhook:
    """A delivery claimed for one attempt, with what the attempt needs."""

    id: str
    tenant_id: str
    endpoint_id: str
    event_id: str
    event_type: str
    attempts: int  # counting this one
    round_attempts: int  # counting this one
    round_started_at: datetime
    url: str
    secret_encrypted: str
    event_object: dict[str, Any]
    event_created_at: datetime
    #: the secret before the last rotation, and until when it signs too
    previous_secret_encrypted: str | None = None
    previous_secret_until: datetime | None = None


def _due(now: datetime) -> ColumnElement[bool]:
    d = webhook_deliveries
    return and_(d.c.status.in_((DeliveryState.PENDING.value, DeliveryState.DELIVERING.value)), d.c.next_attempt_at <= now)


async def _in_flight(session: AsyncSession, now: datetime) -> dict[str, int]:
    """Claims not yet lapsed, per endpoint (every worker's)."""
    d = webhook_deliveries
    rows = await session.execute(
        select(d.c.endpoint_id, func.count())
        .where(d.c.status == DeliveryState.DELIVERING.value, d.c.next_attempt_at > now)
        .group_by(d.c.endpoint_id)
    )
    return {endpoint: int(n) for endpoint, n in rows.all()}


async def _candidates(session: AsyncSession, now: datetime, caps: Caps, limit: int) -> list[tuple[int, str, int]]:
    """Due deliveries, round-robin over endpoints: each endpoint's first few (oldest due first: as
    many as its cap, larger while it is healthy), ordered by their rank, so that one endpoint's
    backlog never fills a claim. Each with its endpoint's cap."""
    d, e = webhook_deliveries, webhook_endpoints
    rank = func.row_number().over(partition_by=d.c.endpoint_id, order_by=(d.c.next_attempt_at, d.c.seq)).label("rank")
    proven = and_(e.c.failing_since.is_(None), e.c.proven_at.is_not(None))
    cap = case((proven, caps.healthy), else_=caps.failing).label("cap")
    due = (
        select(d.c.seq, d.c.endpoint_id, d.c.next_attempt_at, rank, cap)
        .join(e, e.c.id == d.c.endpoint_id)
        .where(_due(now), e.c.status == EndpointStatus.ENABLED.value)
        .subquery()
    )
    rows = await session.execute(
        select(due.c.seq, due.c.endpoint_id, due.c.cap)
        .where(due.c.rank <= due.c.cap)
        .order_by(due.c.rank, due.c.next_attempt_at, due.c.seq)
        .limit(limit)
    )
    return [(int(seq), endpoint, int(n)) for seq, endpoint, n in rows.all()]


@dataclass(frozen=True)
class Caps:
    """Attempts under way at once per endpoint: ``healthy`` for one proven by a success and not
    failing since, ``failing`` otherwise (a new endpoint, or one whose attempts fail): a dead
    endpoint never holds more than the few."""

    failing: int
    healthy: int


async def claim_deliveries(
    db: Database, now: datetime, *, slots: int, per_endpoint: int, lease: timedelta, per_healthy_endpoint: int | None = None
) -> list[ClaimedWebhook]:
    """Claim up to ``slots`` due deliveries, at most ``per_endpoint`` under way per endpoint
    (``per_healthy_endpoint`` for one not failing; counting every worker's live claims): mark
    them ``delivering`` until the lease lapses and count the attempt. The ``UPDATE`` checks again
    that each is still due, so two workers never both claim one."""
    if slots <= 0:
        return []
    async with db.uow() as uow:
        session = uow.session
        busy = await _in_flight(session, now)
        chosen: list[int] = []
        caps = Caps(failing=per_endpoint, healthy=max(per_endpoint, per_healthy_endpoint or per_endpoint))
        for seq, endpoint, cap in await _candidates(session, now, caps, slots * 4):
            if busy.get(endpoint, 0) < cap and len(chosen) < slots:
                busy[endpoint] = busy.get(endpoint, 0) + 1
                chosen.append(seq)
        if not chosen:
            return []
        d = webhook_deliveries
        claimed = await session.execute(
            update(d)
            .where(d.c.seq.in_(chosen), _due(now))
            .values(
                status=DeliveryState.DELIVERING.value,
                attempts=d.c.attempts + 1,
                round_attempts=d.c.round_attempts + 1,
                next_attempt_at=now + lease,
                updated_at=now,
            )
            .returning(d.c.id)
        )
        ids = list(claimed.scalars())
        result = await _claimed_details(session, ids)
        await uow.commit()
    return result


async def _claimed_details(session: AsyncSession, ids: list[str]) -> list[ClaimedWebhook]:
    if not ids:
        return []
    d, e, ev = webhook_deliveries, webhook_endpoints, events
    rows = await session.execute(
        select(
            d.c.id,
            d.c.tenant_id,
            d.c.endpoint_id,
            d.c.event_id,
            d.c.event_type,
            d.c.attempts,
            d.c.round_attempts,
            d.c.round_started_at,
            e.c.url,
            e.c.secret_encrypted,
            e.c.previous_secret_encrypted,
            e.c.previous_secret_until,
            ev.c.object,
            ev.c.created_at,
        )
        .join(e, e.c.id == d.c.endpoint_id)
        .join(ev, ev.c.id == d.c.event_id)
        .where(d.c.id.in_(ids))
    )
    return [
        ClaimedWebhook(
            id=r.id,
            tenant_id=r.tenant_id,
            endpoint_id=r.endpoint_id,
            event_id=r.event_id,
            event_type=r.event_type,
            attempts=r.attempts,
            round_attempts=r.round_attempts,
            round_started_at=r.round_started_at,
            url=r.url,
            secret_encrypted=r.secret_encrypted,
            event_object=r.object,
            event_created_at=r.created_at,
            previous_secret_encrypted=r.previous_secret_encrypted,
            previous_secret_until=r.previous_secret_until,
        )
        for r in rows
    ]


@dataclass(frozen=True)
class AttemptRecord:
    delivery: ClaimedWebhook
    attempted_at: datetime
    succeeded: bool
    status_code: int | None
    latency_ms: int
    excerpt: str | None
    error: str | None
    #: pending again at this time, or None (finished: succeeded or given up)
    next_attempt_at: datetime | None


async def record_attempt(session: AsyncSession, dialect: str, record: AttemptRecord, now: datetime) -> bool:
    """Keep the attempt and move its delivery on. False if the claim was lost meanwhile (the
    delivery was resent or its endpoint deleted): the attempt is kept all the same."""
    c = record.delivery
    d = webhook_deliveries
    await session.execute(
        insert_ignore(webhook_attempts, dialect),
        {
            "id": f"{c.id}.{c.attempts}",
            "tenant_id": c.tenant_id,
            "endpoint_id": c.endpoint_id,
            "delivery_id": c.id,
            "event_id": c.event_id,
            "event_type": c.event_type,
            "number": c.attempts,
            "attempted_at": record.attempted_at,
            "succeeded": record.succeeded,
            "status_code": record.status_code,
            "latency_ms": record.latency_ms,
            "response_excerpt": record.excerpt,
            "error": record.error,
        },
    )
    if record.succeeded:
        status = DeliveryState.SUCCEEDED
    else:
        status = DeliveryState.PENDING if record.next_attempt_at is not None else DeliveryState.FAILED
    result = await session.execute(
        update(d)
        .where(d.c.id == c.id, d.c.status == DeliveryState.DELIVERING.value, d.c.attempts == c.attempts)
        .values(
            status=status.value,
            next_attempt_at=record.next_attempt_at,
            last_status_code=record.status_code,
            last_error=record.error,
            updated_at=now,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def requeue_delivery(session: AsyncSession, tenant_id: str, delivery_id: str, now: datetime) -> Mapping[str, Any] | None:
    """Start the delivery over (a resend): due now, a new retry round. None if unknown."""
    d = webhook_deliveries
    result = await session.execute(
        update(d)
        .where(d.c.tenant_id == tenant_id, d.c.id == delivery_id)
        .values(
            status=DeliveryState.PENDING.value,
            next_attempt_at=now,
            round_attempts=0,
            round_started_at=now,
            updated_at=now,
        )
        .returning(d)
    )
    return result.mappings().first()


async def list_attempts(db: Database, tenant_id: str, endpoint_id: str, request: PageRequest) -> Page:
    """The endpoint's attempts, newest first, each with its delivery's current state."""
    a, d = webhook_attempts, webhook_deliveries
    query = select(
        a,
        d.c.status.label("delivery_status"),
        d.c.next_attempt_at.label("delivery_next_attempt_at"),
    ).outerjoin(d, d.c.id == a.c.delivery_id)
    async with db.reads() as session:
        return await fetch_page(
            session,
            query,
            keys=(a.c.seq,),
            id_column=a.c.id,
            where=[a.c.tenant_id == tenant_id, a.c.endpoint_id == endpoint_id],
            request=request,
        )
