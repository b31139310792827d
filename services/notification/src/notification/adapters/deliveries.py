"""The delivery log in the database: recording an email once per business key, claiming due
deliveries for sending (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several senders can share
the work), recording outcomes in bulk, and the tenant's read views."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, event, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session
from ten99kit import Database, dialect_insert, get_logger, insert_ignore
from ten99kit.pagination import Page, PageRequest, fetch_page

from ..domain import Attachment, DeliveryStatus, OutgoingEmail
from .db import companies, deliveries, delivery_attachments

__all__ = [
    "ClaimedDelivery",
    "DeliveryFilters",
    "Outcome",
    "claim_due",
    "delivery_attachment_list",
    "delivery_row",
    "find_company_name",
    "get_delivery",
    "insert_delivery",
    "list_deliveries",
    "mark_outcomes",
    "next_due_at",
    "purge_attachments",
    "queue_delivery",
    "recipients_key",
    "upsert_company",
]

log = get_logger(__name__)

_CLAIMABLE = (DeliveryStatus.QUEUED.value, DeliveryStatus.SENDING.value)


def recipients_key(to: Sequence[str], cc: Sequence[str]) -> str:
    """``,a@x.com,b@y.com,``: an exact-match-friendly list for the ``to=`` filter."""
    return "," + ",".join(a.strip().lower() for a in [*to, *cc]) + ","


# -- companies ---------------------------------------------------------------------------------


async def upsert_company(
    session: AsyncSession, dialect: str, tenant_id: str, name: str, owner_email: str | None, now: datetime
) -> None:
    values = {"tenant_id": tenant_id, "name": name, "owner_email": owner_email, "updated_at": now}
    stmt: Any = dialect_insert(companies, dialect).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[companies.c.tenant_id], set_={"name": name, "owner_email": owner_email, "updated_at": now}
    )
    await session.execute(stmt)


async def find_company_name(session: AsyncSession, tenant_id: str) -> str | None:
    return (await session.execute(select(companies.c.name).where(companies.c.tenant_id == tenant_id))).scalar_one_or_none()


# -- recording ----------------------------------------------------------------------------------

_INSERTS: dict[str, Any] = {}


def _insert_statement(dialect: str) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING``, built once: recording is on the hot path of a bulk
    upload, and building the statement per row cost more than executing it."""
    stmt = _INSERTS.get(dialect)
    if stmt is None:
        stmt = _INSERTS[dialect] = insert_ignore(deliveries, dialect)
    return stmt


def delivery_row(
    *,
    tenant_id: str,
    delivery_id: str,
    message_id: str,
    email: OutgoingEmail,
    status: DeliveryStatus,
    now: datetime,
    source_message_id: str | None,
    last_error: str | None = None,
) -> dict[str, Any]:
    return {
        "id": delivery_id,
        "tenant_id": tenant_id,
        "template": email.template,
        "dedupe_key": email.dedupe_key,
        "related_id": email.related_id,
        "contractor_id": email.contractor_id,
        "source_message_id": source_message_id,
        "to_emails": list(email.to),
        "cc_emails": list(email.cc),
        "recipients": recipients_key(email.to, email.cc),
        "subject": email.subject,
        "text_body": email.text,
        "html_body": email.html,
        "has_attachments": bool(email.attachments),
        "message_id": message_id,
        "status": status.value,
        "attempts": 0,
        "last_error": last_error,
        "next_attempt_at": now if status is DeliveryStatus.QUEUED else None,
        "created_at": now,
        "updated_at": now,
    }


def _attachment_rows(row: dict[str, Any], attachments: Sequence[Attachment]) -> list[dict[str, Any]]:
    return [
        {
            "tenant_id": row["tenant_id"],
            "delivery_id": row["id"],
            "position": i,
            "filename": a.filename,
            "content_type": a.content_type,
            "content": a.content,
        }
        for i, a in enumerate(attachments)
    ]


async def insert_delivery(session: AsyncSession, dialect: str, row: dict[str, Any], attachments: Sequence[Attachment]) -> bool:
    """Insert one delivery now unless its (tenant, dedupe key) exists. True if new."""
    result = await session.execute(_insert_statement(dialect), row)
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    if attachments:
        await session.execute(delivery_attachments.insert(), _attachment_rows(row, attachments))
    return True


_PENDING = "notification.pending_deliveries"
_INSERTED = "notification.inserted_deliveries"


def queue_delivery(
    session: AsyncSession,
    dialect: str,
    row: dict[str, Any],
    attachments: Sequence[Attachment],
    *,
    after_commit: Callable[[], None],
) -> None:
    """Record a delivery in the session's transaction, written together with the others of the
    same transaction in one statement just before it commits (a consumer applies a batch of
    messages in one transaction: one ``INSERT`` for the batch instead of one per message).
    ``after_commit`` runs once the transaction committed, if it recorded anything new."""
    sync = session.sync_session
    pending: list[tuple[dict[str, Any], Sequence[Attachment]]] | None = sync.info.get(_PENDING)
    if pending is None:
        pending = sync.info[_PENDING] = []

        def before_commit(s: Session) -> None:
            s.info[_INSERTED] = _write_pending(s, dialect, s.info.pop(_PENDING, []))

        def on_commit(s: Session) -> None:
            if s.info.pop(_INSERTED, 0):
                after_commit()

        event.listen(sync, "before_commit", before_commit)
        event.listen(sync, "after_commit", on_commit)
    pending.append((row, attachments))


def _write_pending(session: Session, dialect: str, pending: list[tuple[dict[str, Any], Sequence[Attachment]]]) -> int:
    """Runs inside the commit (SQLAlchemy's sync API, on the async connection's greenlet)."""
    unique: dict[tuple[str, str], tuple[dict[str, Any], Sequence[Attachment]]] = {}
    for row, attachments in pending:
        unique.setdefault((row["tenant_id"], row["dedupe_key"]), (row, attachments))
    if not unique:
        return 0
    rows = [row for row, _ in unique.values()]
    inserted = set(session.execute(_insert_statement(dialect).returning(deliveries.c.id), rows).scalars())
    files = [a for row, attachments in unique.values() if row["id"] in inserted for a in _attachment_rows(row, attachments)]
    if files:
        session.execute(delivery_attachments.insert(), files)
    if len(inserted) < len(pending):
        skipped = [row["dedupe_key"] for row, _ in pending if row["id"] not in inserted]
        log.info("delivery.duplicates_ignored", count=len(skipped), dedupe_keys=skipped[:20])
    return len(inserted)


# -- sending ------------------------------------------------------------------------------------


@dataclass
class ClaimedDelivery:
    seq: int
    id: str
    tenant_id: str
    template: str
    to: list[str]
    cc: list[str]
    subject: str
    text: str
    html: str
    has_attachments: bool
    message_id: str
    attempts: int
    related_id: str | None
    attachments: list[Attachment] = field(default_factory=list)


@dataclass
class Outcome:
    """What one attempt came to: sent, or an error that is temporary or permanent."""

    delivery: ClaimedDelivery
    sent: bool
    permanent: bool = False
    error: str | None = None


_CLAIMED_COLUMNS = (
    "seq",
    "id",
    "tenant_id",
    "template",
    "to_emails",
    "cc_emails",
    "subject",
    "text_body",
    "html_body",
    "has_attachments",
    "message_id",
    "attempts",
    "related_id",
)


@cache
def _claim_statement(postgres: bool) -> Any:
    """Take up to ``limit`` due deliveries: mark them ``sending`` until ``lease_until`` and count
    the attempt. On PostgreSQL (``FOR UPDATE SKIP LOCKED``) the same statement returns their
    attached files too, one row per file. Built once: building it cost as much as running it."""
    d, a = deliveries, delivery_attachments
    due: Select[Any] = (
        select(d.c.seq)
        .where(d.c.status.in_(_CLAIMABLE), d.c.next_attempt_at <= bindparam("now"))
        .order_by(d.c.next_attempt_at, d.c.seq)
        .limit(bindparam("limit"))
    )
    if postgres:
        due = due.with_for_update(skip_locked=True)
    due_cte = due.cte("due")
    claim = (
        update(d)
        .where(d.c.seq == due_cte.c.seq)
        .values(
            status=DeliveryStatus.SENDING.value,
            attempts=d.c.attempts + 1,
            next_attempt_at=bindparam("lease_until"),
            updated_at=bindparam("now"),
        )
        .returning(*(d.c[name] for name in _CLAIMED_COLUMNS))
    )
    if not postgres:
        return claim
    claimed = claim.cte("claimed")
    return (
        select(claimed, a.c.filename, a.c.content_type, a.c.content)
        .outerjoin(a, a.c.delivery_id == claimed.c.id)
        .order_by(claimed.c.seq, a.c.position)
    )


async def claim_due(db: Database, now: datetime, limit: int, lease: timedelta) -> list[ClaimedDelivery]:
    """Take up to ``limit`` deliveries that are due (or whose sender's claim lapsed), mark them
    ``sending`` with a lease, count the attempt, and return them with their attached files.
    One statement on PostgreSQL; a short transaction of two on SQLite."""
    params = {"now": now, "limit": limit, "lease_until": now + lease}
    claimed: dict[int, ClaimedDelivery] = {}
    if db.is_postgres:
        # one statement, atomic by itself: no BEGIN and COMMIT round trips around it
        async with db.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            rows = (await conn.execute(_claim_statement(True), params)).all()
        files: dict[str, list[Attachment]] = {}
    else:
        async with db.engine.begin() as conn:
            rows = (await conn.execute(_claim_statement(False), params)).all()
            files = await _attachments_of(conn, [r.id for r in rows if r.has_attachments])
    for r in rows:
        c = claimed.get(r.seq)
        if c is None:
            c = claimed[r.seq] = ClaimedDelivery(
                seq=r.seq,
                id=r.id,
                tenant_id=r.tenant_id,
                template=r.template,
                to=list(r.to_emails),
                cc=list(r.cc_emails),
                subject=r.subject,
                text=r.text_body,
                html=r.html_body,
                has_attachments=r.has_attachments,
                message_id=r.message_id,
                attempts=r.attempts,
                related_id=r.related_id,
                attachments=files.get(r.id, []),
            )
        if db.is_postgres and r.filename is not None:
            c.attachments.append(Attachment(r.filename, r.content_type, bytes(r.content)))
    return sorted(claimed.values(), key=lambda c: c.seq)


async def renew_claims(db: Database, seqs: Sequence[int], until: datetime) -> None:
    """Extend the lease of claimed deliveries still being sent (``sending``) to ``until``."""
    d = deliveries
    async with db.engine.begin() as conn:
        await conn.execute(
            update(d).where(d.c.seq.in_(seqs), d.c.status == DeliveryStatus.SENDING.value).values(next_attempt_at=until)
        )


async def _attachments_of(conn: AsyncConnection, delivery_ids: list[str]) -> dict[str, list[Attachment]]:
    """The attached files of these deliveries (one query, none when there are no ids)."""
    out: dict[str, list[Attachment]] = {}
    if not delivery_ids:
        return out
    a = delivery_attachments
    rows = await conn.execute(
        select(a.c.delivery_id, a.c.filename, a.c.content_type, a.c.content)
        .where(a.c.delivery_id.in_(delivery_ids))
        .order_by(a.c.delivery_id, a.c.position)
    )
    for r in rows:
        out.setdefault(r.delivery_id, []).append(Attachment(r.filename, r.content_type, bytes(r.content)))
    return out


async def next_due_at(db: Database) -> datetime | None:
    d = deliveries
    async with db.engine.connect() as conn:
        return (await conn.execute(select(func.min(d.c.next_attempt_at)).where(d.c.status.in_(_CLAIMABLE)))).scalar()


async def mark_outcomes(
    session: AsyncSession,
    now: datetime,
    sent: Sequence[Outcome],
    retry: Sequence[tuple[Outcome, datetime]],
    failed: Sequence[Outcome],
    finished_bodies: Mapping[int, tuple[str, str]] | None = None,
) -> tuple[set[int], set[int]]:
    """Bulk-record outcomes of claimed deliveries still ``sending`` (a lapsed claim taken over by
    another sender is left to it). Returns the seqs actually marked sent and failed.

    ``finished_bodies``: (text, html) by seq, kept instead of the bodies of those marked sent or
    failed (links redacted), in the same transaction: a finished delivery never keeps the
    original, a retried one keeps it whole."""
    marked_sent = await _mark_sent(session, now, sent) if sent else set()
    if retry:
        await _mark_for_retry(session, now, retry)
    marked_failed = await _mark_failed(session, now, failed) if failed else set()
    finished = marked_sent | marked_failed
    bodies = [
        {"b_seq": seq, "b_text": text, "b_html": html} for seq, (text, html) in (finished_bodies or {}).items() if seq in finished
    ]
    if bodies:
        await _bulk_update(session, {"text_body": bindparam("b_text"), "html_body": bindparam("b_html")}, bodies)
    return marked_sent, marked_failed


def _still_sending(outcomes: Sequence[Outcome]) -> ColumnElement[bool]:
    """Those of ``outcomes`` whose claim this sender still holds."""
    return and_(deliveries.c.seq.in_([o.delivery.seq for o in outcomes]), deliveries.c.status == DeliveryStatus.SENDING.value)


async def _bulk_update(session: AsyncSession, values: Mapping[str, Any], params: list[dict[str, Any]], *where: Any) -> None:
    """One UPDATE, executed for each of ``params`` (their ``b_seq`` names the delivery)."""
    statement = update(deliveries).where(deliveries.c.seq == bindparam("b_seq"), *where).values(**values)
    await session.execute(statement.execution_options(synchronize_session=False), params)


async def _mark_sent(session: AsyncSession, now: datetime, sent: Sequence[Outcome]) -> set[int]:
    finished = {
        "status": DeliveryStatus.SENT.value,
        "sent_at": now,
        "updated_at": now,
        "next_attempt_at": None,
        "last_error": None,
    }
    result = await session.execute(update(deliveries).where(_still_sending(sent)).values(**finished).returning(deliveries.c.seq))
    marked = set(result.scalars())
    # a partial refusal (some recipients refused) is worth keeping in the log
    partial = [{"b_seq": o.delivery.seq, "b_error": o.error} for o in sent if o.error]
    if partial:
        await _bulk_update(session, {"last_error": bindparam("b_error")}, partial)
    return marked


async def _mark_for_retry(session: AsyncSession, now: datetime, retry: Sequence[tuple[Outcome, datetime]]) -> None:
    queued = {
        "status": DeliveryStatus.QUEUED.value,
        "next_attempt_at": bindparam("b_next"),
        "last_error": bindparam("b_error"),
        "updated_at": now,
    }
    params = [{"b_seq": o.delivery.seq, "b_next": at, "b_error": o.error} for o, at in retry]
    await _bulk_update(session, queued, params, deliveries.c.status == DeliveryStatus.SENDING.value)


async def _mark_failed(session: AsyncSession, now: datetime, failed: Sequence[Outcome]) -> set[int]:
    given_up = {"status": DeliveryStatus.FAILED.value, "next_attempt_at": None, "updated_at": now}
    result = await session.execute(
        update(deliveries).where(_still_sending(failed)).values(**given_up).returning(deliveries.c.seq)
    )
    await _bulk_update(
        session, {"last_error": bindparam("b_error")}, [{"b_seq": o.delivery.seq, "b_error": o.error} for o in failed]
    )
    return set(result.scalars())


async def purge_attachments(db: Database, older_than: datetime) -> int:
    """Empty the files of deliveries finished (sent or failed) before ``older_than``: they are kept
    only so that a retry can resend them. Names and the log row stay (the size shows 0)."""
    d, a = deliveries, delivery_attachments
    finished = select(d.c.id).where(
        d.c.status.in_((DeliveryStatus.SENT.value, DeliveryStatus.FAILED.value)),
        d.c.has_attachments.is_(True),
        d.c.updated_at < older_than,
    )
    async with db.engine.begin() as conn:
        result = await conn.execute(
            update(a).where(a.c.delivery_id.in_(finished), func.length(a.c.content) > 0).values(content=b"")
        )
    return int(result.rowcount or 0)


# -- reading (tenant-scoped) ----------------------------------------------------------------------


_LIST_COLUMNS = [
    deliveries.c.seq,
    deliveries.c.id,
    deliveries.c.template,
    deliveries.c.to_emails,
    deliveries.c.cc_emails,
    deliveries.c.subject,
    deliveries.c.status,
    deliveries.c.attempts,
    deliveries.c.last_error,
    deliveries.c.next_attempt_at,
    deliveries.c.created_at,
    deliveries.c.sent_at,
    deliveries.c.related_id,
    deliveries.c.contractor_id,
    deliveries.c.has_attachments,
    deliveries.c.message_id,
]


@dataclass(frozen=True)
class DeliveryFilters:
    """The list's filters: ``to`` matches any recipient (to or cc) exactly, case-insensitively."""

    to: str | None = None
    template: str | None = None
    status: str | None = None
    related_id: str | None = None
    contractor_id: str | None = None

    def conditions(self, tenant_id: str) -> list[ColumnElement[bool]]:
        columns = deliveries.c
        conditions = [columns.tenant_id == tenant_id]
        if self.to:
            conditions.append(columns.recipients.contains(f",{self.to.strip().lower()},", autoescape=True))
        for column, value in (
            (columns.template, self.template),
            (columns.status, self.status),
            (columns.related_id, self.related_id),
            (columns.contractor_id, self.contractor_id),
        ):
            if value:
                conditions.append(column == value)
        return conditions


async def list_deliveries(db: Database, tenant_id: str, filters: DeliveryFilters, request: PageRequest) -> Page:
    """Newest first (by ``seq``). A cursor that names no delivery of this list is ``InvalidInput``."""
    async with db.reads() as session:
        return await fetch_page(
            session,
            select(*_LIST_COLUMNS),
            keys=(deliveries.c.seq,),
            id_column=deliveries.c.id,
            where=filters.conditions(tenant_id),
            request=request,
        )


async def get_delivery(db: Database, tenant_id: str, delivery_id: str) -> dict[str, Any] | None:
    d = deliveries
    async with db.reads() as session:
        row = (
            (
                await session.execute(
                    select(*_LIST_COLUMNS, d.c.text_body, d.c.html_body).where(d.c.tenant_id == tenant_id, d.c.id == delivery_id)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        out = dict(row)
        out["attachments"] = await delivery_attachment_list(session, tenant_id, delivery_id)
    return out


async def delivery_attachment_list(session: AsyncSession, tenant_id: str, delivery_id: str) -> list[dict[str, Any]]:
    a = delivery_attachments
    rows = await session.execute(
        select(a.c.position, a.c.filename, a.c.content_type, func.length(a.c.content).label("size"))
        .where(a.c.tenant_id == tenant_id, a.c.delivery_id == delivery_id)
        .order_by(a.c.position)
    )
    return [dict(r) for r in rows.mappings()]
