"""``GET /v1/ledger`` and ``GET /v1/ledger.csv``: the company's audit ledger (docs/audit-ledger.md),
newest first, filtered by entity, contractor, actor, action and time; keyset pages by ``seq``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.openapi import ResponseSpec
from litestar.params import FromQuery
from litestar.response import Stream
from ten99kit import Database

from ..application.ledger_reading import LedgerFilters, ledger_csv, ledger_filters, ledger_page

__all__ = ["LedgerController", "LedgerEntryView", "LedgerList"]


class LedgerEntryView(msgspec.Struct, frozen=True, kw_only=True):
    seq: int
    occurred_at: str
    recorded_at: str
    #: ``user:us_...``, ``api_key:ak_...``, ``contractor:cn_...``, ``operator``, ``system``; null: unknown
    actor: str | None
    entity_kind: str
    entity_id: str
    contractor_id: str | None
    action: str
    subject: str
    #: the fields that changed, as they were (absent: new to the entity) and as they are now
    before: dict[str, Any]
    after: dict[str, Any]
    correlation_id: str | None
    envelope_id: str
    prev_hash: str
    hash: str


class LedgerList(msgspec.Struct, frozen=True, kw_only=True):
    url: str
    has_more: bool
    data: list[LedgerEntryView]
    object: str = "list"


def entry_view(row: Mapping[str, Any]) -> LedgerEntryView:
    return LedgerEntryView(
        seq=int(row["seq"]),
        occurred_at=row["occurred_at"].isoformat(),
        recorded_at=row["recorded_at"].isoformat(),
        actor=row["actor"],
        entity_kind=row["entity_kind"],
        entity_id=row["entity_id"],
        contractor_id=row["contractor_id"],
        action=row["action"],
        subject=row["subject"],
        before=row["before"],
        after=row["after"],
        correlation_id=row["correlation_id"],
        envelope_id=row["envelope_id"],
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )


_CSV = {200: ResponseSpec(data_container=str, media_type="text/csv; charset=utf-8", description="CSV, streamed")}


def _filters(
    entity_kind: FromQuery[str | None] = None,
    entity_id: FromQuery[str | None] = None,
    contractor: FromQuery[str | None] = None,
    actor: FromQuery[str | None] = None,
    action: FromQuery[str | None] = None,
    since: FromQuery[str | None] = None,
    until: FromQuery[str | None] = None,
) -> LedgerFilters:
    return ledger_filters(
        entity_kind=entity_kind,
        entity_id=entity_id,
        contractor=contractor,
        actor=actor,
        action=action,
        since=since,
        until=until,
    )


class LedgerController(Controller):
    path = "/v1"
    tags = ["ledger"]
    #: the filters both answers take from the query: entity_kind, entity_id, contractor, actor,
    #: action, since, until (checked by `ledger_filters`: a bad one is a 400 with its field)
    dependencies = {"filters": Provide(_filters, sync_to_thread=False)}

    @get("/ledger")
    async def list_entries(
        self,
        db: NamedDependency[Database],
        tenant_id: NamedDependency[str],
        filters: NamedDependency[LedgerFilters],
        limit: FromQuery[int] = 25,
        starting_after: FromQuery[int | None] = None,
    ) -> LedgerList:
        """The company's ledger entries, newest first. ``actor``: a kind (``user``) or one actor
        (``user:us_...``); ``since`` / ``until``: ISO dates (whole UTC days) or instants;
        ``starting_after``: the ``seq`` of the last entry of the previous page."""
        page = await ledger_page(db, tenant_id, filters, limit=limit, starting_after=starting_after)
        return LedgerList(url="/v1/ledger", has_more=page.has_more, data=[entry_view(row) for row in page.rows])

    @get("/ledger.csv", media_type="text/csv; charset=utf-8", responses=_CSV)
    async def export_entries(
        self,
        db: NamedDependency[Database],
        tenant_id: NamedDependency[str],
        filters: NamedDependency[LedgerFilters],
    ) -> Stream:
        """The filtered ledger as CSV (every entry, newest first; cells safe for spreadsheets)."""
        return Stream(
            ledger_csv(db, tenant_id, filters),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'},
        )
