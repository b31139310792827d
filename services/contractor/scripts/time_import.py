"""Local timing check (not a test, not the lead's benchmark): how long a 10,000-row CSV takes from
upload to every contractor and assignment committed, on PostgreSQL, with the relay publishing to
a private nats-server meanwhile (as in ``python -m contractor all``).

    .venv/bin/python services/contractor/scripts/time_import.py [rows] [repeats]

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust) or TEST_DATABASE_URL.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))

from contractor.adapters.db import assignments, contractors
from contractor.bootstrap import definition
from contractor_testkit import csv_bytes, csv_row
from ten99_testing.nats_server import NatsServerProcess
from ten99_testing.plugin import create_database, drop_database
from ten99_testing.service import running_service
from ten99kit.clock import SettableClock

POSTGRES = os.environ.get("TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")


async def once(rows: int, nats_url: str) -> dict[str, float]:
    url = await create_database(POSTGRES, "timing")
    clock = SettableClock()
    clock.set(datetime(2026, 11, 2, 15, tzinfo=UTC))
    content = csv_bytes(
        [
            csv_row(i, **{"Ultimate Client Name": f"Client {i % 50}", "PO Number": "PO-1" if i % 3 == 0 else ""})
            for i in range(rows)
        ]
    )
    try:
        async with running_service(
            definition, database_url=url, nats_url=nats_url, clock=clock, imports={"poll_interval_s": 0.05}
        ) as svc:
            svc.client.headers["x-tenant-id"] = "co_timing"
            started = time.perf_counter()
            r = await svc.client.post("/v1/imports", files={"file": ("big.csv", content, "text/csv")})
            accepted = time.perf_counter() - started
            import_id = r.json()["id"]
            while True:
                body = (await svc.client.get(f"/v1/imports/{import_id}", params={"errors_limit": 0})).json()
                if body["status"] in ("completed", "failed"):
                    break
                await asyncio.sleep(0.02)
            committed = time.perf_counter() - started
            async with svc.db.session() as s:
                n_c = (await s.execute(select(func.count()).select_from(contractors))).scalar_one()
                n_a = (await s.execute(select(func.count()).select_from(assignments))).scalar_one()
            assert body["status"] == "completed" and n_c == rows and n_a == rows, (body, n_c, n_a)
            await svc.settle(timeout=120)
            published = time.perf_counter() - started
            # the pages that read what was imported, and one PO set on 1,000 assignments
            t = time.perf_counter()
            await svc.client.get("/v1/roster", params={"limit": 50, "q": "first12"})
            roster = time.perf_counter() - t
            t = time.perf_counter()
            missing = (await svc.client.get("/v1/po/missing", params={"limit": 1000})).json()
            missing_s = time.perf_counter() - t
            ids = [a["assignment_id"] for a in missing["assignments"]]
            t = time.perf_counter()
            r = await svc.client.post(
                "/v1/po/bulk-set", json={"assignment_ids": ids, "po_number": "PO-9", "po_contact_email": "a@b.co"}
            )
            bulk = time.perf_counter() - t
            assert r.json()["updated"] == len(ids) == 1000, r.text
            return {
                "upload_202_s": accepted,
                "committed_s": committed,
                "outbox_published_s": published,
                "roster_page_s": roster,
                "missing_po_1000_s": missing_s,
                "bulk_po_1000_s": bulk,
            }
    finally:
        await drop_database(POSTGRES, url)


async def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with tempfile.TemporaryDirectory() as store, NatsServerProcess(Path(store)) as nats:
        for i in range(repeats):
            result = await once(rows, nats.url)
            print(f"run {i + 1}: {rows} rows " + ", ".join(f"{k}={v:.2f}" for k, v in result.items()), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
