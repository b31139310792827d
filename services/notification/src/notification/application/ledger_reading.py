"""Reading a company's audit ledger: filtered pages, newest first, keyed by ``seq`` (keyset
pagination: a page never skips or repeats an entry however many are appended meanwhile), and the
CSV export, streamed in pages of the same query (never the whole ledger in memory)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.sql import ColumnElement
from ten99kit import Database, InvalidInput
from ten99kit.spreadsheet import csv_text

from ..adapters.db import ledger_entries
from ..domain.ledger import ENTITY_KINDS

__all__ = ["CSV_HEADER", "LedgerFilters", "LedgerPage", "ledger_csv", "ledger_filters", "ledger_page"]

_ID = re.compile(r"[A-Za-z0-9_]{1,80}")
_ACTOR = re.compile(r"[a-z_]{1,20}(:[A-Za-z0-9_]{1,60})?")
_ACTION = re.compile(r"[a-z_]{1,40}")

CSV_HEADER = (
    "seq",
    "occurred_at",
    "actor",
    "entity_kind",
    "entity_id",
    "contractor_id",
    "action",
    "before",
    "after",
    "correlation_id",
    "envelope_id",
    "hash",
)


@dataclass(frozen=True)
class LedgerFilters:
    entity_kind: str | None = None
    entity_id: str | None = None
    contractor: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _checked(name: str, value: str | None, pattern: re.Pattern[str]) -> str | None:
    if value is None or value == "":
        return None
    if not pattern.fullmatch(value):
        raise InvalidInput({name: "is not a valid value"})
    return value


def _instant(name: str, value: str | None, *, end_of_day: bool) -> datetime | None:
    """An ISO date (a whole UTC day: from its start, or to its end) or an ISO instant."""
    if value is None or value == "":
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day, time.max if end_of_day else time.min, UTC)
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput({name: "must be an ISO date (2026-12-07) or date and time"}) from None
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def ledger_filters(
    *,
    entity_kind: str | None = None,
    entity_id: str | None = None,
    contractor: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> LedgerFilters:
    if entity_kind and entity_kind not in ENTITY_KINDS:
        raise InvalidInput({"entity_kind": f"must be one of {', '.join(sorted(ENTITY_KINDS))}"})
    return LedgerFilters(
        entity_kind=entity_kind or None,
        entity_id=_checked("entity_id", entity_id, _ID),
        contractor=_checked("contractor", contractor, _ID),
        actor=_checked("actor", actor, _ACTOR),
        action=_checked("action", action, _ACTION),
        since=_instant("since", since, end_of_day=False),
        until=_instant("until", until, end_of_day=True),
    )


def _where(tenant_id: str, filters: LedgerFilters) -> list[ColumnElement[bool]]:
    columns = ledger_entries.c
    where: list[ColumnElement[bool]] = [columns.tenant_id == tenant_id]
    if filters.entity_kind:
        where.append(columns.entity_kind == filters.entity_kind)
    if filters.entity_id:
        where.append(columns.entity_id == filters.entity_id)
    if filters.contractor:
        where.append(columns.contractor_id == filters.contractor)
    if filters.actor:
        # "user" matches every user; "user:us_..." one of them
        where.append(columns.actor == filters.actor if ":" in filters.actor else columns.actor.like(f"{filters.actor}%"))
    if filters.action:
        where.append(columns.action == filters.action)
    if filters.since:
        where.append(columns.occurred_at >= filters.since)
    if filters.until:
        where.append(columns.occurred_at <= filters.until)
    return where


@dataclass(frozen=True)
class LedgerPage:
    rows: list[Mapping[str, Any]]
    has_more: bool


async def ledger_page(
    db: Database, tenant_id: str, filters: LedgerFilters, *, limit: int, starting_after: int | None = None
) -> LedgerPage:
    """Up to ``limit`` entries older than ``starting_after`` (a seq), newest first."""
    if not 1 <= limit <= 100:
        raise InvalidInput({"limit": "must be from 1 to 100"})
    where = _where(tenant_id, filters)
    if starting_after is not None:
        where.append(ledger_entries.c.seq < starting_after)
    async with db.reads() as s:
        query = select(ledger_entries).where(*where).order_by(ledger_entries.c.seq.desc()).limit(limit + 1)
        rows: list[Mapping[str, Any]] = [dict(row) for row in (await s.execute(query)).mappings()]
    return LedgerPage(rows[:limit], len(rows) > limit)


_json = msgspec.json.Encoder(order="sorted")


def _csv_row(row: Mapping[str, Any]) -> list[Any]:
    return [
        row["seq"],
        row["occurred_at"].isoformat(),
        row["actor"] or "",
        row["entity_kind"],
        row["entity_id"],
        row["contractor_id"],
        row["action"],
        _json.encode(row["before"]).decode(),
        _json.encode(row["after"]).decode(),
        row["correlation_id"],
        row["envelope_id"],
        row["hash"],
    ]


async def ledger_csv(db: Database, tenant_id: str, filters: LedgerFilters) -> AsyncIterator[str]:
    """The filtered ledger as CSV (oldest last, as the list), cells neutralised for spreadsheets."""
    yield csv_text([CSV_HEADER])
    after: int | None = None
    while True:
        page = await ledger_page(db, tenant_id, filters, limit=100, starting_after=after)
        if page.rows:
            yield csv_text(_csv_row(row) for row in page.rows)
        if not page.has_more:
            return
        after = int(page.rows[-1]["seq"])
