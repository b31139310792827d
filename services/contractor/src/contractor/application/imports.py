"""Bulk CSV imports: the upload (checked at once, stored durably, answered with 202) and the worker
that applies it in the background, chunk by chunk.

Durability: the upload's bytes and its batch row are committed before the 202, so an accepted
file is never lost. A worker claims a pending batch (``FOR UPDATE SKIP LOCKED`` on PostgreSQL),
and each chunk of rows commits together with the batch's progress (rows done, failed, counters)
and its rejected lines, so a worker that dies resumes exactly where the last chunk ended: its
lease runs out (``CONTRACTOR_IMPORTS__LEASE_S``) and any worker takes the batch over. Each chunk
update is fenced by the claim's attempt number, so a worker that lost its lease cannot write.

Rules: every row is validated first (pure); with ``all_or_nothing`` a single bad row rejects the
file and nothing is imported; otherwise the good rows are imported and each bad one is reported
with its line, column and reason (``GET /v1/imports/{id}``, and ``errors.csv`` holding the bad
lines with their original cells, ready to fix and upload again). When done, ``ImportCompletedV1``
is emitted, unless the import changed nothing (re-uploading a file adds and emits nothing).

Counts, honestly: ``rows_imported`` are the rows that added or changed something, ``rows_unchanged``
the valid rows already there as they are, ``rows_failed`` the bad ones (re-uploading a file reports
every row unchanged, not imported).

Implausible pay (an hourly rate above $1,000, a flat fee above $1,000,000: a Wage column in cents
read as dollars) is a row warning: before anything is imported, an import with such rows stops in
``needs_confirmation`` with the rows listed (``warnings``), its file kept. The user decides once
(``POST /v1/imports/{id}/confirm``, ``import`` or ``drop``); the import is pending again and the
worker imports the warned rows as written, or leaves them out (``rows_dropped``).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

import msgspec
from msgspec import UNSET, UnsetType
from prometheus_client import Counter, Gauge
from sqlalchemy import delete, func, insert, or_, select, update
from ten99_contracts.contractor_v1 import ImportCompletedV1
from ten99kit import ApiError, get_logger, insert_ignore, new_id
from ten99kit.crypto import mask_tax_id
from ten99kit.db import Row
from ten99kit.logging import actor

from ..adapters.db import assignments, import_batches, import_files, import_rejects
from ..adapters.queries import get_row
from ..domain.csv_format import CsvFileError, ImportRow, ParsedFile, RowError, parse_file, parse_row, row_warnings, write_csv
from .context import Context
from .intake import ChunkResult, apply_rows

__all__ = [
    "ImportList",
    "ImportRowError",
    "ImportView",
    "ImportWorker",
    "confirm_import",
    "error_report",
    "import_view",
    "list_imports",
    "read_import",
    "upload_import",
]

log = get_logger(__name__)

#: rows applied by this process's import workers: ``imported``; ``failed`` (reported with the
#: import); ``skipped`` (good rows of an all-or-nothing file that had bad ones)
IMPORT_ROWS = Counter("ten99_import_rows_total", "CSV import rows processed by outcome", ["outcome"])
IMPORTS_RUNNING = Gauge("ten99_imports_in_progress", "Imports this process is applying now")
#: imports finished by this process: ``completed`` or ``failed``
IMPORTS_FINISHED = Counter("ten99_imports_finished_total", "CSV imports finished by status", ["status"])

_COUNTERS = ("contractors_created", "contractors_updated", "assignments_created", "assignments_updated")


async def upload_import(
    ctx: Context, tenant_id: str, *, filename: str, content: bytes, all_or_nothing: bool, uploaded_by: str | None
) -> ImportView:
    limits = ctx.settings.imports
    if len(content) > limits.max_file_bytes:
        raise ApiError(
            f"The file is {len(content) / 1_048_576:.1f} MB; an import takes at most {limits.max_file_bytes / 1_048_576:.0f} MB",
            error_code="invalid_file_size",
            status_code=413,
        )
    if not content.strip():
        raise ApiError("The file is empty", error_code="invalid_input")
    try:
        parsed: ParsedFile = await asyncio.to_thread(parse_file, content, max_rows=limits.max_rows)
    except CsvFileError as e:
        raise ApiError(
            e.message, error_code=e.error_code, status_code=413 if e.error_code == "invalid_file_size" else 400
        ) from None
    sealed = await asyncio.to_thread(lambda: ctx.tax_ids.encrypt(content.decode("latin-1")).encode())
    now = ctx.now()
    batch = {
        "id": new_id("ib"),
        "tenant_id": tenant_id,
        "filename": (filename or "upload.csv")[:255],
        "status": "pending",
        "all_or_nothing": all_or_nothing,
        "uploaded_by": (uploaded_by or None) and uploaded_by[:200],
        "actor": actor.get(),
        "file_sha256": hashlib.sha256(content).hexdigest(),
        "file_size": len(content),
        "headers": parsed.headers.headers,
        "ignored_columns": parsed.headers.ignored,
        "rows_total": len(parsed.rows),
        "rows_done": 0,
        "rows_failed": 0,
        "rows_imported": 0,
        "rows_unchanged": 0,
        "rows_warned": 0,
        "warnings_decision": None,
        "contractors_created": 0,
        "contractors_updated": 0,
        "assignments_created": 0,
        "assignments_updated": 0,
        "assignments_missing_po": 0,
        "attempts": 0,
        "error": None,
        "claimed_at": None,
        "created_at": now,
        "started_at": None,
        "finished_at": None,
    }
    async with ctx.db.uow() as uow:
        await uow.session.execute(insert(import_batches).values(**batch))
        # the upload may hold tax ids: it is kept encrypted until the import is done, then deleted
        await uow.session.execute(insert(import_files).values(import_id=batch["id"], tenant_id=tenant_id, content=sealed))
        await uow.commit()
    ctx.import_wakeup.set()
    return import_view(batch)


class ImportRowError(msgspec.Struct, kw_only=True):
    """One problem of a rejected line (or, among ``warnings``, of a line awaiting confirmation)."""

    line: int
    column: str
    reason: str
    value: str


class ImportView(msgspec.Struct, kw_only=True):
    """An import as the dashboard shows it (ISO times); ``errors`` only when one import is read."""

    id: str
    object: Literal["import"] = "import"
    status: str
    filename: str
    all_or_nothing: bool
    uploaded_by: str | None
    rows_total: int
    rows_done: int
    rows_failed: int
    #: rows that added or changed something
    rows_imported: int
    #: valid rows already there as they are
    rows_unchanged: int
    #: rows with implausible pay, and what the user decided (``import`` / ``drop``; None: not yet)
    rows_warned: int
    warnings_decision: str | None
    #: warned rows left out at the user's word
    rows_dropped: int
    contractors_created: int
    contractors_updated: int
    assignments_created: int
    assignments_updated: int
    assignments_missing_po: int
    ignored_columns: list[str]
    error: str | None
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    error_report_url: str | None
    errors: list[ImportRowError] | UnsetType = UNSET
    warnings: list[ImportRowError] | UnsetType = UNSET


class ImportList(msgspec.Struct, kw_only=True):
    object: Literal["list"] = "list"
    data: list[ImportView]
    total: int
    has_more: bool
    url: str


async def read_import(ctx: Context, tenant_id: str, import_id: str, *, errors_limit: int = 100) -> ImportView:
    async with ctx.db.reads() as s:
        batch = await get_row(s, import_batches, tenant_id, import_id, "import")
        rejects = (
            await s.execute(
                select(import_rejects.c.line, import_rejects.c.errors)
                .where(import_rejects.c.tenant_id == tenant_id, import_rejects.c.import_id == import_id)
                .order_by(import_rejects.c.line)
                .limit(errors_limit)
            )
        ).all()
    errors = [_row_error(line, e) for line, errs in rejects for e in errs if not e.get("warning")]
    warnings = [_row_error(line, e) for line, errs in rejects for e in errs if e.get("warning")]
    return import_view(batch, errors=errors, warnings=warnings)


def _row_error(line: int, problem: dict[str, Any]) -> ImportRowError:
    return ImportRowError(line=line, column=problem["column"], reason=problem["reason"], value=problem["value"])


_DECISIONS = ("import", "drop")


async def confirm_import(ctx: Context, tenant_id: str, import_id: str, decision: str) -> ImportView:
    """The user's word on an import's warned rows: ``import`` them as written or ``drop`` them;
    the import is pending again. Once only, and only while it waits (409 otherwise)."""
    if decision not in _DECISIONS:
        raise ApiError(
            "decision must be 'import' (the warned rows as written) or 'drop' (leave them out)", error_code="invalid_input"
        )
    async with ctx.db.uow() as uow:
        batch = await get_row(uow.session, import_batches, tenant_id, import_id, "import")
        if batch["status"] != "needs_confirmation":
            raise ApiError(
                f"The import is {batch['status']}: only an import that needs confirmation takes a decision",
                error_code="invalid_state",
                status_code=409,
            )
        await uow.session.execute(
            update(import_batches)
            .where(import_batches.c.id == import_id, import_batches.c.status == "needs_confirmation")
            .values(status="pending", warnings_decision=decision)
        )
        await uow.commit()
    ctx.import_wakeup.set()
    return await read_import(ctx, tenant_id, import_id)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def import_view(
    batch: Row, *, errors: list[ImportRowError] | UnsetType = UNSET, warnings: list[ImportRowError] | UnsetType = UNSET
) -> ImportView:
    return ImportView(
        id=batch["id"],
        status=batch["status"],
        filename=batch["filename"],
        all_or_nothing=batch["all_or_nothing"],
        uploaded_by=batch["uploaded_by"],
        rows_total=batch["rows_total"],
        rows_done=batch["rows_done"],
        rows_failed=batch["rows_failed"],
        rows_imported=batch["rows_imported"],
        rows_unchanged=batch["rows_unchanged"],
        rows_warned=batch["rows_warned"],
        warnings_decision=batch["warnings_decision"],
        rows_dropped=batch["rows_warned"] if batch["warnings_decision"] == "drop" else 0,
        contractors_created=batch["contractors_created"],
        contractors_updated=batch["contractors_updated"],
        assignments_created=batch["assignments_created"],
        assignments_updated=batch["assignments_updated"],
        assignments_missing_po=batch["assignments_missing_po"],
        ignored_columns=batch["ignored_columns"],
        error=batch["error"],
        created_at=_iso(batch["created_at"]),
        started_at=_iso(batch["started_at"]),
        finished_at=_iso(batch["finished_at"]),
        error_report_url=f"/v1/imports/{batch['id']}/errors.csv" if batch["rows_failed"] else None,
        errors=errors,
        warnings=warnings,
    )


async def list_imports(ctx: Context, tenant_id: str, *, limit: int, offset: int) -> ImportList:
    if not 1 <= limit <= 100 or offset < 0:
        raise ApiError("limit must be 1-100 and offset 0 or more", error_code="invalid_input")
    async with ctx.db.reads() as s:
        total = (
            await s.execute(select(func.count()).select_from(import_batches).where(import_batches.c.tenant_id == tenant_id))
        ).scalar_one()
        rows = (
            await s.execute(
                select(import_batches)
                .where(import_batches.c.tenant_id == tenant_id)
                .order_by(import_batches.c.pk.desc())
                .limit(limit)
                .offset(offset)
            )
        ).mappings()
        data = [import_view(r) for r in rows]
    return ImportList(data=data, total=total, has_more=offset + len(data) < total, url="/v1/imports")


async def error_report(ctx: Context, tenant_id: str, import_id: str) -> tuple[str, str]:
    """(filename, CSV text): the rejected lines with their problems and original cells."""
    async with ctx.db.reads() as s:
        batch = await get_row(s, import_batches, tenant_id, import_id, "import")
        stored = (
            await s.execute(
                select(import_rejects.c.line, import_rejects.c.cells, import_rejects.c.errors)
                .where(import_rejects.c.tenant_id == tenant_id, import_rejects.c.import_id == import_id)
                .order_by(import_rejects.c.line)
            )
        ).all()
    # the rejected lines only: a line kept for its warnings (implausible pay) was not rejected
    only_errors = [(line, cells, [e for e in found if not e.get("warning")]) for line, cells, found in stored]
    rejects = [(line, cells, errors) for line, cells, errors in only_errors if errors]
    width = max([len(batch["headers"]), *(len(cells) for _, cells, _ in rejects)])
    columns = [*batch["headers"], *(f"Column {i + 1}" for i in range(len(batch["headers"]), width))]
    body = ([line, "; ".join(f"{e['column']}: {e['reason']}" for e in errors), *cells] for line, cells, errors in rejects)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", batch["filename"].rsplit(".", 1)[0])[:80] or "import"
    return f"{stem}-errors.csv", write_csv(["Line", "Errors", *columns], body)


def _unseal(ctx: Context, sealed: bytes) -> bytes:
    return ctx.tax_ids.decrypt(sealed.decode()).encode("latin-1")


@dataclass(frozen=True)
class _CheckedFile:
    parsed: ParsedFile
    #: per data row: the validated row, or its problems
    results: list[ImportRow | list[RowError]]
    bad_total: int
    #: row index -> the warnings of a valid row (implausible pay)
    warnings: dict[int, list[RowError]]


def _check_rows(content: bytes, today: date) -> _CheckedFile:
    """Read and validate every row of an accepted upload (pure; run in a thread)."""
    parsed = parse_file(content, max_rows=10**9)
    results = [parse_row(line, cells, parsed.headers, today) for line, cells in parsed.rows]
    warnings = {
        i: found for i, r in enumerate(results) if isinstance(r, ImportRow) and (found := row_warnings(r, parsed.headers))
    }
    return _CheckedFile(parsed, results, sum(1 for r in results if not isinstance(r, ImportRow)), warnings)


@dataclass
class _Claim:
    batch: dict[str, Any]
    attempt: int


class ImportWorker:
    """Applies pending imports in the background (run in worker/all processes): bootstrap runs
    `step` on the kit's `PollingWorker`, woken by each upload (``ctx.import_wakeup``)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.settings = ctx.settings.imports

    async def step(self) -> float | None:
        """The polling worker's step (bootstrap runs it): apply one import; 0 (at once again) if
        there was one, else None (the idle interval, unless an upload wakes the worker)."""
        return 0 if await self.run_once() else None

    async def run_once(self) -> bool:
        """Claim and apply one import. False when there was nothing to do."""
        claim = await self._claim()
        if claim is None:
            return False
        uploader = actor.set(claim.batch.get("actor"))  # what the import changes, its uploader asked for
        try:
            with IMPORTS_RUNNING.track_inprogress():
                await self._apply(claim)
        except _LostLease:
            log.warning("imports.lease_lost", import_id=claim.batch["id"])
        except Exception as e:
            log.exception("imports.failed_attempt", import_id=claim.batch["id"], attempt=claim.attempt, error=repr(e))
            async with self.ctx.db.uow() as uow:  # hand it back; attempts count towards the limit
                await uow.session.execute(
                    update(import_batches)
                    .where(import_batches.c.id == claim.batch["id"], import_batches.c.attempts == claim.attempt)
                    .values(status="pending", claimed_at=None)
                )
                await uow.commit()
        finally:
            actor.reset(uploader)
        return True

    async def _claim(self) -> _Claim | None:
        now = self.ctx.now()
        stale = now - timedelta(seconds=self.settings.lease_s)
        async with self.ctx.db.uow() as uow:
            row = (
                (
                    await uow.session.execute(
                        select(import_batches)
                        .where(
                            or_(
                                import_batches.c.status == "pending",
                                (import_batches.c.status == "running") & (import_batches.c.claimed_at < stale),
                            )
                        )
                        .order_by(import_batches.c.pk)
                        .limit(1)
                        .with_for_update(skip_locked=True)
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                return None
            batch = dict(row)
            if batch["attempts"] >= self.settings.max_attempts:
                await self._finish(uow, batch, status="failed", error="The import failed repeatedly and was stopped")
                await uow.commit()
                IMPORTS_FINISHED.labels("failed").inc()
                return None
            attempt = batch["attempts"] + 1
            await uow.session.execute(
                update(import_batches)
                .where(import_batches.c.id == batch["id"])
                .values(status="running", claimed_at=now, attempts=attempt, started_at=batch["started_at"] or now)
            )
            await uow.commit()
        batch.update(status="running", attempts=attempt)
        return _Claim(batch, attempt)

    async def _apply(self, claim: _Claim) -> None:
        ctx, batch = self.ctx, claim.batch
        content = await self._content(batch["id"])
        if content is None:
            await self._fail(batch, "The uploaded file is missing")
            return
        try:
            checked = await asyncio.to_thread(_check_rows, content, ctx.today())
        except CsvFileError as e:
            await self._fail(batch, e.message)
            return
        if batch["all_or_nothing"] and checked.bad_total:
            await self._reject_file(claim, checked)
            return
        if checked.warnings and batch["warnings_decision"] is None:
            await self._ask_confirmation(claim, checked)
            return
        await self._apply_chunks(claim, checked)
        await self._complete(claim)
        log.info("imports.completed", import_id=batch["id"], rows=len(checked.results), rows_failed=checked.bad_total)

    async def _content(self, import_id: str) -> bytes | None:
        """The uploaded file, decrypted; None if it is gone."""
        async with self.ctx.db.session() as s:
            sealed = (await s.execute(select(import_files.c.content).where(import_files.c.import_id == import_id))).scalar()
        return None if sealed is None else await asyncio.to_thread(_unseal, self.ctx, bytes(sealed))

    async def _fail(self, batch: dict[str, Any], error: str) -> None:
        async with self.ctx.db.uow() as uow:
            await self._finish(uow, batch, status="failed", error=error)
            await uow.commit()
        IMPORTS_FINISHED.labels("failed").inc()

    async def _reject_file(self, claim: _Claim, checked: _CheckedFile) -> None:
        """All or nothing, and some rows are bad: report them all and import nothing."""
        batch, results, bad_total = claim.batch, checked.results, checked.bad_total
        async with self.ctx.db.uow() as uow:
            await self._reject(uow, batch["tenant_id"], batch["id"], checked.parsed, results, 0, len(results))
            await self._progress(uow, claim, rows_done=len(results), rows_failed=bad_total, valid=0, counters=ChunkResult())
            error = f"{bad_total} row(s) have problems; nothing was imported (all or nothing)"
            await self._finish(uow, batch, status="failed", error=error)
            await uow.commit()
        IMPORTS_FINISHED.labels("failed").inc()
        IMPORT_ROWS.labels("failed").inc(bad_total)
        IMPORT_ROWS.labels("skipped").inc(len(results) - bad_total)
        log.info("imports.rejected", import_id=batch["id"], rows_failed=bad_total)

    async def _ask_confirmation(self, claim: _Claim, checked: _CheckedFile) -> None:
        """Implausible pay: list the warned rows and wait for the user's word, importing nothing
        (the file stays until the import finishes)."""
        batch = claim.batch
        rows = [
            {
                "tenant_id": batch["tenant_id"],
                "import_id": batch["id"],
                "line": checked.parsed.rows[i][0],
                "cells": self._masked_cells(checked.parsed, i),
                "errors": [{"column": w.column, "reason": w.reason, "value": w.value, "warning": True} for w in found],
            }
            for i, found in checked.warnings.items()
        ]
        async with self.ctx.db.uow() as uow:
            await uow.session.execute(insert_ignore(import_rejects, uow.db.dialect), rows)
            result = await uow.session.execute(
                update(import_batches)
                .where(import_batches.c.id == batch["id"], import_batches.c.attempts == claim.attempt)
                .values(status="needs_confirmation", rows_warned=len(rows), claimed_at=None)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                raise _LostLease()
            await uow.commit()
        log.info("imports.needs_confirmation", import_id=batch["id"], rows_warned=len(rows))

    async def _apply_chunks(self, claim: _Claim, checked: _CheckedFile) -> None:
        """The rows from where the last attempt stopped, a chunk per transaction with its progress."""
        ctx, batch, results = self.ctx, claim.batch, checked.results
        tenant_id, import_id = batch["tenant_id"], batch["id"]
        step = max(1, self.settings.chunk_rows)
        done = batch["rows_done"]
        dropped = set(checked.warnings) if batch["warnings_decision"] == "drop" else set()
        while done < len(results):
            end = min(done + step, len(results))
            chunk = results[done:end]
            good = [r for i, r in enumerate(chunk, start=done) if isinstance(r, ImportRow) and i not in dropped]
            bad = sum(1 for r in chunk if not isinstance(r, ImportRow))
            async with ctx.db.uow() as uow:
                counters = await apply_rows(uow, ctx, tenant_id, good, batch_id=import_id)
                await self._reject(uow, tenant_id, import_id, checked.parsed, results, done, end)
                await self._progress(uow, claim, rows_done=end, rows_failed=bad, valid=len(good), counters=counters)
                await uow.commit()
            IMPORT_ROWS.labels("imported").inc(len(good))
            IMPORT_ROWS.labels("failed").inc(len(chunk) - len(good))
            done = end
            await asyncio.sleep(0)  # let the API breathe between chunks

    async def _complete(self, claim: _Claim) -> None:
        """Mark the import completed with its count of assignments missing a PO, and announce it
        unless it changed nothing."""
        tenant_id, import_id = claim.batch["tenant_id"], claim.batch["id"]
        async with self.ctx.db.uow() as uow:
            current = await get_row(uow.session, import_batches, tenant_id, import_id, "import")
            missing = (
                await uow.session.execute(
                    select(func.count())
                    .select_from(assignments)
                    .where(
                        assignments.c.tenant_id == tenant_id,
                        assignments.c.import_batch_id == import_id,
                        assignments.c.po_number.is_(None),
                        assignments.c.status == "pending",
                        assignments.c.deleted_at.is_(None),
                    )
                )
            ).scalar_one()
            current["assignments_missing_po"] = missing
            await self._finish(uow, current, status="completed", extra={"assignments_missing_po": missing})
            if any(current[c] for c in _COUNTERS):
                uow.emit(
                    ImportCompletedV1(
                        import_batch_id=import_id,
                        filename=current["filename"],
                        rows_total=current["rows_total"],
                        rows_imported=current["rows_imported"],
                        rows_failed=current["rows_failed"],
                        contractors_created=current["contractors_created"],
                        assignments_created=current["assignments_created"],
                        assignments_missing_po=missing,
                        uploaded_by=current["uploaded_by"],
                    ),
                    tenant_id=tenant_id,
                    aggregate_id=import_id,
                    aggregate_version=1,
                )
            await uow.commit()
        IMPORTS_FINISHED.labels("completed").inc()

    async def _reject(
        self,
        uow: Any,
        tenant_id: str,
        import_id: str,
        parsed: ParsedFile,
        results: list[ImportRow | list[RowError]],
        start: int,
        end: int,
    ) -> None:
        rows = []
        for i in range(start, end):
            problems = results[i]
            if isinstance(problems, ImportRow):
                continue
            rows.append(
                {
                    "tenant_id": tenant_id,
                    "import_id": import_id,
                    "line": parsed.rows[i][0],
                    "cells": self._masked_cells(parsed, i),
                    "errors": [{"column": e.column, "reason": e.reason, "value": e.value} for e in problems],
                }
            )
        if rows:
            await uow.session.execute(insert_ignore(import_rejects, uow.db.dialect), rows)

    @staticmethod
    def _masked_cells(parsed: ParsedFile, i: int) -> list[str]:
        """Row ``i``'s cells as stored and reported: a tax id never lands in clear text."""
        tax_column = parsed.headers.index.get("tax_identification")
        cells = list(parsed.rows[i][1])
        if tax_column is not None and tax_column < len(cells) and cells[tax_column].strip():
            cells[tax_column] = mask_tax_id(cells[tax_column]) or ""
        return cells

    async def _progress(
        self, uow: Any, claim: _Claim, *, rows_done: int, rows_failed: int, valid: int, counters: ChunkResult
    ) -> None:
        """A chunk's progress: of its ``valid`` rows, those that changed something are imported,
        the rest unchanged."""
        batch = import_batches.c
        result = await uow.session.execute(
            update(import_batches)
            .where(batch.id == claim.batch["id"], batch.attempts == claim.attempt, batch.status == "running")
            .values(
                rows_done=rows_done,
                rows_failed=batch.rows_failed + rows_failed,
                rows_imported=batch.rows_imported + counters.rows_changed,
                rows_unchanged=batch.rows_unchanged + (valid - counters.rows_changed),
                contractors_created=batch.contractors_created + counters.contractors_created,
                contractors_updated=batch.contractors_updated + counters.contractors_updated,
                assignments_created=batch.assignments_created + counters.assignments_created,
                assignments_updated=batch.assignments_updated + counters.assignments_updated,
                claimed_at=self.ctx.now(),
            )
        )
        if not result.rowcount:
            raise _LostLease()

    async def _finish(
        self, uow: Any, batch: dict[str, Any], *, status: str, error: str | None = None, extra: dict[str, Any] | None = None
    ) -> None:
        await uow.session.execute(
            update(import_batches)
            .where(import_batches.c.id == batch["id"])
            .values(status=status, error=error, finished_at=self.ctx.now(), claimed_at=None, **(extra or {}))
        )
        await uow.session.execute(delete(import_files).where(import_files.c.import_id == batch["id"]))


class _LostLease(Exception):
    """Another worker took the import over (this one was too slow); stop without writing."""
