"""Import progress metrics, from the import worker applying real files on PostgreSQL: rows by
outcome as each chunk commits, the imports being applied, and the imports finished by status."""

from __future__ import annotations

from typing import Any

import pytest
from contractor.application import imports
from contractor.application.imports import ImportWorker
from contractor_testkit import csv_bytes, csv_row, upload
from prometheus_client import REGISTRY
from ten99_testing.service import RunningService

pytestmark = pytest.mark.integration


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def snapshot() -> dict[str, float]:
    return {
        "imported": value("ten99_import_rows_total", outcome="imported"),
        "failed": value("ten99_import_rows_total", outcome="failed"),
        "skipped": value("ten99_import_rows_total", outcome="skipped"),
        "completed": value("ten99_imports_finished_total", status="completed"),
        "import_failed": value("ten99_imports_finished_total", status="failed"),
    }


def delta(before: dict[str, float]) -> dict[str, float]:
    after = snapshot()
    return {k: after[k] - before[k] for k in after}


def the_worker(svc: RunningService) -> ImportWorker:
    polling = svc.runtime.parts.background[0].__self__  # type: ignore[attr-defined]
    return ImportWorker(polling.step.__self__.ctx)


async def test_rows_are_counted_per_chunk_and_the_import_is_in_progress_while_applied(
    svc_by_hand: RunningService, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [csv_row(i) for i in range(7)]
    rows[2] = csv_row(2, Email="nope")
    await upload(svc_by_hand, csv_bytes(rows))
    before = snapshot()

    real = imports.apply_rows
    seen: list[tuple[float, float]] = []

    async def observed(*args: Any, **kwargs: Any) -> Any:
        # what a scrape would see while a chunk is applied: one import running, earlier chunks counted
        seen.append((value("ten99_imports_in_progress"), value("ten99_import_rows_total", outcome="imported")))
        return await real(*args, **kwargs)

    monkeypatch.setattr(imports, "apply_rows", observed)
    assert await the_worker(svc_by_hand).run_once() is True

    # chunks of 3 rows: [0,1,bad], [3,4,5], [6]
    imported_before = before["imported"]
    assert seen == [(1, imported_before), (1, imported_before + 2), (1, imported_before + 5)]
    assert value("ten99_imports_in_progress") == 0
    assert delta(before) == {"imported": 6, "failed": 1, "skipped": 0, "completed": 1, "import_failed": 0}


async def test_an_all_or_nothing_file_with_a_bad_row_counts_its_good_rows_as_skipped(svc_by_hand: RunningService) -> None:
    await upload(svc_by_hand, csv_bytes([csv_row(1), csv_row(2, Email="nope"), csv_row(3)]), all_or_nothing=True)
    before = snapshot()
    assert await the_worker(svc_by_hand).run_once() is True
    assert delta(before) == {"imported": 0, "failed": 1, "skipped": 2, "completed": 0, "import_failed": 1}
    assert value("ten99_imports_in_progress") == 0
