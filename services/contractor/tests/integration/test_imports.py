"""Bulk CSV import through the API on PostgreSQL + NATS: good and bad rows, progress, the error
report, all-or-nothing, re-uploading (adds and emits nothing), limits, and a crashed worker
resuming where the last committed chunk ended."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from contractor.adapters.db import contractors, import_batches, import_files, import_rejects
from contractor.application import intake
from contractor.application.imports import ImportWorker
from contractor_testkit import (
    CSV_HEADER,
    OTHER_TENANT,
    csv_bytes,
    csv_row,
    finished_import,
    make_entity,
    subjects,
    upload,
)
from sqlalchemy import select
from ten99_testing import quiescent
from ten99_testing.service import RunningService
from ten99kit.clock import SettableClock
from ten99kit.workers import PollingWorker

pytestmark = pytest.mark.integration


def the_file() -> bytes:
    return csv_bytes(
        [
            csv_row(1, **{"PO Number": "PO-1", "PO Contact Email": "ap@nike.com"}),  # line 2
            csv_row(2),  # line 3
            csv_row(1, Email="PERSON1@Example.com", **{"Job Title": "Photographer", "Brief Job Description": "Lookbook"}),  # 4
            csv_row(4, Email='=HYPERLINK("http://evil","x")'),  # line 5: bad email, formula-like
            csv_row(5, **{"Start Date": "10/01/2026"}),  # line 6: start in the past
            csv_row(3, **{"Ultimate Client Name": " nike "}),  # line 7: the same end client
            csv_row(2),  # line 8: line 3 again
            csv_row(6, Wage="free", State="Narnia"),  # line 9: two problems
        ],
        bom=True,
    )


async def test_csv_import_end_to_end(svc: RunningService, stream: Any) -> None:
    c = svc.client
    nike = await make_entity(svc, "NIKE", required_coverage=["general"])

    r = await upload(svc, the_file())
    assert r.status_code == 202, r.text
    accepted = r.json()
    assert accepted["id"].startswith("ib_") and accepted["rows_total"] == 8 and accepted["status"] == "pending"
    done = await finished_import(svc, accepted["id"])
    assert done["status"] == "completed", done
    assert {k: done[k] for k in ("rows_total", "rows_done", "rows_failed", "rows_imported", "rows_unchanged")} == {
        "rows_total": 8,
        "rows_done": 8,
        "rows_failed": 3,
        "rows_imported": 4,
        "rows_unchanged": 1,  # line 8 repeats line 3
    }
    assert (done["contractors_created"], done["assignments_created"], done["assignments_missing_po"]) == (3, 4, 3)
    assert done["uploaded_by"] == "ops@example.com" and done["error_report_url"].endswith("/errors.csv")
    assert [(e["line"], e["column"]) for e in done["errors"]] == [
        (5, "Email"),
        (6, "Start Date"),
        (9, "State"),
        (9, "Wage"),
    ]
    assert "in the past" in done["errors"][1]["reason"]

    # contractors upserted by email (case-insensitive), the end client matched by name, one job per natural key
    people = (await c.get("/v1/contractors", params={"limit": 100})).json()["data"]
    assert sorted(p["email"] for p in people) == ["person1@example.com", "person2@example.com", "person3@example.com"]
    assert [e["id"] for e in (await c.get("/v1/entities")).json()["data"]] == [nike["id"]]
    jobs = (await c.get("/v1/jobs", params={"limit": 100})).json()["data"]
    assert sorted(j["category_code"] for j in jobs) == ["jc_creator", "jc_photographer"]
    assert all(j["wage"] == 250_000 and j["wage_type"] == "flatfee" for j in jobs)
    person1 = next(p for p in people if p["email"] == "person1@example.com")
    assert person1["address"]["line1"] == "1 Mission St, Unit 1"
    profile = (await c.get(f"/v1/contractors/{person1['id']}/assignments")).json()["data"]
    assert sorted((a["job"]["category_code"], a["po_number"]) for a in profile) == [
        ("jc_creator", "PO-1"),
        ("jc_photographer", None),
    ]
    assert profile[0]["entity"]["name"] == "NIKE" and profile[0]["coverage_types"] == ["general"]

    # the error report: bad lines with their problems and original cells, formulas neutralised
    report = await c.get(f"/v1/imports/{accepted['id']}/errors.csv")
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/csv")
    assert "attachment" in report.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(report.text)))
    assert rows[0] == ["Line", "Errors", *CSV_HEADER]
    assert [r[0] for r in rows[1:]] == ["5", "6", "9"]
    assert rows[1][2 + CSV_HEADER.index("Email")] == '\'=HYPERLINK("http://evil","x")'
    assert "State:" in rows[3][1] and "Wage:" in rows[3][1]

    # messages on JetStream: one snapshot per new contractor and assignment, the PO, the completion
    await quiescent(svc)
    msgs = await stream.messages()
    names = subjects(msgs)
    assert names.count("contractor_registered") == 3 and names.count("assignment_created") == 4
    assert names.count("po_number_set") == 1 and names[-1] == "import_completed"
    # each new job announced once, before the assignments that name it
    jobs_upserted = [m for s, m in msgs if s.endswith("job_upserted.v1")]
    assert sorted(m["data"]["name"] for m in jobs_upserted) == ["Content creator", "Photographer"]
    assert all(m["data"]["source"] == "csv" and m["data"]["created"] and m["aggregate_version"] == 1 for m in jobs_upserted)
    assert all(m["data"]["entity"]["entity_id"] == nike["id"] for m in jobs_upserted)
    assert names.index("job_upserted") < names.index("assignment_created")
    created = [m["data"] for s, m in msgs if s.endswith("assignment_created.v1")]
    assert all(d["import_batch_id"] == accepted["id"] and d["source"] == "csv" for d in created)
    assert all(d["job"]["entity"]["entity_id"] == nike["id"] for d in created)
    completed = msgs[-1][1]["data"]
    assert completed == {
        "import_batch_id": accepted["id"],
        "filename": "people.csv",
        "rows_total": 8,
        "rows_imported": 4,
        "rows_failed": 3,
        "contractors_created": 3,
        "assignments_created": 4,
        "assignments_missing_po": 3,
        "uploaded_by": "ops@example.com",
    }

    # the same file again adds nothing and emits nothing, and says so: every valid row unchanged
    again = await finished_import(svc, (await upload(svc, the_file())).json()["id"])
    assert (again["status"], again["rows_imported"], again["rows_unchanged"], again["contractors_created"]) == (
        "completed",
        0,
        5,
        0,
    )
    assert again["assignments_created"] == 0
    await quiescent(svc)
    assert len(await stream.messages()) == len(msgs)

    # a later file bringing a PO and a new phone updates in place
    update = csv_bytes([csv_row(2, **{"PO Number": "PO-2", "PO Contact Email": "ap@nike.com"}), csv_row(3, Phone="212-555-0199")])
    third = await finished_import(svc, (await upload(svc, update)).json()["id"])
    assert (third["assignments_created"], third["assignments_updated"], third["contractors_updated"]) == (0, 1, 1)
    await quiescent(svc)
    later = subjects((await stream.messages())[len(msgs) :])
    assert sorted(later) == ["contractor_updated", "import_completed", "po_number_set"]

    # imports are the company's own
    other = {"x-tenant-id": OTHER_TENANT}
    assert (await c.get(f"/v1/imports/{accepted['id']}", headers=other)).status_code == 404
    assert (await c.get(f"/v1/imports/{accepted['id']}/errors.csv", headers=other)).status_code == 404
    assert (await c.get("/v1/imports", headers=other)).json()["data"] == []
    assert [i["id"] for i in (await c.get("/v1/imports")).json()["data"]][-1] == accepted["id"]


async def test_all_or_nothing_imports_none_when_a_row_is_bad(svc: RunningService, stream: Any) -> None:
    bad = csv_bytes([csv_row(1), csv_row(2, **{"End Date": "2028-01-01"}), csv_row(3)])
    done = await finished_import(svc, (await upload(svc, bad, all_or_nothing=True)).json()["id"])
    assert done["status"] == "failed" and "nothing was imported" in done["error"]
    assert (done["rows_failed"], done["rows_imported"], done["assignments_created"]) == (1, 0, 0)
    assert [(e["line"], e["column"]) for e in done["errors"]] == [(3, "End Date")]
    assert (await svc.client.get("/v1/contractors")).json()["data"] == []
    await quiescent(svc)
    assert await stream.messages() == []

    good = csv_bytes([csv_row(1), csv_row(3)])
    done = await finished_import(svc, (await upload(svc, good, all_or_nothing=True)).json()["id"])
    assert (done["status"], done["rows_imported"], done["assignments_created"]) == ("completed", 2, 2)


async def test_files_refused_at_upload_get_a_clear_4xx_and_store_nothing(svc: RunningService) -> None:
    settings = svc.runtime.parts.dependencies["ctx"].settings
    settings.imports.max_rows = 3
    settings.imports.max_file_bytes = 4_000

    r = await upload(svc, csv_bytes([csv_row(i) for i in range(4)]))
    assert (r.status_code, r.json()["error_code"]) == (413, "invalid_file_size") and "at most 3" in r.json()["message"]
    r = await upload(svc, csv_bytes([csv_row(1)]) + b"x" * 5_000)
    assert (r.status_code, r.json()["error_code"]) == (413, "invalid_file_size")
    header = [h for h in CSV_HEADER if h not in ("Email", "Zip")]
    r = await upload(svc, csv_bytes([csv_row(1)], header=header))
    assert (r.status_code, r.json()["error_code"]) == (400, "invalid_input")
    assert "Email" in r.json()["message"] and "Postal code" in r.json()["message"]
    r = await upload(svc, csv_bytes([csv_row(1, **{"First Name": "Zoë"})]).decode().encode("latin-1"))
    assert (r.status_code, r.json()["error_code"]) == (400, "invalid_file_type")
    r = await upload(svc, csv_bytes([]))
    assert (r.status_code, r.json()["error_code"]) == (400, "invalid_input")
    r = await svc.client.post("/v1/imports", data={"all_or_nothing": "false"}, files={"other": ("x.csv", b"a", "text/csv")})
    assert r.status_code == 400
    assert (await svc.client.get("/v1/imports")).json()["data"] == []


def _import_worker(svc: RunningService) -> ImportWorker:
    """The service's import worker (bootstrap runs its step on a kit `PollingWorker`)."""
    polling = svc.runtime.parts.background[0].__self__  # type: ignore[attr-defined]
    assert isinstance(polling, PollingWorker) and polling.name == "imports"
    running = polling.step.__self__  # type: ignore[attr-defined]
    assert isinstance(running, ImportWorker)
    return running


async def test_a_worker_that_dies_mid_import_is_taken_over_and_nothing_is_lost_or_doubled(
    svc_by_hand: RunningService, stream: Any, clock: SettableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = svc_by_hand  # its own worker does not run: this test drives workers by hand
    running = _import_worker(svc)
    worker = ImportWorker(running.ctx)

    rows = [csv_row(i) for i in range(10)]
    rows[4] = csv_row(4, Email="nope")  # line 6
    accepted = (await upload(svc, csv_bytes(rows))).json()

    real = intake.apply_rows
    calls = {"n": 0}

    async def dies_in_the_third_chunk(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise asyncio.CancelledError()  # as if the process were killed: no clean-up runs
        return await real(*args, **kwargs)

    monkeypatch.setattr("contractor.application.imports.apply_rows", dies_in_the_third_chunk)
    with pytest.raises(asyncio.CancelledError):
        await worker.run_once()
    progress = (await svc.client.get(f"/v1/imports/{accepted['id']}")).json()
    assert (progress["status"], progress["rows_done"], progress["rows_failed"]) == ("running", 6, 1)

    # while the dead worker's lease lasts nobody takes the import; after it, another worker does
    assert await worker.run_once() is False
    clock.advance(timedelta(seconds=61))
    monkeypatch.setattr("contractor.application.imports.apply_rows", real)
    assert await ImportWorker(running.ctx).run_once() is True

    done = (await svc.client.get(f"/v1/imports/{accepted['id']}")).json()
    assert (done["status"], done["rows_done"], done["rows_failed"], done["rows_imported"]) == ("completed", 10, 1, 9)
    assert (done["contractors_created"], done["assignments_created"]) == (9, 9)
    assert [(e["line"], e["column"]) for e in done["errors"]] == [(6, "Email")]
    async with svc.db.session() as s:
        attempts = (await s.execute(select(import_batches.c.attempts).where(import_batches.c.id == accepted["id"]))).scalar()
    assert attempts == 2
    await svc.runtime.relay.drain()
    names = subjects(await stream.messages())
    assert names.count("contractor_registered") == 9 and names.count("assignment_created") == 9
    assert names.count("import_completed") == 1


async def test_tax_ids_in_a_file_are_never_stored_or_reported_in_clear(svc_by_hand: RunningService) -> None:
    svc = svc_by_hand  # the worker is driven by hand, to look at the stored upload first
    running = _import_worker(svc)
    header = [*CSV_HEADER, "SSN"]
    content = csv_bytes([csv_row(1, SSN="123-45-6789"), csv_row(2, SSN="987654321", Email="bad")], header=header)
    accepted = (await upload(svc, content)).json()
    async with svc.db.session() as s:
        stored = bytes((await s.execute(select(import_files.c.content))).scalar_one())
    assert b"123-45-6789" not in stored and b"987654321" not in stored and b"person1@example.com" not in stored

    assert await ImportWorker(running.ctx).run_once() is True
    done = (await svc.client.get(f"/v1/imports/{accepted['id']}")).json()
    assert (done["status"], done["rows_imported"], done["rows_failed"]) == ("completed", 1, 1)
    person = (await svc.client.get("/v1/contractors", params={"email": "person1@example.com"})).json()["data"][0]
    assert person["tax_identification"] == "***-**-6789"
    report = (await svc.client.get(f"/v1/imports/{accepted['id']}/errors.csv")).text
    assert "987654321" not in report and "***-**-4321" in report
    async with svc.db.session() as s:
        encrypted = (await s.execute(select(contractors.c.tax_id_encrypted))).scalars().all()
        cells = (await s.execute(select(import_rejects.c.cells))).scalars().all()
        left = (await s.execute(select(import_files.c.import_id))).all()
    assert encrypted and all("6789" not in str(e) for e in encrypted)
    assert cells and all("987654321" not in str(c) for c in cells)
    assert left == []  # the upload is deleted once imported
